"""Offline verification of 14.1's generated files with the tools the field uses.

- Terraform: parsed with python-hcl2, then scanned by checkov (its policies for Terraform, Dockerfiles and
  GitHub Actions). checkov pins its own HCL parser, so it runs from its own virtualenv (`.venv-checkov`,
  made by `make install`; docs/decisions.md).
- The workflow: actionlint, and the JSON Schema of GitHub workflows vendored by check-jsonschema.
- The Dockerfile: hadolint. The compose file: parsed as YAML and checked for its `services` map.

Each finding names its tool, file, line, rule and level, and whether it blocks. Blocking: every parse and
schema error, every actionlint finding, hadolint `error` and `warning`, every failed checkov check not in
the crew's accepted list (`ACCEPTED_CHECKOV`), and a tool that could not run (nothing is skipped silently).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from venturegate.crews.stage14.generate import Generated

ACCEPTED_CHECKOV: dict[str, str] = {}
"""checkov checks whose failure is reported but does not block, with the reason."""
TIMEOUT = 180.0


@dataclass(frozen=True)
class Finding:
    """One problem a tool found in a generated file."""

    tool: str
    file: str
    line: int
    rule: str
    level: str
    message: str
    blocking: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.tool} {self.rule} {self.file}:{self.line} ({self.level}): {self.message}"


@dataclass
class Verification:
    """Every tool's verdict on the generated files."""

    findings: list[Finding] = field(default_factory=list)
    ran: dict[str, str] = field(default_factory=dict)
    """Tool → version (or how it was run) for every tool that ran."""
    checks: dict[str, int] = field(default_factory=dict)
    """checkov: passed and failed check counts."""

    @property
    def blocking(self) -> list[Finding]:
        """The findings that fail the step."""
        return [f for f in self.findings if f.blocking]

    @property
    def ok(self) -> bool:
        """No blocking finding."""
        return not self.blocking

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ok": self.ok,
            "ran": self.ran,
            "checks": self.checks,
            "findings": [f.as_dict() for f in self.findings],
            "blocking": len(self.blocking),
        }


def _rel(path: Path | str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path).lstrip("/")


def find_tool(name: str) -> str | None:
    """A tool next to this interpreter (the project's venv), on PATH, or checkov in `.venv-checkov`."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    if name == "checkov":
        configured = os.environ.get("VENTUREGATE_CHECKOV")
        if configured:
            return configured
        beside = Path(sys.prefix).parent / ".venv-checkov" / "bin" / "checkov"
        if beside.exists():
            return str(beside)
    return shutil.which(name)


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False, env=env, stdin=subprocess.DEVNULL
    )


def _missing(tool: str, files: Iterable[Path], root: Path) -> Finding:
    first = next(iter(files), root)
    return Finding(tool, _rel(first, root), 0, "tool-missing", "error", f"{tool} is not installed", True)


def check_hcl(paths: list[Path], root: Path) -> list[Finding]:
    """Parse each Terraform file with python-hcl2."""
    import hcl2
    from lark.exceptions import LarkError

    found = []
    for path in paths:
        try:
            hcl2.loads(path.read_text(encoding="utf-8"))
        except (LarkError, ValueError) as exc:
            line = int(getattr(exc, "line", 0) or 0)
            found.append(Finding("python-hcl2", _rel(path, root), line, "parse", "error", str(exc)[:300], True))
    return found


def check_workflow_schema(paths: list[Path], root: Path) -> list[Finding]:
    """Validate each workflow against check-jsonschema's vendored GitHub-workflows schema."""
    schema = _workflow_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    found = []
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            found.append(Finding("yaml", _rel(path, root), line, "parse", "error", str(exc)[:300], True))
            continue
        # PyYAML reads the `on:` key as True (YAML 1.1); GitHub reads it as the string "on".
        if isinstance(doc, dict) and True in doc:
            doc["on"] = doc.pop(True)
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            found.append(
                Finding("github-workflow-schema", _rel(path, root), 0, where, "error", err.message[:300], True)
            )
    return found


@cache
def _workflow_schema() -> dict[str, Any]:
    import importlib.util

    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or spec.origin is None:
        raise RuntimeError("check-jsonschema is not installed (it vendors the GitHub-workflows schema)")
    vendored = Path(spec.origin).parent / "builtin_schemas" / "vendor" / "github-workflows.json"
    loaded: dict[str, Any] = json.loads(vendored.read_text(encoding="utf-8"))
    return loaded


