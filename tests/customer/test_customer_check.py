"""Customer touchpoints: a gate check on recorded customer answers that each venture switches and tunes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import AGENT, LEAD, T0
from tests.definitions.helpers import assert_problems, write
from venturegate.core.conditions import InMemoryData
from venturegate.core.conditions.data import ConfigValue
from venturegate.core.gates import CheckResult, GateFacts, evaluate_checks
from venturegate.definitions.loader import LoadedWorkflow, load_workflow
from venturegate.definitions.model import CustomerCheck, CustomerSpec
from venturegate.engine import Engine
from venturegate.engine.exceptions import BadInput
from venturegate.store.database import connect, ensure_schema

REFS = {
    "required": "config.customer.required",
    "min_count": "config.customer.min_count",
    "min_value": "config.customer.min_score",
    "window": "config.customer.window",
}


def _judge(spec: CustomerSpec, config: dict[str, ConfigValue], answers: list[float]) -> CheckResult:
    data = InMemoryData(config_values=config)
    data.extend({"survey": [(T0 - timedelta(days=i + 1), v) for i, v in enumerate(answers)]})
    (result,) = evaluate_checks([CustomerCheck(customer=spec)], GateFacts(data=data), T0)
    return result


def test_switched_off_the_check_passes_as_not_required() -> None:
    spec = CustomerSpec(metric="survey", **REFS)
    result = _judge(spec, {"customer.required": False, "customer.min_count": 5, "customer.min_score": 3.5}, [])
    assert (result.verdict, result.observed) == ("pass", "not required")
    assert result.reason == "not required for this venture (config customer.required is false)"


def test_numbers_from_config_are_used_and_their_source_is_named() -> None:
    spec = CustomerSpec(metric="survey", **REFS)
    config: dict[str, ConfigValue] = {
        "customer.required": True,
        "customer.min_count": 3,
        "customer.min_score": 4.0,
        "customer.window": 7 * 86400,  # durations reach conditions as seconds
    }
    few = _judge(spec, config, [5, 4])
    assert (few.verdict, few.observed, few.expected) == ("fail", 2, ">= 3 responses in 7d, mean >= 4")
    assert few.reason == (
        "2 of 3 responses in the last 7d (minimum 3 from config customer.min_count, "
        "window 7d from config customer.window, mean 4 from config customer.min_score)"
    )
    low = _judge(spec, config, [3, 4, 4])
    assert low.verdict == "fail" and low.reason.startswith("mean 3.67 of 3 responses is below 4 (")
    good = _judge(spec, config, [5, 4, 4, 5, 5, 5, 1])  # the 1 is seven days old: outside the window
    assert (good.verdict, good.observed) == ("pass", 4.6667)
    assert good.reason.startswith("6 responses, mean 4.67 (minimum 3 from config customer.min_count")


def test_literal_numbers_say_they_come_from_the_stage_definition() -> None:
    result = _judge(CustomerSpec(metric="survey", min_count=2, min_value=3), {}, [4])
    assert result.verdict == "fail"
    assert result.reason == (
        "1 of 2 responses in the last 30d (minimum 2 from the stage definition, "
        "window 30d from the stage definition, mean 3 from the stage definition)"
    )


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({}, "config customer.required is not declared for this stage, so the check cannot be judged"),
        ({"customer.required": True, "customer.min_count": "many"}, "config customer.min_count is 'many'"),
        ({"customer.required": True, "customer.min_count": True}, "config customer.min_count is True"),
    ],
)
def test_an_unusable_setting_is_unknown_never_a_pass(config: dict[str, ConfigValue], reason: str) -> None:
    spec = CustomerSpec(metric="survey", required="config.customer.required", min_count="config.customer.min_count")
    result = _judge(spec, config, [5, 5, 5, 5, 5])
    assert result.verdict == "unknown" and result.reason.startswith(reason)


def test_bad_values_in_a_definition_are_located(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        """
        workflow: {id: t, version: "1"}
        stages:
          - id: 1
            title: A
            metrics: {m: {unit: score}}
            gates:
              exit:
                - {customer: {metric: m, min_count: 0}}
                - {customer: {metric: m, min_count: customer.min_count, required: maybe}}
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (
                f,
                src.at("0}"),
                "stage 1.gates.exit.0.customer.min_count: min_count must be a whole number of at least 1",
            ),
            (
                f,
                src.at("customer.min_count,"),
                "stage 1.gates.exit.1.customer.min_count: 'customer.min_count' is neither a whole number nor config",
            ),
            (f, src.at("maybe"), "stage 1.gates.exit.1.customer.required: 'maybe' is neither a true/false nor config"),
        ],
    )


@pytest.fixture(scope="module")
def studio() -> LoadedWorkflow:
    """The bundled lifecycle, loaded once."""
    return load_workflow()


@pytest.fixture
def bundled(db_url: str, studio: LoadedWorkflow) -> Iterator[Engine]:
    """An engine with the bundled lifecycle on a fresh database (SQLite and PostgreSQL)."""
    db = connect(db_url)
    ensure_schema(db)
    yield Engine(db, studio, clock=lambda: T0)
    db.dispose()


def _customer(eng: Engine, vid: int) -> CheckResult:
    return next(c for c in eng.check_gate(vid).checks if c.kind == "customer")


def test_bundled_stage_28_touchpoint_is_off_until_a_venture_switches_it_on(bundled: Engine) -> None:
    vid = bundled.create_venture("fast", "b2c_mass", 28, actor=LEAD).id
    off = _customer(bundled, vid)
    assert (off.verdict, off.observed) == ("pass", "not required")

    bundled.set_config(vid, "customer.required", True, actor=LEAD, reason="ask customers if it feels faster")
    on = _customer(bundled, vid)
    assert (on.verdict, on.observed) == ("fail", 0)
    assert "0 of 5 responses in the last 30d (minimum 5 from config customer.min_count" in on.reason

    bundled.set_config(vid, "customer.min_count", 2, actor=LEAD, reason="small beta")
    for i, answer in enumerate((9, 8)):
        bundled.record_sample(vid, "nps_response", answer, actor=AGENT, at=T0 - timedelta(hours=i + 1))
    passed = _customer(bundled, vid)
    assert passed.verdict == "pass" and passed.reason.startswith("2 responses, mean 8.50 (minimum 2 from config")
    assert "mean 7 from config customer.min_nps_response" in passed.reason

    bundled.set_config(vid, "customer.min_nps_response", 9, actor=LEAD, reason="we promised a lot")
    assert _customer(bundled, vid).verdict == "fail"
    with pytest.raises(BadInput, match=r"customer\.min_count"):
        bundled.set_config(vid, "customer.min_count", 0, actor=LEAD, reason="none")


def test_survey_answers_are_accepted_by_metric_record(bundled: Engine) -> None:
    vid = bundled.create_venture("gtm", "b2b_smb", 17, actor=LEAD).id
    bundled.set_config(vid, "customer.required", True, actor=LEAD, reason="validate content")
    bundled.set_config(vid, "customer.min_count", 1, actor=LEAD, reason="one is enough here")
    bundled.record_sample(vid, "survey_score", 4.5, actor=AGENT, at=T0 - timedelta(days=1))
    result = _customer(bundled, vid)
    assert result.verdict == "pass" and "mean 3.5 from config customer.min_survey_score" in result.reason
