"""19.1 on the project's own target APIs: every planted defect found by one run, nothing on a clean API, the same
findings on every seeded run, chains on created data, undeclared methods only on request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.crews.conftest import LEAD
from tests.crews.stage19_targets import CATALOG_KEY, LEDGER_TOKEN, Target, catalog, clean, defective, ledger
from venturegate.crews.base import CrewContext
from venturegate.crews.stage19._http import Client
from venturegate.crews.stage19.apitester import IntegrationResult, run_apitester
from venturegate.crews.stage19.inputs import CredentialRef, Credentials, Integration
from venturegate.engine import Actor, Engine
from venturegate.engine.secrets import SecretGrant, host_port

pytestmark = pytest.mark.slow  # 19.1 against live APIs

AGENT = Actor("stage19", "agent", "agent")
ENV = {"bearer": "LEDGER_TOKEN", "api_key": "CATALOG_KEY"}


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV["bearer"], LEDGER_TOKEN)
    monkeypatch.setenv(ENV["api_key"], CATALOG_KEY)


@contextmanager
def _client(engine: Engine, target: Target, base_url: str) -> Iterator[Client]:
    integ = Integration(target.name, "test", "high", base_url, "spec", target.auth, None, 40.0, 2000)
    refs = {} if target.auth == "none" else {"token": CredentialRef("token", env=ENV[target.auth])}
    ctx = CrewContext(engine, "acme", 19, AGENT)
    grant = SecretGrant(env=tuple(ENV.values()), hosts=(host_port(base_url),))  # what an operator granted
    creds = Credentials(target.name, refs, Path.cwd(), grant, base_url)
    client = Client(ctx, integ, creds, pace_s=1 / 15 if target.limiter else 0.0)
    try:
        yield client
    finally:
        client.close()


def _run(engine: Engine, target: Target, **kwargs: object) -> IntegrationResult:
    with target.running() as served, _client(engine, target, served.base_url) as client:
        return run_apitester(client, target.spec, max_examples=3, checkpoint=lambda: None, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine for the module (19.1 only writes error records through it)."""
    eng = Engine.open(f"sqlite:///{tmp_path_factory.mktemp('conformance') / 'vg.db'}")
    eng.create_venture("acme", "b2b_smb", 19, actor=LEAD)
    yield eng
    eng.db.dispose()


@pytest.mark.parametrize("target", defective(limits=False), ids=lambda t: t.name)
def test_one_run_finds_every_planted_conformance_defect_and_nothing_else(engine: Engine, target: Target) -> None:
    result = _run(engine, target)
    expected = {k for k in target.planted if k[0] not in ("slow_endpoint", "rate_limit")}  # those are 19.2's
    assert {f.key for f in result.findings} == expected
    assert all(f.curl.startswith("curl") for f in result.findings if f.source != "chain" or f.kind != "data_flow")
    assert result.as_dict()["seed"] == 19


@pytest.mark.parametrize("target", clean(limits=False), ids=lambda t: t.name)
def test_a_clean_api_has_no_findings(engine: Engine, target: Target) -> None:
    result = _run(engine, target)
    assert result.findings == []
    assert result.tests and all(result.tests)
    assert result.data_flows_verified


def test_the_schema_defect_that_needs_a_created_object_is_found_by_the_chain(engine: Engine) -> None:
    # The server starts empty: only a read of an account the crew created shows the string balance.
    result = _run(engine, ledger(read_string_balance=True, limit=None))
    (finding,) = [f for f in result.findings if f.kind == "schema"]
    assert finding.source == "chain" or any(s.name.startswith("read after create") for s in result.flow)
    assert (finding.method, finding.path) == ("GET", "/accounts/{account_id}")
    steps = {s.name: s.ok for s in result.flow}
    assert steps["create POST /accounts"] and not steps["read after create GET /accounts/{account_id}"]
    assert "/accounts" in result.created


def test_seeded_runs_find_the_same_defects(engine: Engine) -> None:
    runs = [_run(engine, catalog(delete_noop=True, stock_text=True, missing_request_id=True)) for _ in range(2)]
    assert [f.key for f in runs[0].findings] == [f.key for f in runs[1].findings]
    assert [o.cases for o in runs[0].operations] == [o.cases for o in runs[1].operations]


def test_undeclared_methods_are_only_probed_on_request(engine: Engine) -> None:
    quiet = _run(engine, catalog())
    assert not any(s.name.startswith("undeclared") for s in quiet.probes)
    assert any("undeclared methods" in x for x in quiet.excluded)
    probed = _run(engine, catalog(), undeclared_methods=True)
    assert any(s.name == "undeclared TRACE /products" for s in probed.probes)
    assert probed.findings == []  # aiohttp answers 405 to methods without a route