def check_actionlint(paths: list[Path], root: Path) -> tuple[list[Finding], str | None]:
    """actionlint on each workflow; every finding blocks."""
    tool = find_tool("actionlint")
    if tool is None:
        return [_missing("actionlint", paths, root)], None
    done = _run([tool, "-format", "{{json .}}", "-no-color", *[str(p) for p in paths]], root)
    if done.returncode not in (0, 1) or not done.stdout.strip().startswith("["):
        return [
            Finding("actionlint", _rel(paths[0], root), 0, "run", "error", (done.stderr or done.stdout)[:300], True)
        ], tool
    found = [
        Finding("actionlint", _rel(e.get("filepath", paths[0]), root), int(e.get("line", 0)), str(e.get("kind", "")),
                "error", str(e.get("message", "")), True)
        for e in json.loads(done.stdout)
    ]  # fmt: skip
    return found, tool


def check_hadolint(paths: list[Path], root: Path) -> tuple[list[Finding], str | None]:
    """hadolint on each Dockerfile; `error` and `warning` block."""
    tool = find_tool("hadolint")
    if tool is None:
        return [_missing("hadolint", paths, root)], None
    found = []
    for path in paths:
        done = _run([tool, "--no-fail", "-f", "json", str(path)], root)
        try:
            items = json.loads(done.stdout or "[]")
        except json.JSONDecodeError:
            found.append(
                Finding("hadolint", _rel(path, root), 0, "run", "error", (done.stderr or done.stdout)[:300], True)
            )
            continue
        for e in items:
            level = str(e.get("level", "error"))
            found.append(
                Finding("hadolint", _rel(path, root), int(e.get("line", 0)), str(e.get("code", "")), level,
                        str(e.get("message", "")), level in ("error", "warning"))
            )  # fmt: skip
    return found, tool


def check_compose(paths: list[Path], root: Path) -> list[Finding]:
    """Each compose file parses as YAML and has a `services` map."""
    found = []
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            found.append(
                Finding("yaml", _rel(path, root), mark.line + 1 if mark else 0, "parse", "error", str(exc)[:300], True)
            )
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
            found.append(Finding("compose", _rel(path, root), 1, "services", "error", "no `services` map", True))
    return found


def check_checkov(root: Path) -> tuple[list[Finding], dict[str, int], str | None]:
    """checkov over the folder (Terraform, Dockerfile, GitHub Actions), offline."""
    tool = find_tool("checkov")
    if tool is None:
        return [_missing("checkov", [], root)], {}, None
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_UPDATE_CHECK": "1", "LOG_LEVEL": "ERROR"}
    cmd = [tool, "-d", str(root), "--framework", "terraform", "dockerfile", "github_actions", "-o", "json",
           "--quiet", "--compact", "--skip-download", "--skip-results-upload"]  # fmt: skip
    done = _run(cmd, root, env)
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError:
        return [Finding("checkov", ".", 0, "run", "error", (done.stderr or done.stdout)[-300:], True)], {}, tool
    if isinstance(reports, dict):
        reports = [reports] if "results" in reports else []
    found: list[Finding] = []
    counts = {"passed": 0, "failed": 0, "parsing_errors": 0}
    for rep in reports:
        summary = rep.get("summary", {})
        for k in counts:
            counts[k] += int(summary.get(k, 0))
        for c in rep.get("results", {}).get("failed_checks", []):
            rule = str(c.get("check_id", ""))
            lines = c.get("file_line_range") or [0, 0]
            found.append(
                Finding("checkov", str(c.get("file_path", "")).lstrip("/"), int(lines[0]), rule,
                        "accepted" if rule in ACCEPTED_CHECKOV else "failed", str(c.get("check_name", "")),
                        rule not in ACCEPTED_CHECKOV)
            )  # fmt: skip
    if counts["parsing_errors"]:
        found.append(
            Finding("checkov", ".", 0, "parse", "error", f"{counts['parsing_errors']} files did not parse", True)
        )
    return found, counts, tool


def verify(generated: Generated, *, checkov: bool = True) -> Verification:
    """Run every tool on the generated files."""
    root = generated.folder
    result = Verification()
    tf = generated.files.get("terraform", [])
    workflows = generated.files.get("workflow", [])
    result.findings += check_hcl(tf, root)
    result.ran["python-hcl2"] = "parse"
    result.findings += check_workflow_schema(workflows, root)
    result.ran["github-workflow-schema"] = "check-jsonschema vendored github-workflows.json"
    found, tool = check_actionlint(workflows, root)
    result.findings += found
    if tool:
        result.ran["actionlint"] = tool
    found, tool = check_hadolint(generated.files.get("dockerfile", []), root)
    result.findings += found
    if tool:
        result.ran["hadolint"] = tool
    result.findings += check_compose(generated.files.get("compose", []), root)
    result.ran["compose"] = "yaml"
    if checkov:
        found, counts, tool = check_checkov(root)
        result.findings += found
        result.checks = counts
        if tool:
            result.ran["checkov"] = tool
    return result
