"""The deployment examples (deploy/) are valid: the compose file, the systemd units, HAProxy's configuration."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from venturegate.cli.app import app

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

# The part of the Compose specification (compose-spec.io) the file uses: checked when `docker compose` is absent.
_SERVICE = {
    "type": "object",
    "properties": {
        "image": {"type": "string"},
        "build": {"type": "object", "required": ["context"]},
        "command": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "environment": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
        "ports": {"type": "array", "items": {"type": "string", "pattern": r"^\d+:\d+$"}},
        "volumes": {"type": "array", "items": {"type": "string", "pattern": r"^[^:]+:[^:]+(:ro)?$"}},
        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
        "depends_on": {
            "oneOf": [
                {"type": "array", "items": {"type": "string"}},
                {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "condition": {
                                "enum": ["service_started", "service_healthy", "service_completed_successfully"]
                            }
                        },
                        "required": ["condition"],
                        "additionalProperties": False,
                    },
                },
            ]
        },
        "healthcheck": {
            "type": "object",
            "properties": {"test": {"type": "array", "items": {"type": "string"}}},
            "required": ["test"],
        },
        "stop_grace_period": {"type": "string", "pattern": r"^\d+[smh]$"},
    },
    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
    "additionalProperties": False,
}
COMPOSE_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "services": {"type": "object", "additionalProperties": _SERVICE, "minProperties": 1},
        "volumes": {"type": "object"},
    },
    "patternProperties": {"^x-": {}},
    "required": ["services"],
    "additionalProperties": False,
}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())  # merges `<<:` anchors
    return loaded


def _docker_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0


def test_compose_file_is_valid_and_runs_the_scale_path() -> None:
    if _docker_compose():
        env = {"POSTGRES_PASSWORD": "x", "PATH": "/usr/bin:/bin:/usr/local/bin"}
        got = subprocess.run(
            ["docker", "compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "-q"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert got.returncode == 0, got.stderr
    doc = _compose()
    jsonschema.validate(doc, COMPOSE_SCHEMA)
    services = doc["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        assert set(deps) <= set(services), (name, deps)
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith(".") or source in doc["volumes"], (name, volume)
    commands = {name: svc["command"] for name, svc in services.items() if "command" in svc}
    apis = [n for n, c in commands.items() if c[:2] == ["venturegate", "serve"]]
    workers = [n for n, c in commands.items() if c[:2] == ["venturegate", "worker"]]
    assert len(apis) == 2 and all("--no-worker" in commands[n] for n in apis)
    assert len(workers) == 2
    for name in apis + workers:
        env = services[name]["environment"]
        assert env["VENTUREGATE_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["VENTUREGATE_QUEUE_URL"].startswith("redis://")
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    haproxy = (DEPLOY / "haproxy.cfg").read_text()
    assert all(f"server {n} {n}:8000 check" in haproxy for n in apis)


def test_compose_and_unit_commands_are_real_cli_commands() -> None:
    commands = [
        svc["command"] for svc in _compose()["services"].values() if svc.get("command", [""])[0] == "venturegate"
    ]
    for unit in UNITS:
        exec_start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
        commands.append(exec_start.removeprefix("ExecStart=").replace("%i", "8001").split())
    assert len(commands) == 7
    for command in commands:
        # Click parses every argument before it answers --help: an unknown command or option fails here.
        got = CliRunner().invoke(app, [*command[1:], "--help"])
        assert got.exit_code == 0, (command, got.output)


UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_unit_is_valid(unit: Path, tmp_path: Path) -> None:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    assert set(parser.sections()) == {"Unit", "Service", "Install"}
    service = parser["Service"]
    assert service["ExecStart"].startswith("/opt/venturegate/.venv/bin/venturegate ")
    assert service["EnvironmentFile"] == "/etc/venturegate/venturegate.env"
    assert service["Restart"] == "always"
    kind = "serve --no-worker" if unit.name.startswith("venturegate-api") else "worker"
    assert f" {kind}" in service["ExecStart"]
    if shutil.which("systemd-analyze"):
        # Verified with an executable that exists here; systemd reports unknown keys and bad values on stderr.
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/venturegate/.venv/bin/venturegate", "/bin/true"))
        got = subprocess.run(
            ["systemd-analyze", "verify", str(copy).replace("@.service", "@1.service")],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        problems = [line for line in got.stderr.splitlines() if unit.name in line]
        assert got.returncode == 0 and problems == [], got.stderr
