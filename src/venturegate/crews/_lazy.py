"""A crew package's lazy `crew`: the entry point names `<package>:crew`, and importing one module of the package
(a statistics module, the demo target) must not import the whole crew."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_crew(package: str, module: str, cls: str) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: `cls` imported from `module` on first access, `crew` built once."""
    built: dict[str, Any] = {}

    def __getattr__(name: str) -> Any:
        if name not in (cls, "crew"):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        klass = getattr(importlib.import_module(module), cls)
        if name == cls:
            return klass
        if "crew" not in built:
            built["crew"] = klass()
        return built["crew"]

    return __getattr__
