"""The readiness score's breakdown in the engine's own gate explanation: `gate check` (table and `--json`),
the API's gate and the dashboard show each weighted component of the latest reading (measured value, weight,
contribution) from the `readiness_breakdown` artifact the metric names in `explained_by`."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.web.conftest import login
from venturegate.api import create_app
from venturegate.cli.app import app
from venturegate.crews.stage14 import demo, scoring
from venturegate.definitions.loader import load_workflow
from venturegate.definitions.source import DefinitionError
from venturegate.engine import Engine, SampleIn

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

CHECK = "Readiness score (fresh)"
MEASURED = {"dev_environment_access_rate": 100.0, "roles_filled_percent": 80.0, "team_velocity": 25.0}


def _evidence(engine: Engine) -> dict[str, Any]:
    check = next(c for c in engine.check_gate("acme", "exit").checks if c.name == CHECK)
    assert check.evidence is not None, check
    return check.evidence


def test_the_gate_explanation_shows_the_latest_readings_breakdown(bundled: Engine) -> None:
    demo.enter(bundled, "acme")
    none_yet = _evidence(bundled)["readiness_score"]
    assert none_yet == {"artifact": "readiness_breakdown", "version": None, "content": None}
    bundled.record_samples([SampleIn("acme", m, v, key=f"m-{m}") for m, v in MEASURED.items()], actor=demo.LEAD)
    score, _ = scoring.refresh(bundled, "acme", actor=demo.LEAD, key="r-1")

    ev = _evidence(bundled)["readiness_score"]
    assert isinstance(ev, dict) and (ev["artifact"], ev["version"]) == ("readiness_breakdown", 1)
    content = ev["content"]
    since, until = datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1)
    latest = bundled.samples("acme", "readiness_score", since=since, until=until)[-1]
    assert content["value"] == score.score == latest.value and content["sample_key"] == "r-1"
    parts = {p["name"]: p for p in content["components"]}
    assert len(parts) == 14
    assert parts["environment: dev access"]["measured"] == {"dev_environment_access_rate": 100.0}
    assert (parts["environment: dev access"]["weight"], parts["environment: dev access"]["contribution"]) == (
        25,
        pytest.approx(25 / 3, abs=0.001),
    )
    assert parts["team: roles filled"]["contribution"] == pytest.approx(40 * 0.8 / 3, abs=0.001)
    assert parts["team: onboarding"]["measured"] == {"onboarding_completion_rate": None}  # not measured: counts 0
    assert sum(p["contribution"] for p in parts.values()) == pytest.approx(score.score, abs=0.02)

    db = bundled.db.url.render_as_string(hide_password=False)
    as_json = CliRunner().invoke(app, ["--db", db, "gate", "check", "acme", "--json"])
    check = next(c for c in json.loads(as_json.output)["checks"] if c["name"] == CHECK)
    assert check["evidence"]["readiness_score"]["content"] == content
    table = CliRunner().invoke(app, ["--db", db, "gate", "check", "acme"], env={"COLUMNS": "200"})
    assert f"readiness_score {score.score:g} — breakdown from readiness_breakdown@1" in table.output, table.output
    assert "environment: dev access" in table.output and "dev_environment_access_rate 100" in table.output

    secret = bundled.create_token("viewer-1", "viewer", actor=demo.LEAD)[1]
    with TestClient(create_app(bundled)) as client:
        gate = client.get("/api/ventures/acme/gate", headers={"Authorization": f"Bearer {secret}"}).json()
        shown = next(c for c in gate["checks"] if c["name"] == CHECK)
        assert shown["evidence"]["readiness_score"]["content"]["components"] == content["components"]
        login(client, secret)
        page = client.get("/ventures/acme").text
    assert "breakdown from readiness_breakdown@1" in page
    assert "<td>team: roles filled</td><td>roles_filled_percent 80</td><td>40</td>" in page


def test_a_metric_explained_by_an_undeclared_artifact_is_refused(tmp_path: object) -> None:
    from pathlib import Path

    flow = Path(str(tmp_path)) / "flow.yaml"
    flow.write_text(
        "workflow: {id: w, version: '1'}\nstages:\n  - id: 1\n    title: One\n    metrics:\n"
        "      score: {unit: score, explained_by: score_parts}\n",
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError, match=r"flow.yaml:6:\d+: stage 1: unknown artifact 'score_parts'"):
        load_workflow(flow)
