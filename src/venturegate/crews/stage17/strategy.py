"""17.1 Strategy configuration: the market strategy, segments and channels encoded as `gtm_agent_config`, with the
budget split across channels by `budget.allocate`. Pure: the crew reads the inputs and settings and passes them in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from venturegate.crews.stage17.budget import Allocation, AllocationError, Channel, Observed, allocate

ADAPTER = {
    "email": "email",
    "linkedin": "ads",
    "google_ads": "ads",
    "facebook_ads": "ads",
    "instagram_ads": "ads",
    "content_marketing": "crm",
    "webinars": "crm",
}
"""Marketing channel → the workflow adapter that acts on it (SMTP, the ad platform, the CRM)."""
UTM_MEDIUM = {
    "email": "email",
    "linkedin": "paid_social",
    "facebook_ads": "paid_social",
    "instagram_ads": "paid_social",
    "google_ads": "cpc",
    "content_marketing": "organic",
    "webinars": "event",
}
VALUE_PER_CONVERSION = {"b2b_enterprise": 2000.0, "b2b_smb": 600.0, "b2c_mass": 60.0, "b2c_premium": 150.0}
"""Default revenue per customer when the strategy gives no lifetime value."""


class StrategyError(ValueError):
    """The inputs cannot be encoded into a GTM configuration (the message names the input and the entry)."""


@dataclass(frozen=True)
class Encoded:
    """What 17.1 produces: the config artifact's content and the channels the allocation used."""

    config: dict[str, Any]
    channels: tuple[Channel, ...]
    allocation: Allocation
    segment: Mapping[str, Any]
    proposition: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "venture"


def encode(
    venture: str,
    strategy: Mapping[str, Any],
    segments: Mapping[str, Any],
    channels: Mapping[str, Any],
    settings: Mapping[str, Any],
    observed: Mapping[str, Observed],
    *,
    version: int,
    seed: int = 0,
) -> Encoded:
    """Encode the strategy and allocate the monthly budget; `StrategyError` or `AllocationError` say what is wrong."""
    valid = sorted((s for s in segments.get("segments", []) if s.get("validated")), key=lambda s: int(s["rank"]))
    if not valid:
        raise StrategyError("customer_segments: no validated segment (recurse to stage 11 to validate one)")
    props = {str(p["segment"]): str(p["proposition"]) for p in strategy.get("value_propositions", [])}
    covered = [s for s in valid if s["id"] in props or s["name"] in props]
    if not covered:
        ids = ", ".join(str(s["id"]) for s in valid)
        raise StrategyError(
            f"market_strategy: no value proposition for any validated segment ({ids}); the strategy has no segments"
        )
    top = covered[0]
    proposition = props.get(str(top["id"]), props.get(str(top["name"]), ""))
    enabled = [str(c["name"]) for c in channels.get("channels", []) if c.get("enabled")]
    unknown = [c for c in enabled if c not in ADAPTER]
    if unknown:
        raise StrategyError(
            f"marketing_channels: channel {', '.join(repr(c) for c in unknown)} has no adapter "
            f"(known: {', '.join(ADAPTER)}); disable it or add an adapter"
        )
    preferred = [str(c) for c in settings.get("primary_channels", [])]
    ordered = [c for c in preferred if c in enabled] + [c for c in enabled if c not in preferred]
    if len(ordered) < 3:
        raise StrategyError(
            f"marketing_channels: {len(ordered)} enabled channel(s); a primary and at least two secondary are needed"
        )
    chosen = ordered[:4]
    tiers = ["proven", "growth"] + ["experimental"] * (len(chosen) - 2)
    caps = {str(c["name"]): c.get("daily_budget_cap_usd") for c in channels.get("channels", [])}
    segment_type = str(top["type"])
    value = float(strategy.get("ltv_usd") or VALUE_PER_CONVERSION.get(segment_type, 300.0))
    chs = tuple(
        Channel(name, tier, value, None if caps.get(name) is None else 30.0 * float(caps[name]))
        for name, tier in zip(chosen, tiers, strict=True)
    )
    split = [float(x) for x in settings.get("budget_allocation", [70, 20, 10])]
    total = float(settings.get("total_budget_usd_monthly", 10000))
    # the prior belief about every channel: a customer for the strategy's target CAC, else break-even at the ROAS target
    cac = float(strategy.get("cac_target_usd") or 0)
    prior_rate = 1.0 / cac if cac > 0 else float(settings.get("roas_target", 3.0)) / value
    picked = {k: v for k, v in observed.items() if k in chosen}
    alloc = allocate(chs, picked, split, total, seed=seed, prior_rate=prior_rate)
    b2c = segment_type.startswith("b2c")
    config = {
        "venture_id": venture,
        "version": version,
        "target_segment": segment_type,
        "objectives": list(strategy.get("objectives") or settings.get("objectives") or ["lead_generation"]),
        "brand_voice": str(settings.get("brand_voice", "professional")),
        "positioning": str(strategy["positioning"]),
        "channels": {"primary": chosen[0], "secondary": chosen[1:]},
        "budget": {
            "total_usd_monthly": total,
            "allocation": dict(alloc.tiers),
            "daily_caps_usd": {c.channel: round(c.budget_usd / 30, 2) for c in alloc.channels},
            "reallocation_rules": [
                "re-allocate by Thompson sampling as channel results arrive (each a new config version)",
                "cost per lead > 2x target: cut the channel's spend 20%",
                "ROAS < 2.0 for 21 days: pause paid spend and review (GTM-004)",
            ],
            "channels": [c.as_dict() for c in alloc.channels],
            "evidence_weight": round(alloc.evidence_weight, 4),
        },
        "tracking": {
            "utm": {
                "source": _slug(venture),
                "medium": UTM_MEDIUM[chosen[0]],
                "campaign": f"{_slug(str(top['id']))}-{settings.get('campaign_type', 'email_drip')!s}",
            },
            "attribution_model": "time_decay" if b2c else "position_based",
        },
        "agent": {"status": "deployed", "logging_enabled": True},
        "segments_ranked": [{"id": s["id"], "name": s["name"], "rank": s["rank"]} for s in valid],
    }
    return Encoded(config, chs, alloc, top, proposition)


__all__ = ["ADAPTER", "AllocationError", "Encoded", "StrategyError", "encode"]
