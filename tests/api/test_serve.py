"""`venturegate serve` on loopback: the API answers and its in-process worker fires a `for: 2s` trigger on time."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import MINI
from venturegate.cli.app import app as cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_token_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    made = runner.invoke(cli, ["token", "create", "--name", "ci", "--role", "agent", "--json"])
    assert made.exit_code == 0, made.output
    secret = json.loads(made.output)["token"]
    assert secret.startswith("vg_") and len(secret) > 40
    listed = runner.invoke(cli, ["token", "list", "--json"])
    assert secret not in listed.output and json.loads(listed.output)[0]["role"] == "agent"
    bad = runner.invoke(cli, ["token", "create", "--name", "x", "--role", "king"])
    assert bad.exit_code == 1 and "unknown role 'king'" in bad.output
    assert runner.invoke(cli, ["token", "revoke", "ci"]).exit_code == 0
    again = runner.invoke(cli, ["token", "revoke", "ci"])
    assert again.exit_code == 1 and "already revoked" in again.output


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_serve_runs_api_and_worker(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'vg.db'}"
    env = {
        **os.environ,
        "VENTUREGATE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "VENTUREGATE_ACTOR": "ada:chairman",
    }
    base = [sys.executable, "-m", "venturegate.cli.app", "--db", db_url, "--workflow", str(MINI)]
    made = subprocess.run(
        [*base, "token", "create", "--name", "ada", "--role", "chairman", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    token = json.loads(made.stdout)["token"]
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    proc = subprocess.Popen(
        [*base, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                assert _call(f"{url}/health", token)["status"] == "ok"
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "serve did not answer in 20 s"
                time.sleep(0.2)
        _call(f"{url}/ventures", token, {"name": "slowpoke", "segment": "b2b_smb", "stage": 2})
        _call(f"{url}/ventures/slowpoke/attestations", token, {"criterion": "Budget approved"})
        got = _call(f"{url}/metrics", token, {"venture": "slowpoke", "metric": "latency_ms", "value": 1500})
        assert [f["outcome"] for f in got["fired"]] == ["pending"]
        deadline = time.monotonic() + 30
        kinds: list[str] = []
        while "alert" not in kinds and time.monotonic() < deadline:
            time.sleep(0.3)
            kinds = [e["kind"] for e in _call(f"{url}/events?venture=slowpoke&limit=1000", token)["events"]]
        assert "alert" in kinds, kinds  # nobody called tick: the in-process worker woke at the `for` end
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0
