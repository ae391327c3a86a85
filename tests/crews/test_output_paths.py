"""Issue 17, H2: the stage-19 and stage-30 crews write under the crew root, in folders named from ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crews.conftest import LEAD
from venturegate.crews.base import Crew, CrewContext
from venturegate.crews.paths import output_folder
from venturegate.crews.stage19.crew import IntegrationVerificationCrew
from venturegate.crews.stage19.demo import put_inputs
from venturegate.crews.stage19.inputs import load_spec
from venturegate.crews.stage30.deployment import DeploymentCrew
from venturegate.engine import BadInput, Engine

CREWS: list[tuple[Crew, int]] = [(IntegrationVerificationCrew(), 19), (DeploymentCrew(), 30)]


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(("crew", "stage"), CREWS, ids=["stage19", "stage30"])
def test_a_hostile_venture_name_stays_under_the_root(
    sqlite_engine: Engine, tmp_path: Path, crew: Crew, stage: int
) -> None:
    root = tmp_path / "root" / "crews"
    root.mkdir(parents=True)
    venture = sqlite_engine.create_venture("../../escaped", "b2b_smb", stage, actor=LEAD)
    result = crew.run(CrewContext(sqlite_engine, venture.name, stage, options={"report": True}, output_root=root))
    if stage == 19:  # it stops early (no inputs) and writes its report into the run's folder
        out = Path(result.summary["out_dir"])
        assert out.parent == root.resolve() / f"v{venture.id}" and out.name.startswith("run-")
        assert (out / "report.md").exists()
    written = [p for p in _files(tmp_path) if not p.name.startswith("vg.db")]
    assert all(p.resolve().is_relative_to(root.resolve()) for p in written), written
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "root" / "escaped").exists()


@pytest.mark.parametrize(("crew", "stage"), CREWS, ids=["stage19", "stage30"])
def test_out_dir_cannot_leave_the_root(sqlite_engine: Engine, tmp_path: Path, crew: Crew, stage: int) -> None:
    root = tmp_path / "crews"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    venture = sqlite_engine.create_venture("acme", "b2b_smb", stage, actor=LEAD)
    for bad in ("../outside", str(outside), "link", "link/deeper", "/tmp", "a/../../outside", "x\x00y"):
        ctx = CrewContext(sqlite_engine, venture.name, stage, options={"out_dir": bad}, output_root=root)
        with pytest.raises(BadInput) as info:
            crew.run(ctx)
        assert info.value.where == "option out_dir"
    assert _files(outside) == [] and _files(root) == []


def test_an_out_dir_inside_the_root_is_used(tmp_path: Path) -> None:
    root = tmp_path / "crews"
    root.mkdir()
    assert output_folder(root, {"out_dir": "mine/run"}, 3, "job-1") == (root / "mine" / "run").resolve()
    assert output_folder(root, {"out_dir": str(root / "abs")}, 3, "job-1") == (root / "abs").resolve()
    assert output_folder(root, {}, 3, "job-1") == (root / "v3" / "job-1").resolve()


SPEC = '{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}'


def _spec_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A crew root with `specs/good.json`, a folder beside it with a valid document, a link into that folder."""
    root, outside = tmp_path / "crews", tmp_path / "outside"
    (root / "specs").mkdir(parents=True)
    outside.mkdir()
    (root / "specs" / "good.json").write_text(SPEC)
    (outside / "spec.json").write_text(SPEC)
    (root / "link").symlink_to(outside)
    (root / "specs" / "leak.json").symlink_to(outside / "spec.json")
    return root, outside


HOSTILE_SPECS = ["../outside/spec.json", "specs/../../outside/spec.json", "link/spec.json", "specs/leak.json"]


def test_an_openapi_file_is_read_only_inside_the_crew_root(tmp_path: Path) -> None:
    """Stage 19's `load_spec`: a path an artifact names resolves inside the crew root, or nothing is read."""
    root, outside = _spec_tree(tmp_path)
    assert load_spec("specs/good.json", root, where="api_documentation: x")["openapi"] == "3.1.0"
    assert load_spec(str(root / "specs" / "good.json"), root, where="api_documentation: x")["openapi"] == "3.1.0"
    for bad in [*HOSTILE_SPECS, str(outside / "spec.json"), "/etc/passwd", "~/x.json", "a\x00b"]:
        with pytest.raises(BadInput) as info:
            load_spec(bad, root, where="api_documentation: x")
        assert info.value.where == "api_documentation: x", bad
        assert "outside the crew folder" in info.value.message or "not a usable path" in info.value.message, bad


@pytest.mark.parametrize("location", HOSTILE_SPECS[:1] + HOSTILE_SPECS[2:3])
def test_a_crew_run_refuses_a_spec_outside_the_root_as_a_classified_error(
    sqlite_engine: Engine, tmp_path: Path, location: str
) -> None:
    root, _ = _spec_tree(tmp_path)
    sqlite_engine.create_venture("acme", "b2b_smb", 19, actor=LEAD)
    put_inputs(sqlite_engine, "acme", "http://127.0.0.1:9")
    docs = {"specs": [{"integration": "catalog", "format": "openapi-3.1", "location": location}]}
    sqlite_engine.put_artifact("acme", "api_documentation", docs, actor=LEAD)
    result = IntegrationVerificationCrew().run(CrewContext(sqlite_engine, "acme", 19, output_root=root))
    assert result.status == "failed" and "outside the crew folder" in result.summary["outcome"]
    (record,) = sqlite_engine.error_records("acme")
    assert "outside the crew folder" in record.message and record.status == "escalated"
    assert (record.rule_id, record.category) == ("E19-TEST-CONFIG", "configuration")
