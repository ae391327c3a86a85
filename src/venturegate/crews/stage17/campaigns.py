"""17.2 Campaign development: elements of a campaign (an email sequence, an ad, a landing page), their A/B variants
written by a content provider, rendered in the sandbox and checked by the brand rules (rejected copy goes back
for regeneration), a launch calendar, and an A/B test plan per element from a power analysis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from venturegate.crews.stage17.content import (
    TEMPLATES,
    Brief,
    Checked,
    ContentError,
    ContentProvider,
    Rules,
    check,
    render,
    utm_link,
)
from venturegate.crews.stage17.experiments import Plan, sample_size

MAX_REGENERATIONS = 3
VARIANT_IDS = "ABCDE"
B2C = ("b2c_mass", "b2c_premium")


@dataclass(frozen=True)
class CampaignSpec:
    """What 17.2 builds from the GTM config."""

    venture: str
    campaign_type: str
    segment_type: str
    segment_name: str
    voice: str
    cta: str
    positioning: str
    proposition: str
    pain_points: tuple[str, ...]
    sequence_length: int
    variants: int
    delay_hours: int
    words: Mapping[str, int]
    utm: Mapping[str, str]
    channels: tuple[str, ...]
    budget_usd: float
    landing_url: str
    start: date
    baseline_rate: float
    mde_relative: float = 0.2
    daily_traffic: float = 2000.0
    templates: Mapping[str, str] = field(default_factory=lambda: dict(TEMPLATES))


@dataclass
class Built:
    """The campaign and how it was made."""

    campaign: dict[str, Any]
    rejections: list[dict[str, Any]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    provider_calls: int = 0

    @property
    def min_variants(self) -> int:
        return min(len(c["variants"]) for c in self.campaign["content"])

    @property
    def brand_voice_score(self) -> float:
        return round(min(self.scores), 3) if self.scores else 0.0


def _elements(spec: CampaignSpec) -> list[tuple[str, str, int]]:
    emails = [(f"email_{k}", "email", k) for k in range(1, spec.sequence_length + 1)]
    return [*emails, ("ad", "ad", 1), ("landing", "landing", 1)]


def check_templates(spec: CampaignSpec) -> None:
    """Render every template once with sample values: a missing variable fails before any content is written."""
    from venturegate.crews.stage17.content import Copy

    for kind in ("email", "ad", "landing"):
        if kind not in spec.templates:
            raise ContentError(f"template {kind}: missing (templates needed: email, ad, landing)")
        render(spec.templates[kind], _values(spec, Copy("h", "b"), "https://x"), kind)


def _values(spec: CampaignSpec, copy: Any, link: str) -> dict[str, Any]:
    from venturegate.crews.stage17.content import CTA_PHRASES

    return {
        "copy": copy,
        "cta_text": CTA_PHRASES[spec.cta],
        "link": link,
        "venture": spec.venture,
        "segment": spec.segment_name,
        "footer": "You receive this because you asked us about it. Unsubscribe any time.",
    }


def build_campaign(
    spec: CampaignSpec, provider: ContentProvider, *, call: Callable[[Callable[[], Any]], Any] | None = None
) -> Built:
    """Write, render and check every element's variants; raise `ContentError` if an element stays off-brand.

    `call` wraps each provider call (the crew passes the stage's error policy: retries, then the fallback).
    """
    check_templates(spec)
    built = Built(campaign={})
    content = []
    for element, kind, step in _elements(spec):
        brief = Brief(
            element,
            kind,
            spec.voice,
            spec.cta,
            spec.positioning,
            spec.proposition,
            spec.segment_name,
            spec.pain_points,
            spec.words[kind],
            step,
        )
        rules = Rules(spec.voice, spec.cta, int(spec.words[kind] * 1.3) + 40, spec.utm)
        variants = []
        for slot in range(spec.variants):
            vid = VARIANT_IDS[slot]
            avoid: list[str] = []
            for attempt in range(MAX_REGENERATIONS + 1):
                copies = _ask(provider, brief, slot + 1, avoid, attempt, call)
                built.provider_calls += 1
                copy = copies[slot]
                link = utm_link(spec.landing_url, spec.utm, f"{element}-{vid}")
                text = render(spec.templates[kind], _values(spec, copy, link), kind)
                verdict = check(text, copy.headline, kind, rules)
                if verdict.accepted:
                    built.scores.append(verdict.score)
                    variants.append(
                        {
                            "id": vid,
                            "headline": copy.headline,
                            "body": text,
                            "brand_voice_score": verdict.score,
                            "readability": verdict.readability,
                            "words": verdict.words,
                            "attempts": attempt + 1,
                        }
                    )
                    break
                built.rejections.append(_rejection(element, vid, attempt, verdict, copy.headline))
                avoid = sorted(set(avoid) | set(verdict.banned_found))
            else:
                last = built.rejections[-1]["problems"]
                raise ContentError(
                    f"content for {element} variant {vid} failed the brand rules after {MAX_REGENERATIONS} "
                    f"regenerations: {'; '.join(last)}"
                )
        content.append({"element": element, "kind": kind, "variants": variants})
    built.campaign = {
        "id": f"{spec.campaign_type}-1",
        "name": f"{spec.venture} {spec.campaign_type.replace('_', ' ')} for {spec.segment_name}",
        "type": spec.campaign_type,
        "status": "configured",
        "channels": list(spec.channels),
        "budget_usd": round(spec.budget_usd, 2),
        "cta": spec.cta,
        "content": content,
        "email_sequence": [
            {"step": k, "delay_hours": 0 if k == 1 else spec.delay_hours, "subject": _subject(content, k)}
            for k in range(1, spec.sequence_length + 1)
        ],
        "schedule": launch_calendar(spec),
        "ab_tests": ab_test_plans(spec, content),
    }
    return built


def _ask(
    provider: ContentProvider,
    brief: Brief,
    n: int,
    avoid: Sequence[str],
    attempt: int,
    call: Callable[[Callable[[], Any]], Any] | None,
) -> list[Any]:
    def once() -> Any:
        return provider.variants(brief, n, avoid, attempt)

    got = call(once) if call is not None else once()
    if not isinstance(got, list) or len(got) < n:
        raise ContentError(f"provider {provider.name} gave no usable copy for {brief.element}")
    return got


def _rejection(element: str, vid: str, attempt: int, verdict: Checked, headline: str) -> dict[str, Any]:
    return {
        "element": element,
        "variant": vid,
        "attempt": attempt + 1,
        "score": verdict.score,
        "problems": list(verdict.problems),
        "headline": headline,
    }


def _subject(content: list[dict[str, Any]], step: int) -> str:
    for c in content:
        if c["element"] == f"email_{step}":
            return str(c["variants"][0]["headline"])
    return ""


def launch_calendar(spec: CampaignSpec) -> dict[str, Any]:
    """At least four weeks of sends: B2B emails Tue-Thu late morning, B2C on weekend mornings; ads run daily."""
    days = (1, 2, 3) if spec.segment_type not in B2C else (5, 6)
    hour = "10:30" if spec.segment_type not in B2C else "09:00"
    span_days = max(28, spec.delay_hours * (spec.sequence_length - 1) // 24 + 7)
    weeks = -(-span_days // 7)
    entries = []
    day = spec.start
    step = 1
    next_ok = spec.start
    while step <= spec.sequence_length:
        if day.weekday() in days and day >= next_ok:
            entries.append({"date": day.isoformat(), "time": hour, "element": f"email_{step}"})
            next_ok = day + timedelta(hours=spec.delay_hours)
            step += 1
        day += timedelta(days=1)
    entries += [{"date": (spec.start + timedelta(weeks=w)).isoformat(), "element": "ad"} for w in range(weeks)]
    end = spec.start + timedelta(weeks=weeks)
    return {
        "start": spec.start.isoformat(),
        "end": end.isoformat(),
        "timezone": "UTC",
        "calendar_weeks": weeks,
        "entries": sorted(entries, key=lambda e: (e["date"], e["element"])),
    }


def ab_test_plans(spec: CampaignSpec, content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per element: the minimum sample per variant for the MDE at α 0.05 and 80 % power, and the days it takes."""
    out = []
    for c in content:
        plan = Plan(spec.baseline_rate, spec.mde_relative, 0.05, 0.8, len(c["variants"]), spec.daily_traffic)
        size = sample_size(plan)
        out.append(
            {
                "element": c["element"],
                "variants": [v["id"] for v in c["variants"]],
                "baseline_rate": spec.baseline_rate,
                "mde_relative": spec.mde_relative,
                "alpha": 0.05,
                "power": 0.8,
                "sample_per_variant": size.per_variant,
                "daily_traffic": spec.daily_traffic,
                "duration_days": size.days,
                "stopping": "mSPRT always-valid p < alpha, or the planned sample with a z-test",
            }
        )
    return out
