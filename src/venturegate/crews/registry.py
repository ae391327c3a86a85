"""Finding crews: every plugin of the `venturegate.crews` entry-point group, the built-in ones included."""

from __future__ import annotations

import logging
import threading
import weakref
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from venturegate.crews.base import Crew
from venturegate.engine.exceptions import BadInput, NotFound

if TYPE_CHECKING:
    from venturegate.engine import Engine

GROUP = "venturegate.crews"
log = logging.getLogger("venturegate.crews")
_installed: weakref.WeakSet[Engine] = weakref.WeakSet()
_install_lock = threading.Lock()

# The built-in crews register through pyproject.toml's entry points like any plugin. This list is
# used only for a built-in whose entry point is missing (a source checkout not reinstalled since the
# entry point was added), so that the crew still runs; an installed entry point always wins.
_BUILTIN = {
    "stage14": "venturegate.crews.stage14:crew",
    "stage17": "venturegate.crews.stage17:crew",
    "stage19": "venturegate.crews.stage19:crew",
    "stage28": "venturegate.crews.stage28:crew",
    "stage30": "venturegate.crews.stage30:crew",
}


def _load(ep: EntryPoint) -> Crew:
    obj = ep.load()
    crew = obj() if isinstance(obj, type) else obj
    if not isinstance(crew, Crew):
        raise BadInput(
            f"entry point '{ep.name}' ({ep.value}) is not a Crew but {type(crew).__name__}",
            where=f"entry point group {GROUP}",
            hint="point it at a Crew instance or subclass",
        )
    return crew


def discover() -> dict[str, Crew]:
    """Every crew by entry-point name; a plugin that fails to load is logged and skipped."""
    found: dict[str, Crew] = {}
    eps = list(entry_points(group=GROUP))
    names = {ep.name for ep in eps}
    eps += [EntryPoint(name, value, GROUP) for name, value in _BUILTIN.items() if name not in names]
    for ep in eps:
        try:
            found[ep.name] = _load(ep)
        except Exception as exc:
            log.warning("crew plugin %s (%s) failed to load: %s", ep.name, ep.value, exc)
    return found


def crews_serving(stage: int) -> list[str]:
    """Entry-point names of the crews that serve `stage`."""
    return sorted(name for name, crew in discover().items() if crew.stage == stage)


def crew_for_stage(stage: int, name: str | None = None) -> tuple[str, Crew]:
    """The crew that serves `stage` (or the crew called `name`), as (entry-point name, crew)."""
    crews = discover()
    if name is not None:
        if name not in crews:
            raise NotFound(f"no crew '{name}'", where="--crew", hint="`venturegate crews` lists them")
        return name, crews[name]
    matching = [(n, c) for n, c in crews.items() if c.stage == stage]
    if not matching:
        served = ", ".join(f"{c.stage} ({n})" for n, c in sorted(crews.items())) or "none"
        raise NotFound(f"no crew serves stage {stage}", where="--stage", hint=f"stages with crews: {served}")
    if len(matching) > 1:
        names = ", ".join(n for n, _ in matching)
        raise BadInput(f"several crews serve stage {stage}: {names}", where="--stage", hint="choose one with --crew")
    return matching[0]


def install_hooks(engine: Engine) -> list[str]:
    """Register every installed crew's declared hooks (`Crew.hooks`) on `engine`; return what was registered.

    `Engine.open` arranges for this to run the first time the engine needs a hook, in every process; a
    crew run calls it too (for an engine built without `open`). Once per engine: a second call does nothing.
    """
    with _install_lock:
        if engine in _installed:
            return []
        _installed.add(engine)
    done: list[str] = []
    for name, crew in sorted(discover().items()):
        try:
            hooks = crew.hooks()
        except Exception as exc:  # a broken plugin must not take the engine down; it is named in the log
            log.warning("crew plugin %s: hooks() failed: %s", name, exc)
            continue
        for scope, handler in hooks.rollback.items():
            engine.register_rollback_handler(scope, handler, stage=crew.stage)
            done.append(f"{name}: rollback {scope}")
        for key, hook in hooks.credentials.items():
            engine.register_credentials_hook(key, hook)
            done.append(f"{name}: credentials {key}")
        for key, fallback in hooks.fallback.items():
            engine.register_fallback(key, fallback)
            done.append(f"{name}: fallback {key}")
    return done
