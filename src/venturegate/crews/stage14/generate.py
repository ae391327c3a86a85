"""14.1's generated files — Terraform per environment, a GitHub Actions workflow, a Dockerfile, a compose file —
rendered from Jinja2 templates a studio can replace.

Every value that comes from a plan reaches a template only through a serializing filter: `hcl` (an HCL
string literal, with `${` and `%{` escaped so nothing interpolates), `gha` (a double-quoted YAML scalar,
refusing GitHub's `${{` expression syntax), `docker` (a JSON string or array, the Dockerfile's exec form)
and `compose` (a double-quoted YAML scalar with `$` doubled, so compose does not interpolate). A value
with quotes or newlines therefore stays one value on one line. The base image, the only value written
bare, must match an image reference pattern.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from venturegate.crews.stage14.stacks import Stack

TEMPLATES = Path(__file__).with_name("templates")
IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,127}(:[A-Za-z0-9._-]{1,64})?(@sha256:[a-f0-9]{64})?$")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class GenerationError(ValueError):
    """A plan value cannot be rendered safely (or a template is broken)."""


def hcl(value: Any) -> str:
    """An HCL string literal: JSON escaping, then template sequences escaped (`$${`, `%%{`)."""
    return json.dumps(str(value), ensure_ascii=False).replace("${", "$${").replace("%{", "%%{")


def gha(value: Any) -> str:
    """A double-quoted YAML scalar for a GitHub workflow; GitHub expressions (`${{`) are refused."""
    text = str(value)
    if "${{" in text:
        raise GenerationError(f"a plan value contains GitHub expression syntax '${{{{': {text[:60]!r}")
    return json.dumps(text, ensure_ascii=False)


def docker(value: Any) -> str:
    """A JSON string (or array): the Dockerfile's exec form and quoted LABEL/ENV values."""
    if isinstance(value, list | tuple):
        return json.dumps([str(v) for v in value], ensure_ascii=False)
    return json.dumps(str(value), ensure_ascii=False)


def compose(value: Any) -> str:
    """A double-quoted YAML scalar for compose, `$` doubled so compose does not interpolate it."""
    return json.dumps(str(value).replace("$", "$$"), ensure_ascii=False)


def environment(templates: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment: the studio's templates folder first (when given), then the bundled ones."""
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates)))
    loaders.append(jinja2.FileSystemLoader(str(TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # not HTML: every value goes through one of the serializing filters instead
        keep_trailing_newline=True,
    )
    env.filters.update(hcl=hcl, gha=gha, docker=docker, compose=compose)
    return env


@dataclass(frozen=True)
class Service:
    """The plan's service: name, start command (written into the files, never run by the crew), port, health path."""

    name: str
    command: tuple[str, ...]
    port: int
    health_path: str
    base_image: str | None = None


@dataclass(frozen=True)
class EnvironmentPlan:
    """One environment to generate and provision: its name, database name and Redis URL."""

    name: str
    database: str
    redis_url: str


@dataclass
class Generated:
    """What was written, by kind: `terraform` (one file per environment), `workflow`, `dockerfile`, `compose`."""

    folder: Path
    files: dict[str, list[Path]] = field(default_factory=dict)

    def paths(self) -> list[Path]:
        """Every file written."""
        return [p for ps in self.files.values() for p in ps]


def render_all(
    folder: Path,
    *,
    venture_label: str,
    stack: Stack,
    service: Service,
    environments: list[EnvironmentPlan],
    coverage_min: int,
    templates: Path | None = None,
) -> Generated:
    """Render every file into `folder` (created); raises `GenerationError` for a value that cannot be rendered."""
    if not NAME.match(service.name):
        raise GenerationError(f"service name {service.name!r} must match {NAME.pattern}")
    image = service.base_image or stack.language.image
    if not IMAGE.match(image):
        raise GenerationError(f"base image {image!r} is not an image reference ({IMAGE.pattern})")
    if not service.command:
        raise GenerationError("the service needs a start command (technical_plan.service.command)")
    env = environment(templates)
    language = stack.language
    context: dict[str, Any] = {
        "venture": {"label": venture_label},
        "service": service,
        "language": language,
        "services": list(stack.services),
        "environments": environments,
        "dev": next((e for e in environments if e.name == "dev"), environments[0]),
        "coverage_min": coverage_min,
        "test_command": language.test.replace("{coverage}", str(int(coverage_min))),
        "base_image": image,
        "image_tag": f"{service.name}:ci",
        "healthcheck": [*language.healthcheck, f"http://127.0.0.1:{service.port}{service.health_path}"],
    }
    out = Generated(folder)
    try:
        for e in environments:
            out.files.setdefault("terraform", []).append(
                _write(folder / "terraform" / e.name / "main.tf", env, "main.tf.j2", {**context, "env": e})
            )
        out.files["workflow"] = [_write(folder / ".github" / "workflows" / "ci.yml", env, "ci.yml.j2", context)]
        out.files["dockerfile"] = [_write(folder / "Dockerfile", env, "Dockerfile.j2", context)]
        out.files["compose"] = [_write(folder / "compose.yaml", env, "compose.yaml.j2", context)]
    except jinja2.TemplateError as exc:
        raise GenerationError(f"template error: {exc}") from exc
    return out


def _write(path: Path, env: jinja2.Environment, template: str, context: dict[str, Any]) -> Path:
    text = env.get_template(template).render(**context)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
