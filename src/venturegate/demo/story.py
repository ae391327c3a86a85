"""The demo's story base: its cast, its clock, narration, recording helpers, and the setup of the six ventures.

A simulated clock drives the story: every engine call gets an explicit `now`, so `for:` holds and one-hour
windows play out instantly and every run tells the same story with the same numbers.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from venturegate.cli import render
from venturegate.cli.context import out
from venturegate.core.settings import effective_config
from venturegate.definitions.model import Trigger
from venturegate.demo import data
from venturegate.engine import Actor, Engine, Fired, Ingested, SampleIn
from venturegate.notify.inbox import LocalInbox

CHAIRMAN = Actor("ada", "chairman")
LEAD = Actor("lee", "lead")
EXEC = Actor("ivy", "exec")
CREW = {
    14: Actor("crew-14", "agent", "agent"),
    19: Actor("crew-19", "agent", "agent"),
    28: Actor("crew-28", "agent", "agent"),
    30: Actor("crew-30", "agent", "agent"),
}
MONITOR = Actor("telemetry", "agent", "agent")

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
"""When the story begins (a Monday morning)."""
HOURS = 32
"""Length of the story: setup, a day of data, then the morning and early afternoon of day two."""

K, T, C, L, Q, F = (v.name for v in data.VENTURES)


@dataclass
class StoryBase:
    """The demo's state: the engine, the simulated clock, a seeded random source and what was recorded.

    Each scene extends it (`Telemetry`, `Report`, `RollbackScene`, then `Beats`, which calls into the others);
    `run.Story` is the last of them and tells the whole story.
    """

    engine: Engine
    t0: datetime
    inbox: LocalInbox
    rng: random.Random = field(default_factory=lambda: random.Random(2026))
    ids: dict[str, int] = field(default_factory=dict)
    stage: dict[str, int] = field(default_factory=dict)
    samples: Counter[str] = field(default_factory=Counter)
    triggers: dict[str, Trigger] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for st in self.engine.workflow.workflow.stages:
            for trig in st.triggers:
                self.triggers[trig.id] = trig

    # -- telling ---------------------------------------------------------------------------------
    def at(self, hour: float, minute: int = 0) -> datetime:
        """The simulated time `hour` hours (and `minute` minutes) after the start."""
        return self.t0 + timedelta(hours=hour, minutes=minute)

    def say(self, when: datetime, text: str) -> None:
        """One narrated step."""
        out.print(f"[dim]{when:%a %H:%M}[/dim]  {text}")

    def name(self, venture_id: int) -> str:
        """A venture's name from its id."""
        return next(n for n, i in self.ids.items() if i == venture_id)

    def fired(self, when: datetime, items: Sequence[object]) -> None:
        """One line per trigger that fired or went pending."""
        for f in items:
            if not isinstance(f, Fired):
                continue
            name = self.name(f.venture_id)
            if f.outcome == "pending":
                text = (
                    f"[cyan]{f.trigger} pending[/cyan] ({f.kind}): its condition is true; "
                    f"it fires if it stays true for {self.hold(f.trigger, name)}"
                )
            else:
                colour = {"acted": "red", "escalated": "red bold", "proposed": "yellow"}.get(f.outcome, "magenta")
                result = f.detail if f.detail.startswith(f.outcome) else f"{f.outcome} — {f.detail}".rstrip(" —")
                text = f"[{colour}]{f.trigger} fired[/{colour}] ({f.kind}, {f.mode} mode): {result}"
                if f.kind == "advance" and f.mode == "manual":
                    text += " — the stage's progression is manual, so a person decides"
            self.say(when, f"[bold]{name}[/bold]: {text}")

    def hold(self, trigger: str, venture: str) -> str:
        """A trigger's `for:` duration, with a `config.` reference resolved for the venture."""
        trig = self.triggers[trigger]
        if not trig.for_.startswith("config."):
            return trig.for_
        wf = self.engine.workflow.workflow
        v = self.engine.venture(venture)
        setting = effective_config(wf, v.stage, v.segment)[trig.for_.removeprefix("config.")]
        return f"{setting.value} ({trig.for_})"

    # -- recording -------------------------------------------------------------------------------
    def sample(self, venture: str, metric: str, value: float, at: datetime) -> SampleIn:
        """A sample with an idempotency key (a re-run of the demo step would be harmless)."""
        return SampleIn(venture, metric, round(value, 2), at, f"{metric}@{at:%Y%m%dT%H%M%S}")

    def record(self, batch: list[SampleIn], now: datetime, actor: Actor = MONITOR) -> Ingested:
        """Record a batch, count it per venture and narrate the triggers it set off."""
        got = self.engine.record_samples(batch, actor=actor, now=now)
        for r in got.samples:
            if not r.duplicate:
                self.samples[self.name(r.venture_id)] += 1
        self.fired(now, got.fired)
        return got

    def retry(self, batch: list[SampleIn], now: datetime) -> None:
        """An uploader that did not see the answer sends the same batch again: the keys make it harmless."""
        got = self.engine.record_samples(batch, actor=MONITOR, now=now)
        dups = sum(r.duplicate for r in got.samples)
        self.say(
            now,
            f"the uploader timed out and re-sent the {now - timedelta(minutes=1):%H:%M} batch: "
            f"{dups} of {len(got.samples)} samples recognised by their idempotency keys, nothing stored twice",
        )

    def noisy(self, centre: float, spread: float, low: float = 0.0, high: float = 100.0) -> float:
        """A plausible reading around `centre`."""
        return min(high, max(low, centre + self.rng.uniform(-spread, spread)))

    def readings(self, mean: float, spread: float, n: int = 12, last_at_least: float | None = None) -> list[float]:
        """`n` readings averaging `mean` (to 0.1); with `last_at_least`, the highest comes last and reaches it."""
        values = [mean + self.rng.uniform(-spread, spread) for _ in range(n)]
        if last_at_least is not None:
            top = max(values)
            values.remove(top)
            values.append(top)
            values[-1] = max(values[-1], last_at_least)
            rest = n * mean - values[-1]  # what the others must add up to
            scale = sum(values[:-1])
            values[:-1] = [v * rest / scale for v in values[:-1]]
        shift = mean - sum(values) / n
        return [round(v + shift, 1) for v in values]

    # -- setup -----------------------------------------------------------------------------------
    def setup(self) -> None:
        """Create the ventures; each is blocked until its stage's inputs (and approvals) are there."""
        out.rule("1 · Six ventures enter their stages")
        e, t0 = self.engine, self.t0
        for n, spec in enumerate(data.VENTURES):
            when = self.at(0, n)
            v = e.create_venture(spec.name, spec.segment, spec.stage, actor=LEAD, now=when)
            self.ids[spec.name] = v.id
            self.stage[spec.name] = v.stage
            gate = e.check_gate(v.id, "entry", now=when)
            missing = ", ".join(c.name for c in gate.failing())
            self.say(
                when,
                f"[bold]{spec.name}[/bold] ({spec.segment}, {spec.pitch}) enters stage {spec.stage}: "
                f"[yellow]{v.status}[/yellow] — entry gate needs {missing}",
            )
        when = self.at(0, 10)
        k_inputs = {
            "technical_plan": data.technical_plan(t0),
            "resource_requirements": data.resource_requirements(),
            "timeline": data.timeline(t0),
        }
        self.put_all(K, k_inputs, when, LEAD)
        self.record([self.sample(K, "resource_allocation_rate", 92, when)], when, LEAD)
        ask = e.request_approval(
            K, "chairman", actor=LEAD, reason="Confirm the $90k/month allocation and 6 engineers", now=when
        )
        self.say(when, f"[bold]{K}[/bold]: 92% of resources allocated; lee asks the chairman (approval #{ask.id})")
        when = self.at(0, 15)
        e.decide_approval(ask.id, True, actor=CHAIRMAN, reason="Budget confirmed for two quarters", now=when)
        self.say(when, f"[bold]{K}[/bold]: ada (chairman) approves #{ask.id} → {self.status(K)}")
        for name, integrations in ((T, data.TALLY_INTEGRATIONS), (C, data.CARTWHEEL_INTEGRATIONS)):
            inputs = {
                "integration_requirements": data.integration_requirements(integrations),
                "api_documentation": data.api_documentation(integrations),
                "test_accounts": data.test_accounts(name, integrations),
            }
            grant = [data.env_grant(name)]
            e.set_config(name, "secrets.allowed_env", grant, actor=LEAD, reason="sandbox keys", now=self.at(0, 20))
            self.put_all(name, inputs, self.at(0, 20), LEAD)
        for name in (L, Q):
            inputs = {
                "performance_baseline": data.performance_baseline(name, self.before(name), t0 - timedelta(hours=2)),
                "bottleneck_analysis": data.bottleneck_analysis(name, t0 - timedelta(hours=1)),
                "cache_requirements": data.cache_requirements(name),
            }
            self.put_all(name, inputs, self.at(0, 25), LEAD)
        inputs = {
            "release_candidate": data.release_candidate(t0),
            "deployment_plan": data.deployment_plan(t0),
            "rollback_strategy": data.rollback_strategy(),
        }
        self.put_all(F, inputs, self.at(0, 30), EXEC)
        self.say(
            self.at(0, 30),
            f"[bold]{F}[/bold]: its configuration was snapshotted as [bold]pre-stage-30[/bold] on entry "
            f"(version {self.engine.snapshots(F)[0].version}: the stage defaults); the cutover is planned for "
            "tomorrow afternoon",
        )

    def put_all(self, venture: str, docs: dict[str, data.JSON], when: datetime, actor: Actor) -> None:
        """Store a venture's input artifacts (each checked against its JSON Schema) and say what changed."""
        stored = []
        for art_name, content in docs.items():
            art = self.engine.put_artifact(venture, art_name, content, actor=actor, now=when)
            stored.append(f"{art.name}@{art.version}")
        text = f"[bold]{venture}[/bold]: stored {', '.join(stored)} (each checked against its schema)"
        text += f" → {self.status(venture)}"
        if self.engine.venture(venture).status == "blocked":
            still = self.engine.check_gate(venture, "entry", now=when).failing()
            text += ", still waiting for " + ", ".join(c.name for c in still)
        self.say(when, text)

    def status(self, venture: str) -> str:
        """A venture's status, coloured."""
        st = self.engine.venture(venture).status
        style = render.STATUS_STYLE.get(st, "")
        return f"[{style}]{st}[/{style}]" if style else st

    @staticmethod
    def before(venture: str) -> data.Perf:
        """A stage-28 venture's baseline."""
        return data.LUMEN_BEFORE if venture == L else data.QUARRY_BEFORE

    @staticmethod
    def after(venture: str) -> data.Perf:
        """A stage-28 venture's optimised numbers."""
        return data.LUMEN_AFTER if venture == L else data.QUARRY_AFTER

    # -- what crews record -----------------------------------------------------------------------
    def complete(self, venture: str, substage: str, when: datetime, note: str) -> None:
        """A crew agent completes a substage, attesting all its done-when items."""
        s = self.engine.complete_substage(venture, substage, actor=CREW[self.stage[venture]], now=when)
        self.say(when, f"[bold]{venture}[/bold]: {CREW[self.stage[venture]].name} completes {s.id} {s.title} — {note}")

    def put(self, venture: str, name: str, content: data.JSON, when: datetime, parents: list[str]) -> str:
        """A crew agent stores an output artifact derived from earlier ones; returns NAME@VERSION."""
        art = self.engine.put_artifact(
            venture, name, content, actor=CREW[self.stage[venture]], derived_from=parents, now=when
        )
        return f"{art.name}@{art.version}"
