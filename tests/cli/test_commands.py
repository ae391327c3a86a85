"""The CLI end to end on a SQLite workspace: JSON shapes, exit codes, errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MINI
from venturegate.cli.app import app

runner = CliRunner()


@pytest.fixture
def vg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `venturegate` with a workspace database in tmp_path and the mini workflow."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENTUREGATE_ACTOR", "lee:lead")

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--workflow", str(MINI), *args])
        assert result.exit_code == code, (args, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.output

    return run


def test_default_database_is_created_in_workspace(vg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    vg("venture", "create", "acme", "--segment", "b2b_smb")
    assert (tmp_path / ".venturegate" / "venturegate.db").exists()


def test_lifecycle_json(vg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = json.loads(vg("venture", "create", "acme", "--segment", "b2b_smb", "--json"))
    assert {"id", "name", "segment", "stage", "status", "workflow_digest"} <= created.keys()
    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps({"title": "Pet insurance", "problem": "Vet bills"}))
    art = json.loads(vg("artifact", "put", "acme", "idea_brief", str(brief), "--json"))
    assert (art["name"], art["version"]) == ("idea_brief", 1)
    sample = json.loads(vg("metric", "record", "acme", "idea_score", "7", "--key", "k1", "--json"))
    assert sample["sample"]["duplicate"] is False
    again = json.loads(vg("metric", "record", "acme", "idea_score", "7", "--key", "k1", "--json"))
    assert again["sample"]["duplicate"] is True
    gate = json.loads(vg("gate", "check", "acme", "--json", code=3))
    assert set(gate) == {"venture", "stage", "gate", "passed", "checks"}
    assert gate["passed"] is False and gate["gate"] == "exit"
    for check in gate["checks"]:
        assert {"name", "kind", "verdict", "observed", "expected", "reason"} <= check.keys()
    vg("substage", "complete", "acme", "1.1")
    vg("attest", "acme", "Founder interviewed")
    assert json.loads(vg("gate", "check", "acme", "--json"))["passed"] is True
    moved = json.loads(vg("advance", "acme", "--json"))
    assert (moved["from_stage"], moved["stage"], moved["status"]) == (1, 2, "blocked")
    entry = json.loads(vg("gate", "check", "acme", "--entry", "--json", code=3))
    assert entry["gate"] == "entry"
    events = json.loads(vg("events", "acme", "--json"))
    assert [e["kind"] for e in events][:2] == ["venture.created", "stage.entered"]
    assert all({"actor", "actor_kind", "at", "stage", "substage", "reason"} <= e.keys() for e in events)
    shown = json.loads(vg("venture", "show", "acme", "--json"))
    assert [v["stage"] for v in shown["visits"]] == [1, 2]


def test_approvals_and_roles(vg) -> None:  # type: ignore[no-untyped-def]
    vg("venture", "create", "late", "--segment", "b2c_mass", "--stage", "3")
    req = json.loads(vg("approval", "request", "late", "--role", "chairman", "--json"))
    out = vg("approval", "approve", str(req["id"]), code=1)
    assert "is for chairman" in out
    done = json.loads(vg("--as", "ada:chairman", "approval", "approve", str(req["id"]), "--json"))
    assert done["status"] == "approved"
    assert json.loads(vg("advance", "late", "--json"))["status"] == "completed"
    listed = json.loads(vg("approval", "list", "--json"))
    assert listed[0]["decided_by"] == "ada"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["venture", "create", "x", "--segment", "nope"], "unknown segment"),
        (["venture", "show", "ghost"], "no venture 'ghost'"),
        (["metric", "record", "acme", "idea_score", "abc"], "'abc' is not a number"),
        (["metric", "record", "acme", "idea_score", "5", "--at", "yesterday"], "not an ISO 8601"),
        (["metric", "record", "acme", "nope", "5"], "unknown metric"),
        (["--as", "nobody", "attest", "acme", "x"], "NAME:ROLE"),
        (["substage", "complete", "acme", "9.9"], "not part of stage 1"),
    ],
)
def test_bad_input_exits_1_with_message(vg, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    vg("venture", "create", "acme", "--segment", "b2b_smb")
    before = vg("events", "acme", "--json")
    out = vg(*args, code=1)
    assert message in out
    assert vg("events", "acme", "--json") == before


def test_artifact_errors_list_pointers(vg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    vg("venture", "create", "acme", "--segment", "b2b_smb")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"title": "x", "budget": -1}))
    out = vg("artifact", "put", "acme", "idea_brief", str(bad), code=1)
    assert "/budget" in out and "'problem' is a required property" in out
    broken = tmp_path / "broken.json"
    broken.write_text('{"title": ')
    assert "broken.json:1:" in vg("artifact", "put", "acme", "idea_brief", str(broken), code=1)


def test_metric_import_csv_and_jsonl(vg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    vg("venture", "create", "acme", "--segment", "b2b_smb")
    csv_file = tmp_path / "s.csv"
    csv_file.write_text("venture,metric,value,at,key\nacme,idea_score,5,2026-11-01T10:00:00Z,a\nacme,idea_score,6,,b\n")
    res = json.loads(vg("metric", "import", str(csv_file), "--json"))
    assert res == {"file": str(csv_file), "recorded": 2, "duplicates": 0, "fired": []}
    jl = tmp_path / "s.jsonl"
    jl.write_text('{"metric": "idea_score", "value": 7, "key": "a"}\n{"metric": "idea_score", "value": 8}\n')
    res = json.loads(vg("metric", "import", str(jl), "--venture", "acme", "--json"))
    assert (res["recorded"], res["duplicates"]) == (1, 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("venture,metric,value\nacme,idea_score,5\nacme,idea_score,-\n")
    assert "bad.csv:3" in vg("metric", "import", str(bad), code=1)


def test_lineage_and_show(vg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    vg("venture", "create", "acme", "--segment", "b2b_smb")
    notes = tmp_path / "n.json"
    notes.write_text("{}")
    vg("artifact", "put", "acme", "market_notes", str(notes))
    brief = tmp_path / "b.json"
    brief.write_text(json.dumps({"title": "abc", "problem": "p"}))
    vg("artifact", "put", "acme", "idea_brief", str(brief), "--derived-from", "market_notes@1")
    chain = json.loads(vg("artifact", "lineage", "acme", "idea_brief", "--json"))
    assert [(c["depth"], c["name"]) for c in chain] == [(0, "idea_brief"), (1, "market_notes")]
    shown = json.loads(vg("artifact", "show", "acme", "idea_brief", "--version", "1", "--json"))
    assert shown["content"] == {"title": "abc", "problem": "p"}
    assert "market_notes@1" in vg("artifact", "lineage", "acme", "idea_brief")


def test_pause_resume_kill_and_list(vg) -> None:  # type: ignore[no-untyped-def]
    vg("venture", "create", "acme", "--segment", "b2b_smb")
    vg("venture", "create", "beta", "--segment", "b2c_mass")
    assert json.loads(vg("venture", "pause", "acme", "--reason", "hold", "--json"))["status"] == "paused"
    assert json.loads(vg("venture", "resume", "acme", "--json"))["status"] == "active"
    vg("venture", "kill", "beta")
    rows = json.loads(vg("venture", "list", "--status", "killed", "--json"))
    assert [r["name"] for r in rows] == ["beta"]
    assert "acme" in vg("venture", "list")


def test_db_upgrade(vg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = vg("--db", f"sqlite:///{tmp_path / 'x.db'}", "db", "upgrade")
    assert "revision" in out
