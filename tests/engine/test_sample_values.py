"""Issue 17, M5: a sample outside its metric's range, of the wrong JSON type, or at an implausible time is refused."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.conftest import CHAIR, LEAD, T0
from venturegate.api import create_app
from venturegate.cli.app import app as cli
from venturegate.definitions.loader import load_workflow
from venturegate.engine import BadInput, Engine, SampleIn
from venturegate.engine.samples import ValueSpec, max_sample_age, sample_error
from venturegate.store.database import connect, ensure_schema
from venturegate.store.schema import samples

WORKFLOW = """
workflow: {id: ranged, version: "1"}
stages:
  - id: 1
    title: Ask
    substages: [{id: "1.1", title: Ask, done_when: [Asked]}]
    metrics:
      survey_score: {unit: score, min: 1, max: 5, direction: higher_is_better}
      signups: {unit: count, direction: higher_is_better}
"""


@pytest.fixture
def ranged(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "ranged.yaml"
    path.write_text(WORKFLOW)
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, load_workflow(path), clock=lambda: T0)
    eng.create_venture("acme", "b2b_smb", actor=LEAD)
    yield eng
    db.dispose()


def test_the_one_check() -> None:
    score = ValueSpec("score", 1, 5)
    assert sample_error(score, 3) == ""
    assert sample_error(score, 99) == "99 is above the metric's range 1–5"
    assert sample_error(score, 0.5) == "0.5 is below the metric's range 1–5"
    assert sample_error(score, True) == "True is not a number"
    assert sample_error(ValueSpec("percent"), 101) == "101 is outside 0–100 for a percent metric"
    assert sample_error(ValueSpec("count", None, 10), -1) == "-1 is negative; count values are never below 0"
    assert (
        sample_error(ValueSpec("percent"), 2904430.5) == "2904430.5 is outside 0–100 for a percent metric"
    )  # no 2.90443e+06


@pytest.mark.parametrize(
    ("sample", "where", "message"),
    [
        (SampleIn("acme", "survey_score", 99), "value (survey_score)", "above the metric's range 1–5"),
        (SampleIn("acme", "survey_score", True), "value (survey_score)", "True is not a number"),
        (SampleIn("acme", "signups", 1, T0.replace(year=1)), "at", "more than 1826 days ago"),
        (SampleIn("acme", "signups", 1, T0.replace(year=1969)), "at", "more than 1826 days ago"),
        (SampleIn("acme", "signups", 1, T0 + timedelta(hours=1)), "at", "in the future"),
    ],
)
def test_refused_in_a_batch_and_alone(ranged: Engine, sample: SampleIn, where: str, message: str) -> None:
    good = SampleIn("acme", "survey_score", 4)
    with pytest.raises(BadInput) as info:
        ranged.record_samples([good, sample], actor=LEAD)
    assert info.value.where == f"sample 1.{where}" and message in info.value.message
    with pytest.raises(BadInput) as alone:
        ranged.record_samples([sample], actor=LEAD)
    assert alone.value.where == f"sample.{where}" and message in alone.value.message
    with ranged.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(samples)).scalar() == 0


def test_the_window_is_configurable(ranged: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    old = SampleIn("acme", "signups", 1, T0 - timedelta(days=4000))
    with pytest.raises(BadInput, match="VENTUREGATE_SAMPLE_MAX_AGE"):
        ranged.record_samples([old], actor=LEAD)
    ranged.sample_max_age = timedelta(days=5000)
    assert ranged.record_samples([old], actor=LEAD).samples[0].value == 1
    monkeypatch.setenv("VENTUREGATE_SAMPLE_MAX_AGE", "30d")
    assert max_sample_age() == timedelta(days=30)
    monkeypatch.setenv("VENTUREGATE_SAMPLE_MAX_AGE", "soon")
    with pytest.raises(BadInput, match="is not a duration"):
        max_sample_age()


def test_the_api_refuses_json_true_and_out_of_range(ranged: Engine) -> None:
    _, token = ranged.create_token("w", "agent", actor=CHAIR)
    with TestClient(create_app(ranged)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        for value, text in ((True, "valid number"), ("3", "valid number"), (99, "above the metric's range")):
            got = c.post("/api/metrics", json={"venture": "acme", "metric": "survey_score", "value": value})
            assert got.status_code == 422, got.text
            assert got.json()["errors"][0]["where"].startswith("body.value")
            assert text in got.json()["errors"][0]["message"]
        ok = c.post("/api/metrics", json={"venture": "acme", "metric": "survey_score", "value": 5})
        assert ok.status_code == 200 and ok.json()["recorded"] == 1


def _vg(tmp_path: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--workflow", str(tmp_path / "ranged.yaml"), *args])
    assert result.exit_code == code, (args, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.output


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENTUREGATE_ACTOR", "lee:lead")
    (tmp_path / "ranged.yaml").write_text(WORKFLOW)
    _vg(tmp_path, "venture", "create", "acme", "--segment", "b2b_smb")
    return tmp_path


def test_import_is_all_or_nothing_and_names_the_file_line(workspace: Path) -> None:
    rows = ["venture,metric,value,at,key"] + [f"acme,survey_score,{1 + i % 5},,k{i}" for i in range(2500)]
    rows[2100] = "acme,survey_score,99,,bad"  # line 2101, in the third batch of 1000
    csv_file = workspace / "answers.csv"
    csv_file.write_text("\n".join(rows) + "\n")
    out = _vg(workspace, "metric", "import", str(csv_file), code=1)
    assert "answers.csv:2101" in out and "above the metric's range 1–5" in out
    assert "nothing from this file was stored" in out
    db = connect(f"sqlite:///{workspace / '.venturegate' / 'venturegate.db'}")
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(samples)).scalar() == 0
    db.dispose()
    rows[2100] = "acme,survey_score,5,,k2099"
    csv_file.write_text("\n".join(rows) + "\n")
    assert json.loads(_vg(workspace, "metric", "import", str(csv_file), "--json"))["recorded"] == 2500


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.jsonl", '{"metric": "survey_score", "value": 4}\n{"metric": "survey_score", "value": true}\n', "a.jsonl:2"),
        ("b.jsonl", '{"metric": "signups", "value": 1, "at": "0001-01-01T00:00:00Z"}\n', "b.jsonl:1 at"),
        ("c.csv", "venture,metric,value\nacme,signups,\xff\n", "not UTF-8"),
        ("d.jsonl", "[1, 2]\n", "d.jsonl:1"),
        ("e.csv", 'venture,metric,value\nacme,"signups\n', "e.csv"),
    ],
)
def test_bad_files_are_errors_not_tracebacks(workspace: Path, name: str, content: str, expected: str) -> None:
    path = workspace / name
    path.write_bytes(content.encode("latin-1") if "\xff" in content else content.encode())
    out = _vg(workspace, "metric", "import", str(path), "--venture", "acme", code=1)
    assert expected in out
    assert "Traceback" not in out


def test_import_into_a_killed_venture_names_the_line(workspace: Path) -> None:
    """A killed venture is a conflict (409 over the API), and `metric import` still names the file line."""
    _vg(workspace, "venture", "create", "gone", "--segment", "b2b_smb")
    _vg(workspace, "venture", "kill", "gone", "--reason", "no market")
    path = workspace / "mixed.csv"
    path.write_text("venture,metric,value\nacme,survey_score,4\ngone,survey_score,4\n")
    out = _vg(workspace, "metric", "import", str(path), code=1)
    assert "mixed.csv:3 venture" in out and "killed" in out and "nothing from this file was stored" in out
