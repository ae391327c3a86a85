"""The REST API (FastAPI): thin routes over the engine, token roles, problem+json errors."""

from __future__ import annotations

from venturegate.api.app import create_app, include_optional_routers

__all__ = ["create_app", "include_optional_routers"]
