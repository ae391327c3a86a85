"""A paused venture shows its escalation at the top with Resolve; charts follow the data and mark the bad points."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import CHAIR, T0
from tests.web.conftest import LEAD, csrf_of, login
from venturegate.api import create_app
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema

STUCK = Path(__file__).parent / "stuck.yaml"
NOW = T0 + timedelta(days=40)  # long after the samples: the charts must still show them


@pytest.fixture
def escalated(db_url: str) -> Iterator[Engine]:
    """`sinking` sent back once by SUCCESS-001, then escalated (paused) by it; an approval left pending."""
    db = connect(db_url)
    ensure_schema(db)
    engine = Engine(db, load_workflow(STUCK), clock=lambda: NOW)
    engine.create_venture("sinking", "b2b_smb", actor=LEAD, now=T0)
    engine.request_approval("sinking", "lead", actor=LEAD, reason="sign-off", now=T0)
    for i, value in enumerate((92.0, 97.0, 91.0)):
        engine.record_sample("sinking", "success_rate", value, actor=LEAD, key=f"s{i}", now=T0 + timedelta(hours=i + 1))
    assert engine.venture("sinking").status == "paused"
    yield engine
    db.dispose()


def _client(engine: Engine, role: str) -> TestClient:
    _, token = engine.create_token(f"{role}-1", role, actor=CHAIR)
    client = TestClient(create_app(engine), raise_server_exceptions=True).__enter__()
    login(client, token)
    return client


def test_the_escalation_is_at_the_top_and_resolve_resumes(escalated: Engine) -> None:
    lead = _client(escalated, "lead")
    try:
        page = lead.get("/ventures/sinking").text
        top = page.index('id="escalation"')
        assert top < page.index("Stage progress")
        assert "SD-1-ESCALATION-1" in page and "SUCCESS-001 fired after 1 recursions (limit 1)" in page
        assert "What led here" in page and "Resolve and resume" in page
        assert 'class="decide"' not in page.replace('class="decide resolve"', "")  # no Approve/Reject when paused
        assert ">1.1</option>" in page
        answer = lead.post(
            "/ventures/sinking/escalations/SD-1-ESCALATION-1/resolve",
            data={"csrf": csrf_of(page), "resume_at": "1.1", "reason": "fixed the flaky suite"},
            follow_redirects=True,
        )
        assert "SD-1-ESCALATION-1 resolved; sinking resumes at 1.1 (active)" in answer.text
        assert escalated.venture("sinking").status == "active"
        assert 'id="escalation"' not in answer.text
    finally:
        lead.__exit__(None, None, None)


def test_a_viewer_sees_the_escalation_but_no_resolve_button(escalated: Engine) -> None:
    viewer = _client(escalated, "viewer")
    try:
        page = viewer.get("/ventures/sinking").text
        assert "SD-1-ESCALATION-1" in page and "Resolve and resume" not in page
        assert "Only the lead or the Chairman may resolve it." in page
        refused = viewer.post(
            "/ventures/sinking/escalations/SD-1-ESCALATION-1/resolve",
            data={"csrf": csrf_of(page), "resume_at": "1.1"},
        )
        assert refused.status_code == 403 and escalated.venture("sinking").status == "paused"
    finally:
        viewer.__exit__(None, None, None)


def test_charts_show_old_samples_with_iso_times_and_mark_the_bad_ones(escalated: Engine) -> None:
    viewer = _client(escalated, "viewer")
    try:
        page = viewer.get("/ventures/sinking").text
        assert "3 samples" in page  # forty days later, the window still follows the data
        table = page[page.index('class="chart-table"') :]
        rows = re.findall(r"<tr( class=\"past\")?><td>([0-9: -]+)</td><td>([^<]+)</td>", table)
        assert [(bool(p), at, v.strip()) for p, at, v in rows[:3]] == [
            (True, "2026-11-02 12:00:00", "91 · past threshold"),
            (False, "2026-11-02 11:00:00", "97"),
            (True, "2026-11-02 10:00:00", "92 · past threshold"),
        ]
        assert '"past":[true,false,true]' in page
    finally:
        viewer.__exit__(None, None, None)


def test_gate_reasons_show_times_to_the_second(escalated: Engine) -> None:
    viewer = _client(escalated, "viewer")
    try:
        page = viewer.get("/ventures/sinking").text
        gate = page[page.index('<table class="gate">') : page.index("</table>", page.index('<table class="gate">'))]
        assert "last measured 2026-11-02 12:00:00" in gate and "T12:00:00+00:00" not in gate
    finally:
        viewer.__exit__(None, None, None)
