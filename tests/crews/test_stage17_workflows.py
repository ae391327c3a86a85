"""Stage-17 workflows: validation of the definition, and the end-to-end test on synthetic leads in the sandbox."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from venturegate.crews.stage17.automation import Timing, run_workflow_tests, synthetic_leads
from venturegate.crews.stage17.sandbox import Faults
from venturegate.crews.stage17.workflows import WorkflowError, nurture_workflow, validate


def _wf() -> dict[str, Any]:
    return nurture_workflow(48, 120, "database_insert", 3)


def test_default_workflow_is_valid() -> None:
    validate(_wf())


def _broken(change: str) -> dict[str, Any]:
    wf = copy.deepcopy(_wf())
    steps = {s["id"]: s for s in wf["steps"]}
    if change == "no trigger":
        wf["triggers"] = []
    elif change == "no rate limit":
        del wf["triggers"][0]["rate_limit_per_minute"]
    elif change == "unknown channel":
        steps["retarget"]["channel"] = "tiktok"
    elif change == "unreachable":
        wf["steps"].append({"id": "orphan", "kind": "action", "channel": "email", "op": "send_email"})
    elif change == "cycle":
        steps["email"]["next"] = ["qualified"]
    elif change == "unknown step":
        steps["crm"]["next"] = ["nowhere"]
    return wf


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("no trigger", "no trigger"),
        ("no rate limit", "rate limit"),
        ("unknown channel", "'tiktok' has no adapter"),
        ("unreachable", "orphan cannot be reached"),
        ("cycle", "cycle without a delay: qualified → email → qualified"),
        ("unknown step", "unknown step 'nowhere'"),
    ],
)
def test_validation_names_the_defect(change: str, words: str) -> None:
    with pytest.raises(WorkflowError, match=words):
        validate(_broken(change))


def test_a_cycle_through_a_delay_is_allowed() -> None:
    wf = _wf()
    steps = {s["id"]: s for s in wf["steps"]}
    steps["retarget"]["next"] = ["wait"]  # re-check the lead after another wait
    validate(wf)


def test_leads_are_seeded_per_segment() -> None:
    a = synthetic_leads("b2b_smb", 5)
    assert a == synthetic_leads("b2b_smb", 5)
    assert a != synthetic_leads("b2c_mass", 5)
    assert len({lead["email"] for lead in a}) == 5


def test_end_to_end_with_retries_and_dead_letter() -> None:
    wf = _wf()
    leads = synthetic_leads("b2b_smb", 6)
    doomed = leads[-1]["email"]
    rep = asyncio.run(
        run_workflow_tests(
            [wf],
            leads,
            {"email_1": "Subject: Hi\n\nHello {{first_name}}, book a demo."},
            faults=Faults(crm_fail_first=2, crm_fail_emails={doomed}),
            timing=Timing(),
            sender="gtm@example.com",
        )
    )
    assert rep.pass_rate == 100.0
    assert wf["test_execution_count"] == 6
    assert [d["lead"] for d in rep.dead_letters] == [leads[-1]["id"]]
    assert "after 4 attempts" in rep.dead_letters[0]["error"]  # the first call and 3 retries
    assert rep.retries >= 2 + 3  # the two injected 503s, and the doomed lead's three retries
    qualified = [r for r, lead in zip(rep.runs, leads, strict=True) if lead["score"] >= 70 and lead["email"] != doomed]
    assert all(r.path[-1] == "email" for r in qualified)
    assert rep.max_latency_s < 30 and rep.max_trigger_latency_s < 60
    assert rep.rollback["passed"] and rep.rollback["restored_version"] == 1


def test_an_unexpected_failure_fails_the_test() -> None:
    wf = _wf()
    leads = synthetic_leads("b2c_mass", 5)
    faults = Faults(ads_fail_first=100)  # the ad platform is down for good, and nobody planned for it
    rep = asyncio.run(run_workflow_tests([wf], leads, {}, faults=faults, timing=Timing(), sender="gtm@example.com"))
    unqualified = [r for r, lead in zip(rep.runs, leads, strict=True) if lead["score"] < 70]
    assert unqualified, "the seed should give at least one lead under the qualification score"
    assert rep.pass_rate < 100.0
    assert all(not r.verified and "unexpected dead letter" in r.detail for r in unqualified)
