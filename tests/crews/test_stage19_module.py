"""The kept pytest module: generated safely from hostile names, and replaying the crew's checks with its seed."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crews.stage19_targets import CATALOG_KEY, catalog
from venturegate.crews.stage19 import pytest_module
from venturegate.crews.stage19.inputs import CredentialRef, Credentials, Integration

pytestmark = pytest.mark.slow  # the kept module replays a whole run

HOSTILE = 'evil"""\nimport os; os.system("touch PWNED")  # \' \\ {x} %s\n"""'


def _integration(name: str, url: str, auth: str = "api_key") -> Integration:
    return Integration(name, "p", "high", url, "spec", auth, None, 100.0, 2000)


def test_a_hostile_name_cannot_inject_code(tmp_path: Path) -> None:
    creds = Credentials(HOSTILE, {"k": CredentialRef("k", env="CATALOG_KEY")})
    spec = {"openapi": "3.0.3", "info": {"title": HOSTILE, "version": '1"""'}, "paths": {}}
    text = pytest_module.render(
        [(_integration(HOSTILE, 'http://127.0.0.1:9/\'"""'), creds, spec)], max_examples=3, seed=19
    )
    compile(text, "test_integrations.py", "exec")
    namespace: dict[str, object] = {"__name__": "kept"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(text, "test_integrations.py", "exec"), namespace)  # module level only: defines the tests
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "PWNED").exists()
    assert list(namespace["INTEGRATIONS"]) == [HOSTILE]  # type: ignore[call-overload]
    assert namespace["SPECS"][HOSTILE]["info"]["title"] == HOSTILE  # type: ignore[index]
    calls = [n.func for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call)]
    assert not [f for f in calls if isinstance(f, ast.Attribute) and f.attr == "system"]  # the text stays data


def test_the_kept_module_reproduces_the_crews_findings(tmp_path: Path) -> None:
    target = catalog(delete_noop=True, stock_text=True, missing_request_id=True)
    with target.running() as served:
        creds = Credentials("catalog", {"key": CredentialRef("key", env="CATALOG_KEY")})
        path = tmp_path / "test_integrations.py"
        path.write_text(
            pytest_module.render([(_integration("catalog", served.base_url), creds, target.spec)], max_examples=3,
                                 seed=19),
            encoding="utf-8",
        )  # fmt: skip
        env = {**os.environ, "CATALOG_KEY": CATALOG_KEY, "PYTHONPATH": os.pathsep.join(sys.path)}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider", "-W", "ignore"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    for kind, method, where in target.planted:
        assert f"{kind}: {method} {where}:" in done.stdout, done.stdout


def test_every_artifact_has_a_schema_valid_template() -> None:
    import jsonschema
    import yaml

    from venturegate.definitions.loader import load_workflow
    from venturegate.definitions.skeleton import skeleton

    stages = load_workflow().workflow.stages
    arts = {name: a for st in stages for name, a in (st.artifacts or {}).items()}
    assert len(arts) > 100
    for name, art in arts.items():
        value, text = skeleton(art.json_schema or {})
        assert yaml.safe_load(text) == value, name
        jsonschema.validate(value, art.json_schema or {})


def test_artifact_template_cli_prints_yaml_that_put_accepts(tmp_path: Path, _migrated: Path) -> None:
    import shutil

    import yaml
    from typer.testing import CliRunner

    from venturegate.cli.app import app

    shutil.copy(_migrated, tmp_path / "vg.db")
    db = f"sqlite:///{tmp_path / 'vg.db'}"
    runner = CliRunner()
    shown = runner.invoke(app, ["--db", db, "artifact", "template", "integration_requirements"])
    assert shown.exit_code == 0, shown.output
    assert "# one of: " in shown.output and "rate_limit_req_sec:" in shown.output
    assert yaml.safe_load(shown.output)["integrations"][0]["auth"]["type"] == "api_key"
    (tmp_path / "req.yaml").write_text(shown.output, encoding="utf-8")
    made = runner.invoke(app, ["--db", db, "--as", "lee:lead", "venture", "create", "acme", "--segment", "b2b_smb",
                               "--stage", "19"])  # fmt: skip
    assert made.exit_code == 0, made.output
    put = runner.invoke(app, ["--db", db, "--as", "lee:lead", "artifact", "put", "acme", "integration_requirements",
                              str(tmp_path / "req.yaml")])  # fmt: skip
    assert put.exit_code == 0 and "stored integration_requirements@1" in put.output, put.output
    unknown = runner.invoke(app, ["--db", db, "artifact", "template", "nope"])
    assert unknown.exit_code == 1 and "no artifact named 'nope'" in unknown.output
