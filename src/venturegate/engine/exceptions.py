"""The exceptions engine operations raise: each says what is wrong, where, and how to fix it."""

from __future__ import annotations

from venturegate.core.gates import GateResult


class VenturegateError(Exception):
    """Base class; `exit_code` is what the CLI exits with."""

    exit_code = 1


class BadInput(VenturegateError):
    """The request is invalid; nothing was changed."""

    def __init__(self, message: str, where: str = "", hint: str = "") -> None:
        self.message = message
        self.where = where
        self.hint = hint
        text = f"{where}: {message}" if where else message
        super().__init__(f"{text} (hint: {hint})" if hint else text)


class NotFound(BadInput):
    """A named thing does not exist."""


class Forbidden(VenturegateError):
    """The actor's role may not do this."""

    exit_code = 1


class Conflict(VenturegateError):
    """The venture changed under the request (a concurrent operation won), is in the wrong state, or a name is taken."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "", *, where: str = "") -> None:
        self.message = message
        self.hint = hint
        self.where = where
        text = f"{where}: {message}" if where else message
        super().__init__(f"{text} (hint: {hint})" if hint else text)


class Collision(Conflict):
    """Another transaction held or changed the same data (a lock wait ran out, a deadlock, a serialization
    failure, SQLite's write lock stayed taken); nothing was changed. `transient`: a retry at once may succeed."""

    def __init__(self, message: str, kind: str, transient: bool) -> None:
        self.kind = kind
        self.transient = transient
        super().__init__(message)


class StoreUnavailable(VenturegateError):
    """The connection to the database was lost (the server ended it, a network cut, a failover) or the database
    could not be reached. `committed`: False when nothing was changed (a retry is safe), None when the commit was
    in flight and its outcome is unknown (check before retrying)."""

    exit_code = 1

    def __init__(self, message: str, committed: bool | None) -> None:
        self.message = message
        self.committed = committed
        super().__init__(message)


class GateNotPassed(VenturegateError):
    """A gate did not pass; `result` explains each check."""

    exit_code = 3

    def __init__(self, result: GateResult, message: str = "") -> None:
        self.result = result
        failing = ", ".join(c.name for c in result.failing())
        super().__init__(message or f"stage {result.stage} {result.gate} gate not passed: {failing}")


class ArtifactInvalid(BadInput):
    """An artifact failed its JSON Schema; `errors` lists (JSON pointer, reason) pairs."""

    def __init__(self, name: str, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        lines = "; ".join(f"{ptr or '/'}: {why}" for ptr, why in errors)
        super().__init__(
            f"artifact '{name}' does not match its schema: {lines}",
            where=name,
            hint="fix the fields named (path: problem); `venturegate workflow show STAGE` shows the schema",
        )
