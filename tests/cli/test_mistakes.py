"""A newcomer's mistakes: each gets a one-line error with a hint (or Click's usage line) and changes nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MINI
from venturegate.cli.app import app

runner = CliRunner()
TABLES = ("ventures", "samples", "artifacts", "events", "approvals", "config_versions", "substage_status")


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--workflow", str(MINI), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    return result.exit_code, result.output


def _state(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with `acme` at stage 1 and sample files, good and bad."""
    folder = tmp_path_factory.mktemp("mistakes")
    files = {
        "brief.json": json.dumps({"title": "Pet insurance", "problem": "Vet bills"}),
        "broken.json": '{"title": "Pet insurance",',
        "wrong.json": json.dumps({"title": "P"}),
        "bad-value.csv": "venture,metric,value,at,key\nacme,idea_score,7,,\nacme,idea_score,lots,,\n",
        "ghost.csv": "venture,metric,value,at,key\nacme,idea_score,7,,\nghost,idea_score,3,,\n",
        "typo.csv": "venture,metric,value,at,key\nacme,idea_score,7,,\nacme,idea_scor,3,,\n",
        "no-venture.csv": "metric,value\nidea_score,7\n",
        "broken.jsonl": '{"venture": "acme", "metric": "idea_score", "value": 7}\n{"venture": \n',
        "bad-time.csv": "venture,metric,value,at,key\nacme,idea_score,7,last tuesday,\n",
        "bad.yaml": "workflow: {id: x, version: '1'}\nstages:\n  - id: 1\n    titel: One\n",
        "notadb.db": "hello",
        "nul.csv": "venture,metric,value,at,key\nacme,idea_score,7,,\nacme,idea_\0score,3,,\n",
        "shifted.csv": "venture,metric,value,at,key\nacme,idea_score,7,,\nacme,idea_score,7,5,,,\n",
        "wrong-lines.json": '{\n  "title": "Pet insurance",\n  "problem": "Vet bills",\n  "budget": -5\n}\n',
        "wrong.yaml": "title: Pet insurance\nproblem: Vet bills\nbudgt: 5\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "broken.yaml").write_text("title: Pet insurance\nproblem: [Vet bills\n", encoding="utf-8")
    (folder / "latin1.csv").write_bytes(
        "venture,metric,value,at,key\nacme,idea_score,7,,\nacmé,idea_score,3,,\n".encode("latin-1")
    )
    return folder


def db_of(folder: Path) -> str:
    return str(folder / "vg.db")


MISTAKES: list[tuple[str, list[str]]] = [
    ("duplicate venture name", ["venture", "create", "acme", "--segment", "b2b_smb"]),
    ("unknown segment", ["venture", "create", "beta", "--segment", "enterprise"]),
    ("start at a missing stage", ["venture", "create", "beta", "--segment", "b2b_smb", "--stage", "99"]),
    ("show an unknown venture", ["venture", "show", "ghost"]),
    ("show a misspelt venture", ["venture", "show", "acm"]),
    ("pause an unknown venture", ["venture", "pause", "ghost"]),
    ("record an unknown metric", ["metric", "record", "acme", "idea_scor", "5"]),
    ("record a word as a value", ["metric", "record", "acme", "idea_score", "abc"]),
    ("record with a bad time", ["metric", "record", "acme", "idea_score", "5", "--at", "yesterday"]),
    ("record in the future", ["metric", "record", "acme", "idea_score", "5", "--at", "2099-01-01T00:00:00Z"]),
    ("record for an unknown venture", ["metric", "record", "ghost", "idea_score", "5"]),
    ("re-use a key with another value", ["metric", "record", "acme", "idea_score", "6", "--key", "k1"]),
    ("import a missing file", ["metric", "import", "{dir}/missing.csv"]),
    ("import a bad value", ["metric", "import", "{dir}/bad-value.csv"]),
    ("import an unknown venture", ["metric", "import", "{dir}/ghost.csv"]),
    ("import a misspelt metric", ["metric", "import", "{dir}/typo.csv"]),
    ("import rows without a venture", ["metric", "import", "{dir}/no-venture.csv"]),
    ("import broken JSON Lines", ["metric", "import", "{dir}/broken.jsonl"]),
    ("import a bad time", ["metric", "import", "{dir}/bad-time.csv"]),
    ("put a missing file", ["artifact", "put", "acme", "idea_brief", "{dir}/missing.json"]),
    ("put broken JSON", ["artifact", "put", "acme", "idea_brief", "{dir}/broken.json"]),
    ("put a schema-invalid artifact", ["artifact", "put", "acme", "idea_brief", "{dir}/wrong.json"]),
    ("put an undeclared artifact", ["artifact", "put", "acme", "idea_brif", "{dir}/brief.json"]),
    ("complete a missing substage", ["substage", "complete", "acme", "9.9"]),
    ("attest an unknown criterion", ["attest", "acme", "Founder interviewd"]),
    ("advance with a failing gate", ["advance", "acme"]),
    ("check the gate of an unknown venture", ["gate", "check", "ghost"]),
    ("request an approval from an unknown role", ["approval", "request", "acme", "ceo", "--reason", "go"]),
    ("approve a missing approval", ["approval", "approve", "999"]),
    ("bypass a missing approval", ["approval", "bypass", "999", "--reason", "urgent"]),
    ("set an unknown config key", ["config", "set", "acme", "max_latency", "5", "--reason", "tune"]),
    ("set a config value out of range", ["config", "set", "acme", "max_latency_ms", "99999", "--reason", "tune"]),
    ("set a word where a number goes", ["config", "set", "acme", "max_latency_ms", "fast", "--reason", "tune"]),
    ("act as an unknown role", ["--as", "ada:ceo", "venture", "pause", "acme"]),
    ("act without a role", ["--as", "ada", "venture", "pause", "acme"]),
    ("a viewer kills a venture", ["--as", "vic:viewer", "venture", "kill", "acme"]),
    ("an agent ticks the timers", ["--as", "bot:agent", "tick"]),
    ("a database folder that does not exist", ["--db", "/nonexistent/folder/vg.db", "venture", "list"]),
    ("a database file that does not exist", ["--db", "{dir}/missing.db", "venture", "list"]),
    ("a file that is not a database", ["--db", "{dir}/notadb.db", "venture", "list"]),
    ("a database URL of an unknown kind", ["--db", "oracle9://x/y", "venture", "list"]),
    ("a negative limit", ["events", "acme", "--limit", "-1"]),
    ("a zero limit", ["events", "acme", "--limit", "0"]),
    ("stage zero", ["venture", "list", "--stage", "0"]),
    ("an unknown command", ["ventures", "list"]),
    ("an unknown option", ["venture", "list", "--colour"]),
    ("a missing argument", ["metric", "record", "acme"]),
    ("validate a missing workflow", ["workflow", "validate", "{dir}/missing.yaml"]),
    ("validate a workflow with a typo", ["workflow", "validate", "{dir}/bad.yaml"]),
    ("resolve a missing escalation", ["escalation", "resolve", "SD-1-ESCALATION-9", "--resume-at", "1"]),
    ("roll back to a missing snapshot", ["rollback", "run", "acme", "--to", "pre-stage-9", "--reason", "x"]),
    ("tick at a bad time", ["--as", "lee:lead", "tick", "--now", "soon"]),
    ("change config without a reason", ["config", "set", "acme", "max_latency_ms", "400"]),
    ("import a CSV with a NUL byte", ["metric", "import", "{dir}/nul.csv"]),
    ("import a CSV row with more cells than the header", ["metric", "import", "{dir}/shifted.csv"]),
    ("import a file that is not UTF-8", ["metric", "import", "{dir}/latin1.csv"]),
    (
        "put an artifact whose value breaks the schema",
        ["artifact", "put", "acme", "idea_brief", "{dir}/wrong-lines.json"],
    ),
    ("put a YAML artifact with an unknown field", ["artifact", "put", "acme", "idea_brief", "{dir}/wrong.yaml"]),
    ("put broken YAML", ["artifact", "put", "acme", "idea_brief", "{dir}/broken.yaml"]),
    (
        "record negative exposures",
        ["experiment", "record", "acme", "t1", "--variant", "a", "--exposures", "-5", "--conversions", "1"],
    ),
    ("move a level of an unknown metric", ["config", "set", "acme", "level.idea_scor.threshold", "7", "--reason", "x"]),
]

FILE_LINES = [
    ("bad-value.csv", ["metric", "import"], 3),
    ("ghost.csv", ["metric", "import"], 3),
    ("typo.csv", ["metric", "import"], 3),
    ("no-venture.csv", ["metric", "import"], 2),
    ("broken.jsonl", ["metric", "import"], 2),
    ("bad-time.csv", ["metric", "import"], 2),
    ("nul.csv", ["metric", "import"], 3),
    ("shifted.csv", ["metric", "import"], 3),
    ("latin1.csv", ["metric", "import"], 3),
    ("broken.json", ["artifact", "put", "acme", "idea_brief"], 1),
    ("wrong-lines.json", ["artifact", "put", "acme", "idea_brief"], 4),
    ("wrong.yaml", ["artifact", "put", "acme", "idea_brief"], 1),
    ("broken.yaml", ["artifact", "put", "acme", "idea_brief"], 3),
]
"""Each bad input file, the command reading it, and the line its error must name."""


@pytest.fixture(scope="module")
def ready(workspace: Path) -> Path:
    db = db_of(workspace)
    assert _run("--db", db, "--as", "lee:lead", "venture", "create", "acme", "--segment", "b2b_smb")[0] == 0
    assert _run("--db", db, "--as", "lee:lead", "metric", "record", "acme", "idea_score", "5", "--key", "k1")[0] == 0
    return workspace


def test_the_catalogue_is_long_enough() -> None:
    assert len(MISTAKES) >= 40


@pytest.mark.parametrize(("what", "args"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_gets_one_line_with_a_hint_and_changes_nothing(ready: Path, what: str, args: list[str]) -> None:
    db = db_of(ready)
    before = _state(Path(db))
    argv = [a.replace("{dir}", str(ready)) for a in args]
    if "--db" not in argv:
        argv = ["--db", db, *argv]
    if "--as" not in argv:
        argv = ["--as", "lee:lead", *argv]
    code, output = _run(*argv)
    assert code in (1, 2, 3), (what, code, output)
    if code == 2:  # Click's usage error: what is wrong, and where help is
        assert "Try 'venturegate" in output and "--help' for help" in output, output
    else:
        errors = [line for line in output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in output, (what, output)
        if "the workflow has" in errors[0]:  # a workflow's problems: located lines, the cause with a hint
            located = [line for line in output.splitlines() if line.startswith(str(ready))]
            assert located and any("(hint: " in line for line in located), (what, output)
        else:
            assert "(hint: " in errors[0], (what, errors[0])
    assert _state(Path(db)) == before, what


def test_with_json_an_error_is_one_json_object(ready: Path) -> None:
    code, output = _run(
        "--db", db_of(ready), "--as", "lee:lead", "metric", "record", "acme", "idea_scor", "5", "--json"
    )
    assert code == 1
    problem = json.loads(output.strip().splitlines()[-1])
    assert problem == {
        "error": "unknown metric 'idea_scor'",
        "where": "sample.metric",
        "hint": "did you mean 'idea_score'?",
    }


@pytest.mark.parametrize(("name", "command", "line"), FILE_LINES, ids=[f[0] for f in FILE_LINES])
def test_an_error_in_a_file_names_its_line(ready: Path, name: str, command: list[str], line: int) -> None:
    path = ready / name
    code, output = _run("--db", db_of(ready), "--as", "lee:lead", *command, str(path), "--json")
    assert code == 1, output
    problem = json.loads(output.strip().splitlines()[-1])
    assert problem["where"].startswith(f"{path}:{line}"), problem
    assert problem["hint"], problem


def test_a_negative_value_needs_no_double_dash(ready: Path) -> None:
    code, output = _run("--db", db_of(ready), "--as", "lee:lead", "metric", "record", "acme", "idea_score", "-2")
    assert code == 0 and "recorded idea_score=-2" in output
