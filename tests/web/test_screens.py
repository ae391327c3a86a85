"""Headless Chromium (Playwright on Debian's Chromium) at 1400 px and 390 px: portfolio, venture, escalation and
stage pages, screenshots into test-artifacts/web/, the stuck venture shown as stuck with its reason, no page
wider than a phone's screen."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import CHAIR
from tests.web.conftest import LEAD
from tests.web.test_browser import ARTIFACTS, CHROMIUM, _free_port, _wait_up
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema

STUCK = Path(__file__).parent / "stuck.yaml"
WIDTHS = {"desktop": 1400, "phone": 390}


def _workspace(folder: Path) -> tuple[str, str]:
    """`ok` on track, `sinking` stuck (gate failing, trigger and alert firing), `escalated` paused; a lead token."""
    url = f"sqlite:///{folder / 'vg.db'}"
    db = connect(url)
    ensure_schema(db)
    # The server judges at the wall clock, so the story happens in the last hour (hourly data is not stale).
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(minutes=50)
    engine = Engine(db, load_workflow(STUCK), clock=lambda: now)
    for name in ("ok", "sinking", "escalated-one-with-a-long-name"):
        engine.create_venture(name, "b2b_smb", actor=LEAD, now=start)
    engine.record_sample("ok", "success_rate", 98.5, actor=LEAD, key="o1", now=now - timedelta(minutes=5))
    engine.record_sample("sinking", "success_rate", 92.3, actor=LEAD, key="s1", now=start + timedelta(minutes=10))
    for i, value in enumerate((92.0, 97.0, 91.0)):
        at = start + timedelta(minutes=10 * (i + 1))
        engine.record_sample("escalated-one-with-a-long-name", "success_rate", value, actor=LEAD, key=f"e{i}", now=at)
    _, secret = engine.create_token("lee", "lead", actor=CHAIR)
    db.dispose()
    return url, secret


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_pages_at_desktop_and_phone_width(tmp_path: Path) -> None:
    from playwright.sync_api import Error, expect, sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is required (scripts/services.sh installs it)"
    db_url, token = _workspace(tmp_path)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VENTUREGATE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}
    cmd = [sys.executable, "-m", "venturegate.cli.app", "--db", db_url, "--workflow", str(STUCK)]
    proc = subprocess.Popen(
        [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    try:
        _wait_up(f"{base}/api/health", proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            for label, width in WIDTHS.items():
                page = browser.new_page(viewport={"width": width, "height": 900})
                errors: list[str] = []

                def note(exc: Error, errors: list[str] = errors) -> None:
                    errors.append(str(exc))

                page.on("pageerror", note)
                page.goto(f"{base}/login")
                page.fill("input[name=token]", token)
                page.click("#login button[type=submit]")
                expect(page.locator("table.ventures")).to_be_visible()
                first = page.locator("tr.venture-row").first
                expect(first).to_have_attribute("data-health", "red")
                stuck = page.locator("tr.venture-row", has_text="sinking")
                expect(stuck).to_have_attribute("data-health", "red")
                expect(stuck.locator("td.why")).to_contain_text("exit gate: integration success 92.3, needs >= 95")
                expect(stuck.locator("td.why")).to_contain_text("SUCCESS-001 sent it back to 1.1")
                expect(page.locator("li.firing").first).to_contain_text("escalated (SD-1-ESCALATION-1 to lead)")
                acted = page.locator("li.firing", has_text="sinking").filter(has_text="SUCCESS-001")
                expect(acted).to_contain_text("acted (sent back to 1.1)")
                expect(acted).to_contain_text("success_rate 92.3 < 95")
                pages = {
                    "portfolio": "/",
                    "venture": "/ventures/sinking",
                    "escalation": "/ventures/escalated-one-with-a-long-name",
                    "stage": "/stages/1",
                }
                for name, path in pages.items():
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    if name == "escalation":
                        expect(page.locator("#escalation")).to_contain_text("SD-1-ESCALATION-1")
                    if name == "venture":
                        expect(page.locator(".chart .plot canvas").first).to_be_visible()
                    shot = ARTIFACTS / f"{name}-{label}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    shots.append(shot)
                    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 0, f"{path} at {width} px is {overflow} px wider than the screen"
                assert errors == [], errors
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert len(shots) == 8 and all(s.stat().st_size > 0 for s in shots)
