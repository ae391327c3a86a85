"""The stage-17 crew end to end through the engine: approvals between substages, re-allocation with rollback,
bad input classified by the stage's error policy with nothing half-configured, the OpenAI-compatible provider
against a fake chat-completions server, and runs started from the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import stamina
from typer.testing import CliRunner

from tests.crews.conftest import LEAD
from tests.crews.stage17_fakes import chat_server
from venturegate.cli.app import app
from venturegate.crews import CrewContext
from venturegate.crews.stage17 import crew, demo, experiment_ops, live
from venturegate.crews.stage17.content import OpenAIProvider
from venturegate.engine import Actor, Engine, NotFound

PLAN = Actor("pat", "plan")
EXEC = Actor("eve", "exec")


@pytest.fixture(autouse=True)
def crew_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "crews"
    monkeypatch.setenv("VENTUREGATE_CREW_ROOT", str(root))
    with stamina.set_testing(True, attempts=3):
        yield root


def _venture(engine: Engine, name: str = "ledgerly", **changes: Any) -> None:
    engine.create_venture(name, "b2b_smb", 17, actor=LEAD)
    inputs = {"market_strategy": demo.strategy(name), "customer_segments": demo.segments(name)}
    inputs["marketing_channels"] = demo.channels(name)
    for key, content in changes.items():
        inputs[key] = content
    for key, content in inputs.items():
        engine.put_artifact(name, key, content, actor=LEAD)


def _run(engine: Engine, name: str = "ledgerly", **options: Any) -> Any:
    return crew.run(CrewContext(engine, name, 17, options=options))


def _approve_all(engine: Engine, name: str = "ledgerly") -> list[Any]:
    results = [_run(engine, name)]
    engine.attest(name, "GTM strategy, channels and budget allocation approved", actor=LEAD)
    results.append(_run(engine, name))
    engine.attest(name, "Campaign templates and schedules approved", actor=PLAN)
    engine.attest(name, "Campaign content approved", actor=LEAD)
    results.append(_run(engine, name))
    return results


def _latest(engine: Engine, metric: str, name: str = "ledgerly") -> float:
    now = datetime.now(UTC)
    got = engine.samples(name, metric, since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    return got[-1].value


def test_full_run_waits_for_approvals_then_configures_everything(bundled: Engine, crew_root: Path) -> None:
    _venture(bundled)
    first, second, third = _approve_all(bundled)
    assert first.status == "waiting" and "LEAD attests" in first.summary["outcome"]
    assert second.status == "waiting" and "PLAN attests" in second.summary["outcome"]
    assert third.status == "completed", third.summary
    assert {s.id for s in bundled.substages("ledgerly") if s.status == "done"} == {"17.1", "17.2", "17.3"}
    config = bundled.artifact("ledgerly", "gtm_agent_config").content
    assert config["budget"]["allocation"] == {"proven": 70.0, "growth": 20.0, "experimental": 10.0}
    assert config["channels"]["primary"] == "email" and len(config["channels"]["secondary"]) == 3
    campaign = bundled.artifact("ledgerly", "campaign_templates")
    assert campaign.version == 1  # the approved campaign was reused, not regenerated
    c = campaign.content["campaigns"][0]
    assert len(c["email_sequence"]) == 5 and c["schedule"]["calendar_weeks"] >= 4
    assert all(len(e["variants"]) >= 2 for e in c["content"])
    assert c["content_review"]["rejected"], "the template bank's hype lines must be caught and regenerated"
    assert all("utm_campaign=" in v["body"] for e in c["content"] for v in e["variants"])
    assert all(p["sample_per_variant"] > 0 for p in c["ab_tests"])
    wf = bundled.artifact("ledgerly", "automation_workflows").content
    report = wf["test_report"]
    assert report["leads_tested"] == 8 and report["failed"] == 0 and report["rollback_test_passed"]
    assert report["retries"] >= 2 and len(report["dead_letters"]) == 1
    assert wf["workflows"][0]["status"] == "active" and wf["workflows"][0]["test_execution_count"] == 8
    assert _latest(bundled, "workflow_test_pass_rate") == 100.0
    assert _latest(bundled, "ab_variants_per_element") >= 2
    gate = {c.name: c.verdict for c in bundled.check_gate("ledgerly", "exit").checks}
    failing = {name for name, verdict in gate.items() if verdict != "pass"}
    assert failing == {"Automation workflows reviewed and approved", "LEAD final approval"}
    assert [a.role for a in bundled.approvals("ledgerly", "pending")] == ["lead"]
    assert (Path(third.summary["out_dir"]) / "report.md").exists()
    state = live.load(bundled.venture("ledgerly").id, crew_root)
    assert state["agent"] == "deployed" and state["workflows"]["wf-lead-nurture"]["status"] == "active"


def test_reallocation_is_a_new_version_that_rolls_back(sqlite_engine: Engine, crew_root: Path) -> None:
    _venture(sqlite_engine)
    _approve_all(sqlite_engine)
    for channel, spend, conv in (("email", 3000, 6), ("content_marketing", 1000, 1), ("linkedin", 500, 12)):
        experiment_ops.record_channel(
            sqlite_engine, "ledgerly", channel, spend_usd=spend, leads=conv * 5, conversions=conv, actor=LEAD
        )
    again = _run(sqlite_engine, reallocate=True)
    assert again.status == "completed", again.summary
    v2 = sqlite_engine.artifact("ledgerly", "gtm_agent_config")
    assert v2.version == 2 and v2.content["version"] == 2
    shares = {c["channel"]: c["share_pct"] for c in v2.content["budget"]["channels"]}
    assert shares["linkedin"] > 5.0 > shares.get("google_ads", 0.0) or shares["linkedin"] > 10.0
    vid = sqlite_engine.venture("ledgerly").id
    assert live.load(vid, crew_root)["active_config"] == 2
    done = sqlite_engine.rollback(
        "ledgerly", "pre-stage-17", actor=LEAD, reason="re-allocation made things worse", scope=["gtm_config"]
    )
    assert done.outcome == "completed", done
    assert live.load(vid, crew_root)["active_config"] == 1
    assert any("GTM config version 1 restored" in h.detail for h in done.handlers)


def _bad(engine: Engine, **options: Any) -> tuple[Any, Any]:
    before = {a.name: a.version for a in engine.artifacts("ledgerly")}
    got = _run(engine, **options)
    after = {a.name: a.version for a in engine.artifacts("ledgerly")}
    records = engine.error_records(venture="ledgerly")
    return got, (before, after, records)


@pytest.mark.parametrize(
    ("case", "rule"),
    [
        ("no segments", "crew-task-failure"),
        ("unknown channel", "crew-task-failure"),
        ("split over 100", "budget-overspend"),
    ],
)
def test_bad_strategy_input_is_classified_and_changes_nothing(sqlite_engine: Engine, case: str, rule: str) -> None:
    changes: dict[str, Any] = {}
    if case == "no segments":
        strategy = demo.strategy("ledgerly")
        strategy["value_propositions"] = [{"segment": "someone-else", "proposition": "x"}]
        changes["market_strategy"] = strategy
    elif case == "unknown channel":
        ch = demo.channels("ledgerly")
        ch["channels"].append({"name": "influencers", "enabled": True})
        changes["marketing_channels"] = ch
    _venture(sqlite_engine, **changes)
    if case == "split over 100":
        sqlite_engine.set_config("ledgerly", "budget_allocation", [70, 20, 20], actor=LEAD, reason="typo")
    got, (before, after, records) = _bad(sqlite_engine)
    assert got.status == "failed"
    assert records[0].rule_id == rule and records[0].status == "escalated"
    assert before == after and "gtm_agent_config" not in after
    assert not [s for s in sqlite_engine.substages("ledgerly") if s.status == "done"]


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ({"template_email": "Subject: {{ copy.headline }}\n\n{{ missing }}"}, "'missing' is undefined"),
        ({"workflows_json": "cycle"}, "cycle without a delay"),
    ],
)
def test_bad_templates_and_workflows(sqlite_engine: Engine, option: dict[str, str], words: str) -> None:
    _venture(sqlite_engine)
    sqlite_engine.attest("ledgerly", "GTM strategy, channels and budget allocation approved", actor=LEAD)
    if option.get("workflows_json") == "cycle":
        from venturegate.crews.stage17.workflows import nurture_workflow

        wf = nurture_workflow(48, 60, "database_insert", 3)
        wf["steps"][-2]["next"] = ["qualified"]
        option = {"workflows_json": json.dumps([wf])}
        sqlite_engine.attest("ledgerly", "Campaign templates and schedules approved", actor=PLAN)
        sqlite_engine.attest("ledgerly", "Campaign content approved", actor=LEAD)
    got, (_before, after, records) = _bad(sqlite_engine, **option)
    assert got.status == "failed" and words in records[0].message
    assert records[0].rule_id == "crew-task-failure"
    stored = "automation_workflows" if "workflows_json" in option else "campaign_templates"
    assert stored not in after


def test_openai_provider_against_a_fake_server(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    hype = {"headline": "Guaranteed results", "body": "Revolutionary close tools. Guaranteed."}
    clean = {"headline": "Close the month in two days", "body": "Finance teams match bank lines automatically."}
    with chat_server([[hype], [clean]]) as server:
        provider = OpenAIProvider(f"http://127.0.0.1:{server.port}/v1", "fake-model", "sk-test", timeout=5)
        from venturegate.crews.stage17.content import Brief

        brief = Brief("email_1", "email", "professional", "book_demo", "p" * 60, "prop", "SMB", ("close",), 300)
        got = provider.variants(brief, 2, [], 0)
        assert [c.headline for c in got] == ["Guaranteed results"] * 2
        assert server.requests[0]["auth"] == "Bearer sk-test"
        assert server.requests[0]["body"]["model"] == "fake-model"
        _venture(sqlite_engine)
        sqlite_engine.attest("ledgerly", "GTM strategy, channels and budget allocation approved", actor=LEAD)
        monkeypatch.setenv("VENTUREGATE_CONTENT_BASE_URL", f"http://127.0.0.1:{server.port}/v1")
        monkeypatch.setenv("VENTUREGATE_CONTENT_MODEL", "local-model")
        monkeypatch.setenv("VENTUREGATE_CONTENT_API_KEY", "sk-operator")
        result = _run(sqlite_engine)
        assert {r["auth"] for r in server.requests[1:]} == {"Bearer sk-operator"}
        assert {r["body"]["model"] for r in server.requests[1:]} == {"local-model"}
    assert result.status == "waiting", result.summary
    campaign = sqlite_engine.artifact("ledgerly", "campaign_templates").content["campaigns"][0]
    assert campaign["content_review"]["provider"] == "openai"
    assert campaign["content_review"]["rejected"]
    assert all("guaranteed" not in v["body"].lower() for e in campaign["content"] for v in e["variants"])


def test_a_content_model_that_times_out_falls_back_to_templates(sqlite_engine: Engine) -> None:
    with chat_server([[{"headline": "h", "body": "b"}]], delay=2.0) as server:
        _venture(sqlite_engine)
        sqlite_engine.attest("ledgerly", "GTM strategy, channels and budget allocation approved", actor=LEAD)
        result = _run(sqlite_engine, content_base_url=f"http://127.0.0.1:{server.port}/v1", content_timeout=0.2)
    assert result.status == "waiting", result.summary
    (record,) = [r for r in sqlite_engine.error_records(venture="ledgerly") if r.rule_id == "agent-api-failure"]
    assert record.status == "resolved" and [s["action"] for s in record.steps] == ["retry", "fallback"]
    campaign = sqlite_engine.artifact("ledgerly", "campaign_templates").content["campaigns"][0]
    assert campaign["content_review"]["provider"].startswith("openai → template")


def test_cli_run_and_engine_untouched_without_inputs(tmp_path: Path, _migrated: Path) -> None:
    import shutil

    shutil.copy(_migrated, tmp_path / "vg.db")
    db = f"sqlite:///{tmp_path / 'vg.db'}"
    eng = Engine.open(db)
    _venture(eng)
    eng.db.dispose()
    ran = CliRunner().invoke(app, ["--db", db, "--as", "crew:agent", "run", "ledgerly", "--stage", "17", "--json"])
    assert ran.exit_code == 4, ran.output  # waiting (for the lead's attestation): `run`'s documented exit code
    job = json.loads(ran.output)
    assert job["crew"] == "stage17" and job["result"]["status"] == "waiting"
    assert "LEAD attests" in job["result"]["summary"]["outcome"]
    eng = Engine.open(db)
    with pytest.raises(NotFound):
        eng.artifact("ledgerly", "campaign_templates")  # stopped before 17.2: its entry is not approved yet
    assert eng.artifact("ledgerly", "gtm_agent_config").version == 1
    eng.db.dispose()


def test_api_starts_the_crew_as_a_job(sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from venturegate.api import create_app
    from venturegate.crews.runner import run_job

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
        from starlette.testclient import TestClient

    monkeypatch.setenv("VENTUREGATE_QUEUE_URL", f"sqlite:///{tmp_path / 'queue.db'}")
    _venture(sqlite_engine)
    secret = sqlite_engine.create_token("agent-1", "agent", actor=LEAD)[1]
    with TestClient(create_app(sqlite_engine)) as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        started = client.post("/api/ventures/ledgerly/jobs", json={"options": {"test_leads": 5}})
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["crew"] == "stage17" and job["stage"] == 17
        finished = run_job(sqlite_engine, job["id"])  # what the worker does with the queued job
        assert finished.status == "succeeded", finished.error
        shown = client.get(f"/api/jobs/{job['id']}").json()
    assert shown["result"]["status"] == "waiting" and "LEAD attests" in shown["result"]["summary"]["outcome"]


def test_substage_entry_criteria_are_attested_by_their_role(sqlite_engine: Engine) -> None:
    _venture(sqlite_engine)
    from venturegate.engine import BadInput

    with pytest.raises(BadInput, match="only a lead"):
        sqlite_engine.attest("ledgerly", "GTM strategy, channels and budget allocation approved", actor=PLAN)
    with pytest.raises(BadInput, match="no written criterion"):
        sqlite_engine.attest("ledgerly", "Something nobody wrote", actor=LEAD)
    sqlite_engine.attest("ledgerly", "Campaign templates and schedules approved", actor=PLAN)
    kinds = [e.reason for e in sqlite_engine.events("ledgerly", kind="criterion.attested")]
    assert kinds == ["Campaign templates and schedules approved"]


def test_an_option_cannot_send_the_content_key_elsewhere(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from venturegate.engine import BadInput

    _venture(sqlite_engine)
    monkeypatch.setenv("VENTUREGATE_CONTENT_API_KEY", "sk-operator")
    with pytest.raises(BadInput, match="not a loopback URL"):
        _run(sqlite_engine, content_base_url="https://collector.example/v1")
    with pytest.raises(NotFound):
        sqlite_engine.artifact("ledgerly", "gtm_agent_config")
