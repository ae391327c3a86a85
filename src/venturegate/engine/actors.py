"""Who does something: a human, an agent or the system, with a role."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from venturegate.engine.exceptions import BadInput

ActorKind = Literal["human", "agent", "system"]


@dataclass(frozen=True)
class Actor:
    """The acting party recorded on every event."""

    name: str
    role: str
    kind: ActorKind = "human"

    @classmethod
    def parse(cls, text: str) -> Actor:
        """`NAME:ROLE` (the kind is agent when the role is `agent`)."""
        name, sep, role = text.partition(":")
        if not sep or not name.strip() or not role.strip():
            raise BadInput(
                f"actor '{text}' must look like NAME:ROLE",
                where="--as",
                hint="e.g. --as ada:chairman",
            )
        role = role.strip().lower()
        return cls(name.strip(), role, "agent" if role == "agent" else "human")

    @classmethod
    def from_env(cls, given: str | None = None) -> Actor:
        """The actor from `--as`, else VENTUREGATE_ACTOR, else the login user as `lead`."""
        text = given or os.environ.get("VENTUREGATE_ACTOR")
        if text:
            return cls.parse(text)
        return cls(os.environ.get("USER", "operator"), "lead")


SYSTEM = Actor("venturegate", "system", "system")
