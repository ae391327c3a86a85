"""Stage-14 onboarding: each team member's checklist and RACI approval, read and checked off."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from venturegate.api import schemas as s
from venturegate.api.deps import EngineDep, Reader, VentureRef, require
from venturegate.crews.stage14 import onboarding
from venturegate.engine import Actor

router = APIRouter(prefix="/api", tags=["onboarding"])


class OnboardingUpdate(BaseModel):
    """Check off (or reopen) one item of a member's checklist, and/or record their RACI approval (one at least)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["item"], "properties": {"item": {"type": "string"}}},
                {"required": ["approve_raci"], "properties": {"approve_raci": {"const": True}}},
            ]
        },
    )

    member: str = Field(min_length=1, max_length=40, pattern=s.NO_NUL, description="The team member's id.")
    item: str | None = Field(
        default=None, min_length=1, max_length=80, pattern=s.NO_NUL, description="A checklist item id."
    )
    approve_raci: bool = Field(default=False, description="The member approves the RACI matrix.")
    done: bool = Field(default=True, description="False reopens the item.")

    @model_validator(mode="after")
    def _something_to_do(self) -> OnboardingUpdate:
        if self.item is None and not self.approve_raci:
            raise ValueError("nothing to do: give an item id or approve_raci")
        return self


@router.get("/ventures/{venture}/onboarding")
def show_onboarding(venture: VentureRef, engine: EngineDep, _: Reader) -> dict[str, Any]:
    """Every member's checklist and RACI approval, with the completion and approval rates."""
    return onboarding.show(engine, venture)


@router.post("/ventures/{venture}/onboarding")
def update_onboarding(
    venture: VentureRef,
    body: OnboardingUpdate,
    engine: EngineDep,
    actor: Annotated[Actor, require("write_artifacts")],
) -> dict[str, Any]:
    """Record a checked-off item or a RACI approval: a new team_structure version, the rates and readiness."""
    return onboarding.update(
        engine, venture, body.member, actor=actor, item=body.item, approve_raci=body.approve_raci, done=body.done
    )
