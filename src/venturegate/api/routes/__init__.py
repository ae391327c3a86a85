"""The API's routers, by area."""

from __future__ import annotations

from fastapi import APIRouter

from venturegate.api.routes import approvals, config, data, experiments, onboarding, records, ventures

ROUTERS: tuple[APIRouter, ...] = (
    ventures.router,
    data.router,
    approvals.router,
    config.router,
    records.router,
    experiments.router,
    onboarding.router,
)
