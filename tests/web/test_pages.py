"""Dashboard pages and actions through the app: content, fragments, role-gated approvals, rollback, escaping."""

from __future__ import annotations

import json
import re
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from tests.conftest import CHAIR
from tests.web.conftest import LEAD, Browser, csrf_of
from venturegate.crews import registry
from venturegate.crews.runner import run_job
from venturegate.engine import Engine
from venturegate.web import STATIC

CHART_RE = re.compile(r'<script type="application/json" class="chart-data">(.*?)</script>')


def _approve(client_html: str, decision: str = "approve") -> dict[str, str]:
    return {"csrf": csrf_of(client_html), "decision": decision, "reason": "looks ready"}


def test_portfolio_counts_and_lists_what_waits(browser: Browser, engine: Engine, pending: int) -> None:
    engine.create_venture("beta", "b2b_smb", actor=LEAD)
    engine.create_venture("gamma", "b2b_smb", stage=2, actor=LEAD)
    engine.pause("gamma", actor=LEAD, reason="budget review")
    page = browser("viewer").get("/")
    assert page.status_code == 200
    text = page.text
    assert "<b>3</b> ventures" in text and "<b>1</b> paused" in text
    assert '<a href="/stages/1">1 · Validation</a>' in text and '<a href="/?stage=1">2</a>' in text
    assert f"#{pending}" in text and "Pending approvals <small>(1)</small>" in text
    assert "READY-1" in text  # the advance trigger's firing
    assert re.search(r'class="dot amber".*?acme.*?awaiting chairman approval', text, re.S)
    assert re.search(r'class="dot red".*?gamma.*?paused', text, re.S)
    assert 'hx-get="/fragments/portfolio?page=1" hx-trigger="every 5s"' in text


def test_portfolio_pages_and_filters(browser: Browser, engine: Engine) -> None:
    for i in range(55):
        engine.create_venture(f"v{i:02d}", "b2c_premium", actor=LEAD)
    client = browser("viewer")
    first, second = client.get("/"), client.get("/?page=2")
    assert first.text.count('class="venture-row"') == 50 and second.text.count('class="venture-row"') == 5
    assert "page 1 of 2" in first.text and "v54" in second.text and "v54" not in first.text
    assert client.get("/?status=killed").text.count('class="venture-row"') == 0
    assert client.get("/?stage=1&health=green").text.count('class="venture-row"') == 50
    assert client.get("/?status=bogus").status_code == 422


def test_venture_page_explains_gate_charts_and_timeline(browser: Browser, pending: int) -> None:
    page = browser("viewer").get("/ventures/acme")
    assert page.status_code == 200
    text = page.text
    assert 'id="current-stage">1 · Validation' in text
    assert "Exit gate of stage 1" in text and "does not pass" in text
    assert re.search(r"Ready enough</td><td><span class=\"verdict pass\">pass</span>", text)
    assert f"request #{pending} awaits chairman" in text
    assert "<b>1.1</b> Interviews · open" in text
    (spec,) = [json.loads(raw) for raw in CHART_RE.findall(text)]
    # b2c_mass overrides the threshold (85); target and alert come from the default levels.
    assert spec["levels"] == {"target": 90.0, "threshold": 85.0, "alert": 60.0}
    assert spec["y"] == [91.0] and len(spec["x"]) == 1
    assert "<code>approval.requested</code> lee (lead)" in text and "<code>venture.created</code>" in text
    assert "only a chairman may decide" in text and 'value="approve"' not in text


def test_approval_buttons_only_for_the_approvals_role(browser: Browser, pending: int) -> None:
    chair = browser("chairman").get("/ventures/acme").text
    lead = browser("lead").get("/ventures/acme").text
    assert f'action="/ventures/acme/approvals/{pending}"' in chair and 'value="approve"' in chair
    assert 'value="approve"' not in lead and "only a chairman may decide" in lead


