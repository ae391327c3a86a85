"""Stage 14.1's generated files: serializing filters (no injection), and each tool catching its own defects."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import pytest
import yaml

from venturegate.crews.stage14.generate import EnvironmentPlan, GenerationError, Service, render_all
from venturegate.crews.stage14.stacks import UnsupportedStack, resolve
from venturegate.crews.stage14.verify import verify

STACK = ["python", "fastapi", "postgresql", "redis"]
ENVS = [EnvironmentPlan("dev", "t_v1_dev", "redis://127.0.0.1:6379/3"),
        EnvironmentPlan("staging", "t_v1_staging", "redis://127.0.0.1:6379/4")]  # fmt: skip
EVIL = 'acme "quoted"\nresource "x" "y" {}\n${{ secrets.TOKEN }} $HOME %{ if true }'


def _render(folder: Path, label: str = "acme", templates: Path | None = None, **service: object) -> object:
    svc = {"name": "shop-api", "command": ("uvicorn", "app:app"), "port": 8000, "health_path": "/health", **service}
    return render_all(
        folder, venture_label=label, stack=resolve(STACK), service=Service(**svc),  # type: ignore[arg-type]
        environments=ENVS, coverage_min=80, templates=templates,
    )  # fmt: skip


def test_values_with_quotes_and_newlines_stay_one_value(tmp_path: Path) -> None:
    clean = _render(tmp_path / "clean")
    label = EVIL.replace("${{", "${ {")  # GitHub's own expression syntax is refused outright (next test)
    dirty = _render(tmp_path / "dirty", label=label, command=("python", "-c", 'print("a")\nRUN rm -rf /'))
    for a, b in zip(clean.paths(), dirty.paths(), strict=True):  # type: ignore[attr-defined]
        assert len(a.read_text().splitlines()) == len(b.read_text().splitlines()), b
    tf = hcl2.loads((tmp_path / "dirty/terraform/dev/main.tf").read_text())
    container = tf["resource"][2]['"docker_container"']['"service"']  # python-hcl2 8 keeps the quotes
    assert json.loads(container["labels"][0]["value"]).replace("$${", "${").replace("%%{", "%{") == label
    assert len(tf["resource"]) == 3  # the `resource "x" "y"` inside the label did not become a resource
    compose = yaml.safe_load((tmp_path / "dirty/compose.yaml").read_text())
    assert compose["services"]["app"]["labels"]["venturegate.venture"] == label.replace("$", "$$")
    docker = (tmp_path / "dirty/Dockerfile").read_text().splitlines()
    cmd = next(line for line in docker if line.startswith("CMD "))
    assert json.loads(cmd[4:]) == ["python", "-c", 'print("a")\nRUN rm -rf /']
    assert not any(line.startswith("RUN rm") for line in docker)


def test_github_expression_syntax_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="expression"):
        _render(tmp_path, label="${{ secrets.DEPLOY_KEY }}")


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("name", "Shop API", "service name"), ("base_image", "python:3.11\nRUN curl evil", "image reference"),
     ("command", (), "start command")],
)  # fmt: skip
def test_unsafe_service_values_are_refused(tmp_path: Path, field: str, value: object, match: str) -> None:
    with pytest.raises(GenerationError, match=match):
        _render(tmp_path, "acme", None, **{field: value})


@pytest.mark.parametrize("words", [["cobol", "postgresql"], ["python", "node"], ["postgresql"]])
def test_unknown_or_ambiguous_stacks_are_errors(words: list[str]) -> None:
    with pytest.raises(UnsupportedStack, match="unsupported stack"):
        resolve(words)


def test_clean_files_pass_every_tool(tmp_path: Path) -> None:
    # checkov on the clean files runs in the crew's end-to-end test (test_stage14_crew.py).
    result = verify(_render(tmp_path), checkov=False)  # type: ignore[arg-type]
    assert result.ok, [str(f) for f in result.findings]
    assert {"python-hcl2", "github-workflow-schema", "actionlint", "hadolint"} <= set(result.ran)


def _override(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_hadolint_rejects_an_unpinned_base_image(tmp_path: Path) -> None:
    result = verify(_render(tmp_path, base_image="python:latest"), checkov=False)  # type: ignore[arg-type]
    assert [(f.tool, f.rule) for f in result.blocking] == [("hadolint", "DL3007")]


def test_hadolint_rejects_a_root_image_with_shell_form_cmd(tmp_path: Path) -> None:
    tpl = _override(
        tmp_path / "tpl", "Dockerfile.j2", "FROM {{ base_image }}\nRUN apt-get install -y curl\nCMD python app.py\n"
    )
    result = verify(_render(tmp_path / "out", templates=tpl), checkov=False)  # type: ignore[arg-type]
    rules = {f.rule for f in result.blocking if f.tool == "hadolint"}
    assert {"DL3008", "DL3025"} <= rules, rules  # unpinned apt package, shell-form CMD


def test_python_hcl2_rejects_broken_terraform(tmp_path: Path) -> None:
    tpl = _override(tmp_path / "tpl", "main.tf.j2", 'resource "postgresql_database" "app" {\n  name = \n')
    result = verify(_render(tmp_path / "out", templates=tpl), checkov=False)  # type: ignore[arg-type]
    assert {f.tool for f in result.blocking} == {"python-hcl2"}
    assert len(result.blocking) == 2  # one per environment


def test_actionlint_and_the_schema_reject_a_broken_workflow(tmp_path: Path) -> None:
    workflow = (
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with:\n          no-such-input: 1\n"
        "      - run: echo {% raw %}${{ github.event.issue.title }}{% endraw %}\n"
        "  test:\n    needs: nowhere\n    steps: []\n"
    )
    tpl = _override(tmp_path / "tpl", "ci.yml.j2", workflow)
    result = verify(_render(tmp_path / "out", templates=tpl), checkov=False)  # type: ignore[arg-type]
    tools = {f.tool for f in result.blocking}
    assert {"actionlint", "github-workflow-schema"} <= tools
    kinds = {f.rule for f in result.blocking if f.tool == "actionlint"}
    assert {"action", "job-needs"} <= kinds or "expression" in kinds, kinds


def test_checkov_reports_failed_policies(tmp_path: Path) -> None:
    tf = 'resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n'
    tpl = _override(tmp_path / "tpl", "main.tf.j2", tf)
    result = verify(_render(tmp_path / "out", templates=tpl))  # type: ignore[arg-type]
    failed = {f.rule for f in result.blocking if f.tool == "checkov"}
    assert "CKV_AWS_21" in failed and result.checks["failed"] >= len(failed)
