"""Schemathesis against the app's own OpenAPI, in process, with a Chairman token: no 500s, no off-schema answers.

Every operation gets `EXAMPLES` generated requests (Hypothesis, derandomized: the same cases every run),
on SQLite and PostgreSQL, judged by every Schemathesis check, `positive_data_acceptance` included: a
request the document calls valid is never refused with a 422. What the engine refuses on facts no schema
states is a 404 (a venture, criterion, role or cause that does not exist) or a 409 (a venture in the wrong
state, a reserved name). Four operations keep rules the document cannot state — what the workflow
declares for a metric or an artifact, arithmetic between fields (`CROSS_FIELD`); they are judged by
every other check. The longer run sets
`VENTUREGATE_SCHEMATHESIS_EXAMPLES` (docs/api.md).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.result import Ok

from tests.conftest import CHAIR
from venturegate.api import create_app
from venturegate.engine import Engine

CROSS_FIELD = {
    "POST /api/metrics": "a value in its metric's declared range and unit, a time in the plausible window",
    "POST /api/ventures/{venture}/artifacts/{name}": "the content matches the artifact's JSON Schema in the workflow",
    "POST /api/ventures/{venture}/experiments": "the minimum detectable effect must keep baseline × (1 + mde) below 1",
    "POST /api/ventures/{venture}/experiments/{test}/days": "conversions, clicks and leads at most the exposures",
}
"""Operations whose bodies obey rules the OpenAPI document cannot state (the workflow's declarations, arithmetic
between fields; docs/api.md): a 422 for them is right, so `positive_data_acceptance` is left out for these alone."""
EXAMPLES = int(os.environ.get("VENTUREGATE_SCHEMATHESIS_EXAMPLES", "20"))


def _seed(engine: Engine) -> str:
    """A venture with a sample, an attestation and a pending approval, so that reads find data; a token.

    `doomed` takes the pauses and kills, so that `acme` stays active and writes to it reach the engine's checks.
    """
    secret = engine.create_token("fuzz", "chairman", actor=CHAIR)[1]
    engine.create_venture("doomed", "b2b_smb", 2, actor=CHAIR)
    v = engine.create_venture("acme", "b2b_smb", 2, actor=CHAIR)
    engine.attest(v.id, "Budget approved", actor=CHAIR)
    engine.record_sample(v.id, "latency_ms", 1500, actor=CHAIR, key="k1")
    engine.request_approval(v.id, "chairman", actor=CHAIR, reason="ship it")
    return secret


def _aim(case: schemathesis.Case[Any], data: st.DataObject) -> None:
    """Point half the cases at things that exist, so that random bodies reach the engine, not only a 404."""
    if not data.draw(st.booleans()):
        return
    params = case.path_parameters or {}
    target = "doomed" if case.operation.path.endswith(("/pause", "/kill")) else "acme"
    for name, value in (("venture", target), ("approval_id", 1), ("ident", "1"), ("stage", 2), ("name", "idea_brief")):
        if name in params:
            params[name] = value
    if isinstance(case.body, dict) and "venture" in case.body:
        case.body["venture"] = "acme"
    samples = case.body.get("samples") if isinstance(case.body, dict) else None
    if isinstance(samples, list):
        for item in samples:
            if isinstance(item, dict):
                item["venture"] = "acme"


@pytest.mark.slow
def test_api_conforms_to_its_schema(engine: Engine) -> None:
    headers = {"Authorization": f"Bearer {_seed(engine)}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(engine))
    # The API's own operations; the optional packages (dashboard, /metrics) test their own routes.
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), [r for r in results if not isinstance(r, Ok)]
    operations = [r.ok() for r in results if isinstance(r, Ok) and r.ok().path.startswith("/api/")]
    assert len(operations) > 40
    for operation in operations:

        @given(case=operation.as_strategy(), data=st.data())
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case[Any], data: st.DataObject) -> None:
            _aim(case, data)
            excluded = [positive_data_acceptance] if case.operation.label in CROSS_FIELD else []
            case.call_and_validate(headers=headers, excluded_checks=excluded)

        check()
