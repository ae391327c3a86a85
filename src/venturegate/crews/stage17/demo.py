"""Stage-17 inputs for the demo and the tests: a market strategy, ranked segments and channels for a B2B SMB
venture, and a simulated A/B test (binomial draws with known rates; nothing about the outcome is fixed)."""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["channels", "date", "segments", "simulated_days", "strategy"]
from typing import Any

import numpy as np

from venturegate.crews.stage17.experiment_ops import DayIn


def strategy(venture: str) -> dict[str, Any]:
    return {
        "venture_id": venture,
        "version": "2026-12",
        "objectives": ["lead_generation", "conversion"],
        "positioning": (
            "Ledgerly gives small finance teams month-end close in two days instead of ten, without a new ERP."
        ),
        "value_propositions": [
            {
                "segment": "smb-finance",
                "proposition": "Close the books in two days with automatic bank matching and approvals.",
                "proof_points": ["pilot customers closed 70% faster"],
            },
            {"segment": "agencies", "proposition": "Run every client's close from one screen."},
        ],
        "pricing": {"model": "per seat", "aligned": True, "price_points": [49, 99]},
        "ltv_usd": 4200,
        "cac_target_usd": 600,
        "approval": {"status": "approved", "approved_by": "lee"},
    }


def segments(venture: str) -> dict[str, Any]:
    return {
        "venture_id": venture,
        "segments": [
            {
                "id": "smb-finance",
                "name": "SMB finance teams",
                "type": "b2b_smb",
                "rank": 1,
                "validated": True,
                "pain_points": ["Month-end close", "Manual bank reconciliation", "Approval chasing"],
            },
            {"id": "agencies", "name": "Accounting agencies", "type": "b2b_smb", "rank": 2, "validated": True},
        ],
    }


def channels(venture: str) -> dict[str, Any]:
    return {
        "venture_id": venture,
        "channels": [
            {"name": "email", "enabled": True, "credentials_ref": "vault:gtm/email", "rate_limit_per_minute": 120},
            {"name": "content_marketing", "enabled": True},
            {"name": "google_ads", "enabled": True, "daily_budget_cap_usd": 400},
            {"name": "linkedin", "enabled": True, "daily_budget_cap_usd": 300},
        ],
    }


def simulated_days(
    start: date, days: int, rates: list[float], per_day: int, seed: int, *, click_rate: float = 0.06
) -> list[tuple[date, list[DayIn]]]:
    """Daily figures of an A/B test with true conversion rates `rates` (control first), equal split."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(days):
        n = rng.multinomial(per_day, [1 / len(rates)] * len(rates))
        rows = []
        for k, rate in enumerate(rates):
            exposures = int(n[k])
            clicks = int(rng.binomial(exposures, click_rate))
            conversions = int(rng.binomial(exposures, rate))
            leads = conversions + int(rng.binomial(clicks, 0.3))  # customers came through the lead form
            rows.append(DayIn(chr(65 + k), exposures, conversions, clicks, leads))
        out.append((start + timedelta(days=d), rows))
    return out
