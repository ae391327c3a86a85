"""Debian's Chromium, headless, drives `venturegate serve`: log in, approve, see the venture advance."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.web.conftest import FLOW, LEAD
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"{CHROMIUM} is missing: `bash scripts/services.sh` installs it (in CI, where CI is set, this test must run)",
        allow_module_level=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workspace(folder: Path) -> tuple[str, str]:
    """A SQLite workspace: `acme` ready to leave stage 1 but for the Chairman's approval; a Chairman token."""
    url = f"sqlite:///{folder / 'vg.db'}"
    db = connect(url)
    ensure_schema(db)
    engine = Engine(db, load_workflow(FLOW))
    engine.create_venture("acme", "b2c_mass", actor=LEAD)
    engine.complete_substage("acme", "1.1", actor=LEAD)
    engine.record_sample("acme", "readiness", 93, actor=LEAD, key="r1")
    engine.request_approval("acme", "chairman", actor=LEAD, reason="ready to build")
    _, secret = engine.create_token("ada", "chairman", actor=LEAD)
    db.dispose()
    return url, secret


def _wait_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"venturegate serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {seconds}s")


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_chairman_approves_in_the_browser_and_the_venture_advances(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is required in CI (scripts/services.sh installs it)"
    db_url, token = _workspace(tmp_path)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VENTUREGATE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}
    cmd = [sys.executable, "-m", "venturegate.cli.app", "--db", db_url, "--workflow", str(FLOW)]
    proc = subprocess.Popen(
        [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        _wait_up(f"{base}/api/health", proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/ventures/acme")
            expect(page).to_have_url(f"{base}/login?next=/ventures/acme")
            page.fill("input[name=token]", token)
            page.screenshot(path=str(shots / "1-login.png"))
            page.click("#login button[type=submit]")
            expect(page).to_have_url(f"{base}/ventures/acme")
            expect(page.locator("#current-stage")).to_contain_text("1 · Validation")
            expect(page.locator(".chart .plot canvas")).to_have_count(1)  # uPlot drew the readiness chart
            page.screenshot(path=str(shots / "2-pending.png"), full_page=True)
            page.fill("form.decide input[name=reason]", "numbers hold up")
            page.click("form.decide button.approve")
            expect(page.locator(".flash.ok")).to_contain_text("acme is now at stage 2")
            expect(page.locator("#current-stage")).to_contain_text("2 · Build")
            page.screenshot(path=str(shots / "3-advanced.png"), full_page=True)
            page.goto(f"{base}/")
            expect(page.locator("table.ventures")).to_contain_text("2 · Build")
            page.screenshot(path=str(shots / "4-portfolio.png"), full_page=True)
            browser.close()
        assert errors == [], errors
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy2(shot, ARTIFACTS / shot.name)
    assert len(list(shots.glob("*.png"))) == 4
