"""What the generated files need to know about a technology stack: base image, CI setup, build and test steps.

A technical plan names its stack as free words (`python`, `fastapi`, `postgresql`, `redis`, ...). Each word
must be known here; an unknown word is an error (the studio cannot generate or verify files for a stack
it does not know) rather than a silently ignored line. Exactly one language must be named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """A language runtime: how the image is built and how CI sets it up, builds and tests it."""

    name: str
    image: str
    """Pinned base image (hadolint DL3007 rejects `latest`)."""
    setup_action: str
    setup_input: tuple[str, str]
    """(input name, value) of the setup action, e.g. ("python-version", "3.11")."""
    install: tuple[str, ...]
    """Dockerfile RUN / CI steps that install dependencies."""
    build: str
    test: str
    """The CI test command; `{coverage}` is replaced by the enforced minimum coverage (an integer)."""
    manifest: tuple[str, ...]
    """Files copied before installing (dependency manifests)."""
    healthcheck: tuple[str, ...]
    """The image's HEALTHCHECK command without the URL (the image has no curl)."""


LANGUAGES: dict[str, Language] = {
    "python": Language(
        "python", "python:3.11-slim", "actions/setup-python@v5", ("python-version", "3.11"),
        ("pip install --no-cache-dir -r requirements.txt",), "python -m compileall -q .",
        "python -m pytest --cov=. --cov-fail-under={coverage}", ("requirements.txt",),
        ("python", "-c", "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)"),
    ),
    "node": Language(
        "node", "node:20.11-slim", "actions/setup-node@v4", ("node-version", "20"),
        ("npm ci --omit=dev",), "npm run build --if-present",
        "npx --yes c8 --check-coverage --lines {coverage} npm test", ("package.json", "package-lock.json"),
        ("node", "-e", "fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"),
    ),
    "go": Language(
        "go", "golang:1.22-bookworm", "actions/setup-go@v5", ("go-version", "1.22"),
        ("go mod download",), "go build ./...",
        "go test -coverprofile=cover.out ./... && go tool cover -func=cover.out", ("go.mod", "go.sum"),
        ("wget", "-q", "-O", "/dev/null"),
    ),
}  # fmt: skip

ALIASES: dict[str, str] = {
    "python": "python", "python3": "python", "fastapi": "python", "django": "python", "flask": "python",
    "node": "node", "nodejs": "node", "node.js": "node", "typescript": "node", "javascript": "node",
    "express": "node", "nestjs": "node", "go": "go", "golang": "go",
}  # fmt: skip
"""Words that name (or imply) a language."""

SERVICES: dict[str, str] = {
    "postgresql": "postgresql", "postgres": "postgresql", "redis": "redis",
}  # fmt: skip
"""Backing services the environments provision."""

TOOLING = frozenset({"docker", "terraform", "github-actions", "github actions", "kubernetes", "react", "vue"})
"""Words that are known but change nothing in the generated files."""


class UnsupportedStack(ValueError):
    """The plan names a stack the crew cannot generate files for."""


@dataclass(frozen=True)
class Stack:
    """A plan's stack, resolved: its language and the backing services it needs."""

    language: Language
    services: tuple[str, ...]
    words: tuple[str, ...]


def resolve(words: Sequence[str]) -> Stack:
    """Resolve the plan's `tech_stack` words; raises `UnsupportedStack` naming every unknown word."""
    unknown: list[str] = []
    languages: list[str] = []
    services: list[str] = []
    for raw in words:
        word = raw.strip().lower()
        if word in ALIASES:
            if ALIASES[word] not in languages:
                languages.append(ALIASES[word])
        elif word in SERVICES:
            if SERVICES[word] not in services:
                services.append(SERVICES[word])
        elif word not in TOOLING:
            unknown.append(raw)
    if unknown:
        # The known words stay out of the message: the stage's error rules classify errors by their text.
        raise UnsupportedStack(f"unsupported stack: {', '.join(repr(u) for u in unknown)} (see docs/crews.md)")
    if len(languages) != 1:
        found = ", ".join(languages) or "none"
        raise UnsupportedStack(f"unsupported stack: exactly one language is needed, the plan names {found}")
    return Stack(LANGUAGES[languages[0]], tuple(services), tuple(words))