def test_a_lead_cannot_approve_a_chairman_approval(browser: Browser, engine: Engine, pending: int) -> None:
    for role in ("lead", "viewer"):
        client = browser(role)
        page = client.get("/ventures/acme")
        answer = client.post(f"/ventures/acme/approvals/{pending}", data=_approve(page.text))
        assert answer.status_code == 403, role
        assert "Not allowed" in answer.text
    assert engine.approvals("acme")[0].status == "pending" and engine.venture("acme").stage == 1


def test_an_approval_post_without_csrf_is_403(browser: Browser, engine: Engine, pending: int) -> None:
    client = browser("chairman")
    answer = client.post(f"/ventures/acme/approvals/{pending}", data={"decision": "approve"})
    forged = client.post(f"/ventures/acme/approvals/{pending}", data={"decision": "approve", "csrf": "x" * 43})
    assert answer.status_code == forged.status_code == 403
    assert engine.approvals("acme")[0].status == "pending" and engine.venture("acme").stage == 1


def test_the_chairman_approves_and_the_venture_advances(browser: Browser, engine: Engine, pending: int) -> None:
    client = browser("chairman")
    page = client.get("/ventures/acme")
    answer = client.post(f"/ventures/acme/approvals/{pending}", data=_approve(page.text), follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ventures/acme"
    assert engine.venture("acme").stage == 2
    after = client.get("/ventures/acme").text
    assert f"Approval #{pending} approved; acme is now at stage 2." in after
    assert 'id="current-stage">2 · Build' in after and "approved</li>" not in after
    again = client.post(f"/ventures/acme/approvals/{pending}", data=_approve(after))
    assert again.status_code == 409 and "already approved" in again.text


def test_advance_refused_with_the_failing_checks(browser: Browser, engine: Engine) -> None:
    engine.create_venture("slow", "b2b_smb", actor=LEAD)
    client = browser("lead")
    page = client.get("/ventures/slow")
    assert 'id="advance"' not in page.text
    answer = client.post("/ventures/slow/advance", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 409 and "Ready enough" in answer.text
    assert browser("agent").post("/ventures/slow/advance", data={"csrf": "x"}).status_code == 403


def test_configuration_history_and_rollback(browser: Browser, engine: Engine) -> None:
    engine.create_venture("conf", "b2b_smb", actor=LEAD)
    engine.set_config("conf", "review.depth", 5, actor=LEAD, reason="deeper")
    engine.set_config("conf", "review.depth", 7, actor=LEAD, reason="deeper still")
    viewer = browser("viewer")
    seen = viewer.get("/ventures/conf").text
    assert "<b>v2</b> (current)" in seen and "deeper still" in seen and "Roll back to v1" not in seen
    refused = viewer.post("/ventures/conf/rollback", data={"csrf": csrf_of(seen), "to": "1"})
    assert refused.status_code == 403
    lead = browser("lead")
    page = lead.get("/ventures/conf").text
    assert "Roll back to v1" in page
    done = lead.post("/ventures/conf/rollback", data={"csrf": csrf_of(page), "to": "1"}, follow_redirects=False)
    assert done.status_code == 303
    assert engine.setting("conf", "review.depth").value == 5
    assert "Rolled back to 1: completed." in lead.get("/ventures/conf").text


def test_stage_page_definition_critique_and_figures(browser: Browser, engine: Engine, pending: int) -> None:
    engine.decide_approval(pending, True, actor=CHAIR)
    page = browser("viewer").get("/stages/1")
    assert page.status_code == 200
    text = page.text
    assert "Stage 1 · Validation" in text and "Show the idea is worth building." in text
    assert "<code>readiness &gt;= threshold.readiness</code>" in text and "<code>chairman</code>" in text
    assert "Automation Leverage" in text and "overall" in text
    assert "<b>auto</b> automation mode" in text and "<b>1</b> visits (1 completed)" in text
    assert "<td>b2c_mass</td>" in text
    assert browser("viewer").get("/stages/99").status_code == 404


def test_fragments_render_for_polling(browser: Browser, pending: int) -> None:
    client = browser("viewer")
    for url, marker in (
        ("/fragments/portfolio", 'id="portfolio"'),
        ("/fragments/ventures/acme", 'id="venture"'),
        ("/fragments/stages/1", 'id="stage-stats"'),
    ):
        answer = client.get(url, headers={"HX-Request": "true"})
        assert answer.status_code == 200 and answer.text.lstrip().startswith("<") and marker in answer.text
        assert "<html" not in answer.text and 'hx-trigger="every 5s"' in answer.text
    assert client.get("/fragments/ventures/nope").status_code == 404


def test_everything_rendered_is_escaped(browser: Browser, engine: Engine) -> None:
    engine.create_venture("<script>alert(1)</script>", "b2b_smb", actor=LEAD)
    client = browser("viewer")
    home = client.get("/").text
    assert "<script>alert(1)</script>" not in home and "&lt;script&gt;alert(1)&lt;/script&gt;" in home
    assert f'href="/ventures/{engine.ventures()[0].id}"' in home
    page = client.get(f"/ventures/{engine.ventures()[0].id}")
    assert page.status_code == 200 and "<script>alert(1)" not in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_static_files_are_served(browser: Browser) -> None:
    client = browser("viewer")
    vendor = (Path(STATIC) / "VENDOR.md").read_text()
    for name in ("htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css", "dashboard.js", "dashboard.css"):
        answer = client.get(f"/static/{name}")
        assert answer.status_code == 200 and len(answer.content) > 500, name
    assert "2.0.11" in vendor and "1.6.32" in vendor and "MIT" in vendor
    assert client.get("/openapi.json").json()["paths"].get("/ventures/{ref}") is None


def test_the_run_crew_button_starts_a_job(
    browser: Browser, engine: Engine, pending: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VENTUREGATE_QUEUE_URL", f"sqlite:///{tmp_path / 'queue.db'}")
    eps = [EntryPoint("quick1", "tests.api.conftest:quick1", registry.GROUP)]  # a crew for stage 1
    monkeypatch.setattr(registry, "entry_points", lambda group: eps if group == registry.GROUP else [])
    engine.create_venture("later", "b2b_smb", stage=2, actor=LEAD)
    viewer = browser("viewer")
    seen = viewer.get("/ventures/acme").text
    assert "Crew jobs" in seen and "No crew jobs yet." in seen and 'id="run-crew"' not in seen
    assert "Crew jobs" not in viewer.get("/ventures/later").text  # no crew serves stage 2
    refused = viewer.post("/ventures/acme/jobs", data={"csrf": csrf_of(seen)})
    assert refused.status_code == 403 and engine.jobs() == []

    agent = browser("agent")
    page = agent.get("/ventures/acme").text
    assert 'action="/ventures/acme/jobs"' in page and "Run crew quick1" in page
    assert agent.post("/ventures/acme/jobs", data={"csrf": "x" * 43}).status_code == 403
    answer = agent.post("/ventures/acme/jobs", data={"csrf": csrf_of(page), "crew": "quick1"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ventures/acme"
    (job,) = engine.jobs("acme")
    assert job.status == "queued" and job.actor == "agent-1" and job.crew == "quick1"
    after = agent.get("/ventures/acme").text
    assert f"Job #{job.id} queued: crew quick1 for stage 1." in after
    assert f"job #{job.id} (quick1) is queued" in after and 'id="run-crew"' not in after
    again = agent.post("/ventures/acme/jobs", data={"csrf": csrf_of(page)})
    assert again.status_code == 409 and "already runs" in again.text

    assert run_job(engine, job.id).status == "succeeded"
    live = agent.get("/fragments/ventures/acme", headers={"HX-Request": "true"}).text
    assert re.search(rf"#{job.id} · stage 1 · <b>quick1</b> · <span class=\"job-status\">succeeded</span>", live)
    assert "count 2/2" in live and 'id="run-crew"' in live
