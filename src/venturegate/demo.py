"""`venturegate demo`: a fresh workspace and a day and a half in the life of a venture studio, step by step.

Six ventures in the four segments sit at stages 14, 19, 28 and 30. A simulated clock drives the story: every
engine call gets an explicit `now`, so `for:` holds and one-hour windows play out instantly and every run
tells the same story with the same numbers. Notifications go through the outbox to a local inbox (a fake
Slack webhook and an SMTP sink on 127.0.0.1), so nothing leaves the machine.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import stamina
from rich import box
from rich.markup import escape
from rich.table import Table
from stamina.instrumentation import RetryDetails, get_on_retry_hooks, set_on_retry_hooks

from venturegate import _demo_data as data
from venturegate.cli import render
from venturegate.cli.context import out
from venturegate.core.gates import GateResult
from venturegate.core.settings import effective_config
from venturegate.definitions.loader import load_workflow
from venturegate.definitions.model import Trigger
from venturegate.engine import Actor, BadInput, Engine, Fired, Ingested, SampleIn
from venturegate.engine.error_handling import ErrorRecord
from venturegate.engine.rollbacks import RollbackContext, RollbackRecord
from venturegate.notify.inbox import LocalInbox, Mail, SlackMessage
from venturegate.store.database import connect, ensure_schema

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
R = TypeVar("R")

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
"""When the story begins (a Monday morning)."""
HOURS = 32
"""Length of the story: setup, a day of data, then the morning and early afternoon of day two."""
MARKER = ".venturegate-demo"
"""A file that marks a folder as a demo workspace (only such a folder, or an empty one, is deleted)."""

K, T, C, L, Q, F = (v.name for v in data.VENTURES)


@dataclass(frozen=True)
class DemoSummary:
    """What a demo run left behind: where, how long, and what reached the local inbox."""

    folder: Path
    database: Path
    seconds: float
    rollbacks: list[RollbackRecord]
    errors: list[ErrorRecord]
    slack: list[SlackMessage]
    """Messages the fake Slack webhook took, in arrival order."""
    mail: list[Mail]
    """E-mails the SMTP sink took, in arrival order."""
    stage19: dict[str, Any] | None = None
    """What the stage-19 crew run did (None when the demo ran without crews)."""
    stage30: dict[str, Any] | None = None
    """What the stage-30 deployments did (None without crews, or without HAProxy)."""


def run_demo(workdir: Path, start: datetime = START, *, crews: bool = True) -> DemoSummary:
    """Recreate `workdir`, tell the story into its database, print a summary and return what happened.

    `workdir` must be new, empty or an earlier demo workspace; anything else is refused, never deleted.
    With `crews`, the stage-19 crew then runs for real against the bundled demo provider (about 20 s),
    and the stage-30 crew deploys two releases behind a local HAProxy under load (about 15 s; skipped,
    with a notice, when HAProxy is not installed — `make demo` installs it).
    """
    began = time.perf_counter()
    folder = _fresh_workspace(workdir)
    db_path = folder / "venturegate.db"
    db = connect(f"sqlite:///{db_path}")
    try:
        with LocalInbox() as inbox, _environment(inbox.environment()):
            ensure_schema(db)
            t0 = start.astimezone(UTC)
            story = Story(Engine(db, load_workflow()), t0, inbox)
            out.rule("[bold]venturegate demo[/bold]")
            out.print(f"workspace  {escape(str(folder))}")
            out.print(
                f"clock      simulated, {t0:%a %d %b %H:%M} → {story.at(HOURS):%a %d %b %H:%M} UTC "
                "(every engine call gets an explicit time, so `for:` holds and 1-hour windows play out instantly)"
            )
            out.print(
                f"inbox      a fake Slack webhook at {escape(inbox.slack_url)} and an SMTP sink at "
                f"127.0.0.1:{inbox.smtp_port} (VENTUREGATE_SLACK_WEBHOOK, VENTUREGATE_SMTP_HOST/PORT point here)"
            )
            story.tell()
            story.summary()
            stage19 = stage30 = None
            if crews:
                from venturegate.crews.stage19.demo import run_stage19_demo

                stage19 = run_stage19_demo(story.engine, out, folder / "stage19")
                stage30 = _stage30(story.engine, folder / "stage30")
            _next_steps(db_path, story.at(HOURS))
            rollbacks = story.engine.rollbacks()
            errors = story.engine.error_records()
            slack, mail = list(inbox.slack), list(inbox.mail)
    finally:
        db.dispose()
    seconds = time.perf_counter() - began
    out.print(f"[dim]finished in {seconds:.1f} s[/dim]")
    return DemoSummary(folder, db_path, seconds, rollbacks, errors, slack, mail, stage19, stage30)


def _stage30(engine: Engine, workdir: Path) -> dict[str, Any] | None:
    """The stage-30 deployments, when HAProxy is installed."""
    from venturegate.crews.stage30.demo import run_stage30_demo
    from venturegate.crews.stage30.haproxy import DriverError, find_haproxy

    try:
        find_haproxy()
    except DriverError as exc:
        out.print(f"[yellow]stage 30 skipped[/yellow]: {escape(str(exc))}")
        return None
    return run_stage30_demo(engine, out, workdir)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (channels read `${NAME}` at delivery), then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _fresh_workspace(workdir: Path) -> Path:
    folder = workdir.expanduser().resolve()
    if folder.exists():
        if not folder.is_dir():
            raise BadInput(f"{folder} is a file", where="--dir", hint="give a folder for the demo workspace")
        if any(folder.iterdir()) and not (folder / MARKER).exists():
            raise BadInput(
                f"{folder} is not empty and is not a demo workspace; refusing to delete it",
                where="--dir",
                hint="give a new or empty folder (the demo deletes and recreates it)",
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("Created by `venturegate demo`, which deletes and recreates this folder.\n")
    return folder


def _next_steps(db_path: Path, end: datetime) -> None:
    vg = f"venturegate --db sqlite:///{db_path}"
    out.print()
    out.print(f"[bold]Try next[/bold] — the database stays in {escape(str(db_path.parent))}:")
    for cmd in (
        "venture list",
        f"venture show {L}",
        f"gate check {C} --at {end:%Y-%m-%dT%H:%MZ}",
        f"events {L}",
        f"triggers {C}",
        "escalations",
        f"rollback log {F}",
        f"config history {F}",
        "errors",
        "outbox",
        "stats",
    ):
        out.print(f"  {escape(vg)} {cmd}", soft_wrap=True)
    out.print(
        f"[dim]Gates are judged at the current time unless `--at` names another; without `--at {end:%Y-%m-%dT%H:%MZ}` "
        "(the story's end) a check over the last hour finds no samples and says so.[/dim]"
    )


@dataclass
class Story:
    """The demo's state: the engine, the simulated clock, a seeded random source and what was recorded."""

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
        # What crew-30 would register: on a traffic rollback, move the load balancer back to blue.
        self.engine.register_rollback_handler("traffic", move_traffic_to_blue)

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

    # -- the story -------------------------------------------------------------------------------
    def tell(self) -> None:
        """Everything between the empty database and the summary."""
        self.setup()
        out.rule("2 · A day of data")
        self.say(
            self.at(0, 30),
            "Telemetry starts: hourly uploads of 5-minute infrastructure and cache readings, "
            "continuous API reliability, and the results of every test run, load test and CI run.",
        )
        for hour in range(1, HOURS + 1):
            if hour == 24:
                out.rule("3 · A trigger goes pending, then fires")
            if hour == 25:
                out.rule("5 · PERF-002: an assisted recursion, twice, then an escalation")
            if hour == 31:
                out.rule("8 · A trigger that waits for an hour of green")
            self.notes(hour)
            batch = self.hour_batch(hour)
            self.record(batch, self.at(hour))
            if hour == 11:
                self.retry(batch, self.at(hour, 1))
            self.beats(hour)
            if hour == 23:
                total = sum(self.samples.values())
                self.say(self.at(hour, 1), f"{total} samples recorded in the first day across {len(self.ids)} ventures")
            if hour < HOURS:
                self.deliver(self.at(hour, 59))  # the worker, sending whatever fell due in the hour
        self.notifications()

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

    # -- data ------------------------------------------------------------------------------------
    def hour_batch(self, hour: int) -> list[SampleIn]:
        """Every venture's samples for the hour ending at `at(hour)`."""
        batch: list[SampleIn] = []
        if self.stage[K] == 14:
            batch += self.keystone(hour)
        if self.stage[T] == 19:
            batch += self.integrations(T, hour, reliability=99.6, spread=0.2)
        if self.stage[C] == 19:
            batch += self.integrations(C, hour, reliability=99.955, spread=0.03)
        batch += self.performance(L, hour)
        batch += self.performance(Q, hour)
        return batch

    def keystone(self, hour: int) -> list[SampleIn]:
        """Stage 14: 5-minute uptime, a CI run every three hours, the daily preparation report."""
        end = self.at(hour)
        batch = [
            self.sample(K, "infrastructure_stability", self.noisy(99.82, 0.17), end - timedelta(minutes=55 - 5 * i))
            for i in range(12)
        ]
        if hour % 3 == 2:
            failed = hour == 2
            batch += [
                self.sample(K, "ci_cd_consecutive_failures", 1 if failed else 0, end),
                self.sample(K, "ci_cd_critical_test_failures", 2 if failed else 0, end),
                self.sample(K, "ci_cd_pipeline_coverage", 81.2 if failed else self.noisy(84.5, 0.4), end),
                self.sample(K, "provisioning_failures", 0, end),
            ]
        if hour in (2, 26):
            d = 0 if hour == 2 else 1
            report = {
                "readiness_score": (66, 71)[d],
                "dev_environment_access_rate": (83.3, 100)[d],
                "required_environments_ready": (50, 100)[d],
                "tool_access_rate": 80,
                "roles_filled_percent": (75, 87.5)[d],
                "onboarding_completion_rate": (33.3, 50)[d],
                "raci_approval_rate": (0, 42.9)[d],
                "prioritized_backlog_sprints": (1, 1.5)[d],
                "team_velocity": 24,
                "velocity_benchmark_deviation": 12,
                "incompatible_tools": 0,
            }
            batch += [self.sample(K, m, v, end) for m, v in report.items()]
        return batch

    def integrations(self, venture: str, hour: int, reliability: float, spread: float) -> list[SampleIn]:
        """Stage 19: continuous API health, plus the results of the crew's runs."""
        end = self.at(hour)
        batch = [
            self.sample(venture, "api_reliability", self.noisy(reliability, spread), end),
            self.sample(venture, "api_error_rate", self.noisy(0.4 if venture == T else 0.1, 0.15), end),
            self.sample(venture, "circuit_breaker_activations", 0, end),
        ]
        runs: dict[int, dict[str, float]]
        if venture == T:
            runs = {
                1: {"integration_success_rate": 96.8, "endpoint_test_coverage": 88},
                3: {"latency_p95": 640, "throughput": 150},
                5: {"fallback_coverage": 100, "circuit_breaker_test_pass_rate": 100},
            }
        else:
            runs = {
                2: {"latency_p95": 410, "throughput": 180},
                6: {"fallback_coverage": 100, "circuit_breaker_test_pass_rate": 100},
                24: {"integration_success_rate": 92.3, "endpoint_test_coverage": 91},
            }
        batch += [self.sample(venture, m, v, end - timedelta(minutes=2)) for m, v in runs.get(hour, {}).items()]
        return batch

    def cache_level(self, venture: str, hour: int) -> float:
        """The hit rate a stage-28 venture's cache runs at in an hour of the story."""
        if venture == Q:
            return 84.0
        if hour <= 24:
            return 77.0
        return {25: 68.9, 26: 76.5, 27: 68.4, 28: 76.0, 29: 67.8}.get(hour, 81.0)

    def performance(self, venture: str, hour: int) -> list[SampleIn]:
        """Stage 28: 5-minute cache readings once the cache is live, daily page load, per-minute load at the end."""
        end = self.at(hour)
        batch: list[SampleIn] = []
        if hour >= 5:  # the caches go live a little after 11:00
            level = self.cache_level(venture, hour)
            bad = level < 70
            values = self.readings(level, 2.5, last_at_least=70.2 if bad else None)
            batch += [
                self.sample(venture, "cache_hit_rate", v, end - timedelta(minutes=55 - 5 * i))
                for i, v in enumerate(values)
            ]
            penalty = 60.0 if venture == L else 45.0
            batch.append(self.sample(venture, "cache_miss_penalty", self.noisy(penalty, 8, 0, 1000), end))
        if hour in (2, 26):
            page = self.after(venture).page_load - (0 if hour == 2 else 15)
            batch += [
                self.sample(venture, "page_load_time", page, end),
                self.sample(venture, "slow_query_count", 0, end),
            ]
        if venture == Q and hour >= 31:
            for minute in range(60):
                at = end - timedelta(minutes=59 - minute)
                batch += [
                    self.sample(Q, "api_response_time_p95", self.noisy(168, 15, 0, 10_000), at),
                    self.sample(Q, "api_response_time_p99", self.noisy(390, 40, 0, 10_000), at),
                    self.sample(Q, "cpu_utilization", self.noisy(50, 7), at),
                    self.sample(Q, "memory_utilization", self.noisy(62, 3), at),
                ]
        return batch

    # -- what people and crews do, hour by hour --------------------------------------------------
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

    def notes(self, hour: int) -> None:
        """What happened out in the world during the hour, told before its data arrives."""
        when = self.at(hour)
        lumen = {
            25: "a catalogue re-import evicted the hot keys; the hour's 12 cache readings average {avg} "
            "(PERF-002 wants 70% over an hour)",
            26: "readings back at {avg}: PERF-002's condition turns false, so a later breach is a new episode",
            27: "a price import cleared the cache again: {avg} over the hour",
            28: "back at {avg}",
            29: "{avg} again — PERF-002 has already sent it back twice, and its limit is 2",
            30: "{avg} on Valkey: the hit rate holds",
        }
        if hour in lumen:
            self.say(when, f"[bold]{L}[/bold]: " + lumen[hour].format(avg=f"{self.cache_level(L, hour):.1f}%"))
        if hour == 24:
            self.say(
                when,
                f"[bold]{C}[/bold]: crew-19 runs the full integration suite: 36 of 39 pass (92.3%) — Shippo answered "
                "429 under load. Any other segment would accept that; b2c_mass needs 95%.",
            )
        if hour == 26:
            self.say(when, f"[bold]{K}[/bold]: daily report — readiness 71 (was 66), 87.5% of roles filled")
        if hour == 31:
            self.say(
                when,
                f"[bold]{Q}[/bold]: an hour of per-minute load data — p95 ~168 ms, CPU ~50%, memory ~62%, cache ~84%",
            )
        if hour == 32:
            self.say(when, f"[bold]{Q}[/bold]: another green hour")

    def beats(self, hour: int) -> None:
        """The people's and crews' steps after the hour's data arrived."""
        steps = {
            1: self.hour_1,
            2: self.hour_2,
            3: self.hour_3,
            5: self.hour_5,
            6: self.hour_6,
            24: self.cartwheel_regression,
            25: self.perf_002_first,
            27: self.perf_002_second,
            29: self.perf_002_escalates,
            30: self.deployment,
            32: self.quarry_notified,
        }
        step = steps.get(hour)
        if step is not None:
            step(hour)

    def hour_1(self, hour: int) -> None:
        """19.1 and 28.1 done."""
        self.complete(T, "19.1", self.at(hour, 5), "61 of 63 integration tests pass (96.8%)")
        self.complete(L, "28.1", self.at(hour, 10), "profiled; an N+1 catalogue query is the top hot path")
        self.complete(Q, "28.1", self.at(hour, 12), "profiled; the tonnage query scans weighbridge_readings")

    def hour_2(self, hour: int) -> None:
        """Cartwheel's load test."""
        self.complete(C, "19.2", self.at(hour, 5), "load test: p95 410 ms, 180 req/s sustained")

    def hour_3(self, hour: int) -> None:
        """Tally's load test; both caches built."""
        when = self.at(hour, 5)
        results = data.integration_test_results(
            "tally-run-1", self.at(1, -3), data.TALLY_INTEGRATIONS, latency_p95=640, throughput=150
        )
        ref = self.put(
            T, "integration_test_results", results, when, ["integration_requirements@1", "api_documentation@1"]
        )
        self.complete(T, "19.2", when, f"load test: p95 640 ms, 150 req/s; stored {ref}")
        for name in (L, Q):
            when = self.at(hour, 20 if name == L else 25)
            ref = self.put(name, "cache_layer", data.cache_layer(name, 1), when, ["cache_requirements@1"])
            self.complete(name, "28.2", when, f"{data.cache_note(name, 1)}; stored {ref}")

    def hour_5(self, hour: int) -> None:
        """Tally's fallbacks; Keystone's environments."""
        when = self.at(hour, 5)
        refs = [
            self.put(T, "api_configurations", data.api_configurations(data.TALLY_INTEGRATIONS), when, []),
            self.put(T, "fallback_strategies", data.fallback_strategies(data.TALLY_INTEGRATIONS), when, []),
        ]
        self.complete(T, "19.3", when, f"breakers open after 5 failures and reset; stored {', '.join(refs)}")
        when = self.at(hour, 30)
        ref = self.put(K, "development_environment", data.development_environment(when), when, [])
        self.complete(K, "14.1", when, f"dev and staging up, CI green again; stored {ref}")

    def hour_6(self, hour: int) -> None:
        """Cartwheel's fallbacks; both stage-28 ventures optimised and reported."""
        when = self.at(hour, 5)
        refs = [
            self.put(C, "api_configurations", data.api_configurations(data.CARTWHEEL_INTEGRATIONS), when, []),
            self.put(C, "fallback_strategies", data.fallback_strategies(data.CARTWHEEL_INTEGRATIONS), when, []),
        ]
        self.complete(C, "19.3", when, f"fallbacks and breakers verified; stored {', '.join(refs)}")
        for name in (L, Q):
            when = self.at(hour, 20 if name == L else 30)
            before, after = self.before(name), self.after(name)
            code = self.put(name, "optimized_code", data.optimized_code(name, before, after), when, [])
            report = data.performance_report(before, after, when)
            rep = self.put(name, "performance_report", report, when, ["performance_baseline@1", code])
            self.complete(name, "28.3", when, f"p95 {before.p95:g} → {after.p95:g} ms; stored {code} and {rep}")
        when = self.at(hour, 40)
        criterion = "Best practices applied: lint passes and the changes follow the studio's optimisation patterns"
        self.engine.attest(Q, criterion, actor=EXEC, now=when)
        self.say(when, f'[bold]{Q}[/bold]: ivy (exec) attests "Best practices applied"')

    def cartwheel_regression(self, hour: int) -> None:
        """The failing run's results, the reopened substages, and the tick that fires the pending alert."""
        when = self.at(hour, 2)
        results = data.integration_test_results("cartwheel-run-1", self.at(hour, -2), data.CARTWHEEL_INTEGRATIONS)
        ref = self.put(C, "integration_test_results", results, when, ["integration_requirements@1"])
        self.say(when, f"[bold]{C}[/bold]: crew-19 stores {ref}; substages now {self.substage_line(C)}")
        when = self.at(hour, 5)
        report = self.engine.tick(now=when)
        self.say(
            when,
            f"[bold]tick[/bold] at {when:%H:%M}: {report.timers} timer due — the wake-up the pending alert scheduled",
        )
        self.fired(when, report.fired)
        self.gates(hour)

    def gates(self, hour: int) -> None:
        """One stage-19 exit gate passes (and the venture advances), one does not."""
        out.rule("4 · Gates explain themselves")
        e = self.engine
        when = self.at(hour, 10)
        self.say(when, f"[bold]{T}[/bold]: ivy (exec) checks the stage-19 exit gate")
        self.gate(T, e.check_gate(T, "exit", now=when))
        when = self.at(hour, 12)
        v = e.advance(T, actor=EXEC, now=when, expected_stage=19)
        self.stage[T] = v.stage
        entry = e.check_gate(T, "entry", now=when)
        self.say(
            when,
            f"[bold]{T}[/bold]: ivy advances it 19 → {v.stage}: [yellow]{v.status}[/yellow] until "
            + " and ".join(f'"{c.name}"' for c in entry.failing())
            + " are attested",
        )
        when = self.at(hour, 15)
        for c in entry.failing():
            e.attest(T, c.name, actor=EXEC, now=when)
        self.say(when, f"[bold]{T}[/bold]: ivy attests both → {self.status(T)} at stage {e.venture(T).stage}")
        when = self.at(hour, 20)
        self.say(when, f"[bold]{C}[/bold]: the same gate for cartwheel")
        self.gate(C, e.check_gate(C, "exit", now=when))

    def gate(self, venture: str, result: GateResult) -> None:
        """Print a gate's explanation with the engine's renderer."""
        render.gate_result(result, self.engine.venture(venture))

    def substage_line(self, venture: str) -> str:
        """`✓ 28.1  · 28.2  · 28.3` for the current visit."""
        return "  ".join(
            f"[green]✓ {s.id}[/green]" if s.status == "done" else f"· {s.id}" for s in self.engine.substages(venture)
        )

    def approve_proposal(self, hour: int, trigger: str, reason: str) -> None:
        """Lee (lead) approves the trigger's pending proposal; the venture goes back to 28.2."""
        e = self.engine
        when = self.at(hour, 15)
        for a in e.approvals(L, "pending"):
            if (a.payload or {}).get("trigger") == trigger:
                e.decide_approval(a.id, True, actor=LEAD, reason=reason, now=when)
                self.say(when, f"[bold]{L}[/bold]: lee (lead) approves #{a.id} ({escape(a.reason)}): {reason}")
        self.say(when, f"[bold]{L}[/bold]: back in 28.2 — substages {self.substage_line(L)}")

    def rework(self, hour: int, version: int, start: int = 40) -> None:
        """The cache architect reworks the cache and the code optimiser re-checks the hot paths."""
        when = self.at(hour, start)
        parents = ["cache_requirements@1", f"cache_layer@{version - 1}"]
        ref = self.put(L, "cache_layer", data.cache_layer(L, version), when, parents)
        self.complete(L, "28.2", when, f"{data.cache_note(L, version)}; stored {ref}")
        self.complete(L, "28.3", self.at(hour, start + 10), "hot paths re-checked against the new cache")

    def perf_002_first(self, hour: int) -> None:
        """The first proposal, approved."""
        self.approve_proposal(hour, "PERF-002", "version the keys by catalogue revision")
        self.rework(hour, 2)

    def perf_002_second(self, hour: int) -> None:
        """The second proposal, approved."""
        self.approve_proposal(hour, "PERF-002", "add TTL jitter and a warm-up job after imports")
        self.rework(hour, 3)

    def perf_002_escalates(self, hour: int) -> None:
        """The third breach escalates; the chairman resolves it."""
        e = self.engine
        esc = e.escalations(ref=L)[0]
        table = Table(title=f"Escalation {esc.code}", title_justify="left", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        table.add_row("status", esc.status)
        table.add_row("owner", f"{esc.role} (or the chairman)")
        table.add_row("trigger", esc.trigger_id or "—")
        table.add_row("reason", esc.reason)
        table.add_row("venture", f"{L} is {self.status(L)}; the escalation keeps its last {len(esc.history)} events")
        out.print(table)
        when = self.at(hour, 20)
        done = e.resolve_escalation(
            esc.code,
            "28.2",
            actor=CHAIRMAN,
            reason="Cache tool review: move the catalogue cache to Valkey with LFU eviction",
            now=when,
        )
        self.say(
            when,
            f"[bold]{L}[/bold]: ada (chairman) resolves {done.code}: review the cache tool itself, resume at "
            f"{done.resume_at} → {self.status(L)}; substages {self.substage_line(L)}",
        )
        self.rework(hour, 4, start=35)

    def quarry_notified(self, hour: int) -> None:
        """PERF-004 fired in manual mode."""
        self.say(
            self.at(hour, 1),
            f"[bold]{Q}[/bold]: its exit gate passes; stage 28 is promoted to assisted after 5 clean runs, "
            "and then PERF-004 will propose the advance itself",
        )

    # -- day two, 14:00: a deployment, a bad setting, a rollback; an error handled by policy -----
    def deployment(self, hour: int) -> None:
        """Ferryway's cutover with a too-aggressive canary, DEPLOY-002's rollback, then Cartwheel's 429s."""
        out.rule("6 · A bad configuration change, and the rollback trigger that undoes it")
        e = self.engine
        when = self.at(hour, 2)
        checks = ("health_check_pass_rate", "dependency_check_pass_rate", "backup_verification_pass_rate")
        self.record([self.sample(F, m, 100, when) for m in checks], when, CREW[30])
        self.complete(F, "30.1", when, "3 of 3 health endpoints answer 200, dependencies present, backups verified")
        when = self.at(hour, 3)
        ask = e.request_approval(
            F, "chairman", actor=EXEC, reason=f"Release {data.FERRY_RELEASE} to production", now=when
        )
        e.decide_approval(ask.id, True, actor=CHAIRMAN, reason="Go, before the evening sailings", now=when)
        self.say(when, f"[bold]{F}[/bold]: ivy (exec) asks for the cutover (#{ask.id}); ada (chairman) approves it")
        self.bad_change(self.at(hour, 5))
        fired_at = self.cutover(self.at(hour, 6))
        self.show_rollback(fired_at)
        self.back_on_blue(fired_at)
        self.deliver(self.at(hour, 10), narrate=True)
        out.rule("7 · An error classified, retried and resolved")
        self.rate_limited(self.at(hour, 20))

    def bad_change(self, when: datetime) -> None:
        """Lee shortens the canary: one value refused by its range, then two accepted that will hurt."""
        e = self.engine
        try:
            e.set_config(F, "traffic.canary_steps", "50,150", actor=LEAD, reason="faster cutover", now=when)
        except BadInput as exc:
            self.say(
                when,
                f"[bold]{F}[/bold]: lee sets traffic.canary_steps to 50,150: [red]refused[/red] — "
                + escape(exc.message),
            )
        why = "skip the 10% step to finish before the 15:00 sailings"
        steps = e.set_config(F, "traffic.canary_steps", "50,100", actor=LEAD, reason=why, now=when)
        watch = e.set_config(
            F, "traffic.canary_monitoring_duration", 60, actor=LEAD, reason="watch each step for 1 minute", now=when
        )
        self.say(
            when,
            f"[bold]{F}[/bold]: lee sets traffic.canary_steps {steps.previous} → {steps.value} "
            f"(version {steps.version}) and traffic.canary_monitoring_duration {watch.previous} → {watch.value} s "
            f"(version {watch.version}): "
            f'"{why}" — [yellow]half the traffic will hit the new release at once[/yellow]',
        )

    def cutover(self, start: datetime) -> datetime:
        """Half the traffic on green; the error rate climbs until DEPLOY-002 fires. Returns when it fired."""
        line = self.engine.setting(F, "rollback.error_rate_threshold")
        self.say(
            start,
            f"[bold]{F}[/bold]: crew-30 brings up green ({data.FERRY_RELEASE}) and moves 50% of traffic to it; "
            f"telemetry reads the error rate every 10 s (rollback line: rollback.error_rate_threshold = {line.value}%, "
            f"from the {line.source})",
        )
        self.record([self.sample(F, "green_traffic_share", 50, start)], start, CREW[30])
        readings: list[str] = []
        for n, rate in enumerate(data.FERRY_CUTOVER_ERRORS):
            at = start + timedelta(seconds=10 * n)
            readings.append(f"{rate:g}")
            got = self.engine.record_samples([self.sample(F, "deployment_error_rate", rate, at)], actor=MONITOR, now=at)
            self.samples[F] += 1
            for f in got.fired:
                if isinstance(f, Fired) and f.trigger == "DEPLOY-002":
                    if f.outcome == "pending":
                        self.say(at, f"[dim]error rate, %: {' '.join(readings)}[/dim]")
                        readings = []
                    self.fired(at, [f])
                    if f.outcome != "pending":
                        self.say(at, f"[dim]error rate, %: {' '.join(readings)}[/dim]")
                        return at
        raise RuntimeError("DEPLOY-002 did not fire: the demo's cutover readings no longer breach the threshold")

    def show_rollback(self, when: datetime) -> None:
        """The rollback log entry: what was restored from where, the handler, the duration."""
        e = self.engine
        rb = e.rollbacks(F)[0]
        table = Table(
            title=f"Rollback #{rb.id} of {F} ({rb.trigger}, {rb.outcome})", title_justify="left", box=box.SIMPLE_HEAD
        )
        table.add_column("parameter", no_wrap=True)
        table.add_column(f"bad (v{rb.from_version})", justify="right", no_wrap=True)
        table.add_column(f"restored ({rb.target}, v{rb.target_version})", justify="right", no_wrap=True)
        for d in rb.diff:
            table.add_row(d.key, str(d.before), f"{d.after} ({d.after_source})")
        out.print(table)
        for h in rb.handlers:
            self.say(when, f"  handler {h.scope}/{h.handler}: {'ok' if h.ok else 'FAILED'} — {escape(h.detail)}")
        left = e.config_diff(F, rb.target, "current").changes
        same = "identical" if not left else f"{len(left)} difference(s) outside the traffic scope"
        self.say(
            when,
            f"  restore + handler took [bold]{rb.duration_ms:.1f} ms[/bold] in one transaction (the studio's target: "
            f"5 minutes); new version {rb.to_version}; config diff {rb.target} current: {same}",
        )

    def back_on_blue(self, fired_at: datetime) -> None:
        """The error rate falls back once blue takes all the traffic again."""
        start = fired_at + timedelta(seconds=10)
        batch = [self.sample(F, "green_traffic_share", 0, start)]
        batch += [
            self.sample(F, "deployment_error_rate", rate, start + timedelta(seconds=10 * n))
            for n, rate in enumerate(data.FERRY_BLUE_ERRORS)
        ]
        now = start + timedelta(seconds=10 * len(data.FERRY_BLUE_ERRORS))
        self.record(batch, now)
        state = next(t["state"] for t in self.engine.trigger_status(F, now=now) if t["trigger"] == "DEPLOY-002")
        rates = ", ".join(f"{r:g}%" for r in data.FERRY_BLUE_ERRORS)
        self.say(
            now,
            f"[bold]{F}[/bold]: all traffic on blue (3.1.4) again — error rate {rates}; DEPLOY-002 is {state}. "
            "The next attempt uses the default 10/50/100 canary.",
        )

    def rate_limited(self, when: datetime) -> None:
        """Cartwheel's crew meets Shippo's rate limit twice; the E19-RATE-LIMIT policy retries until it works."""
        e = self.engine
        shippo = data.ShippoSandbox(throttled=2)
        try:
            shippo.buy_label()
        except data.ProviderError as exc:
            self.say(
                when,
                f"[bold]{C}[/bold]: crew-19 re-runs the Shippo label test: [red]{escape(str(exc))}[/red]; "
                "it hands the error and the call to engine.handle_error",
            )
            handle = partial(e.handle_error, C, None, exc, shippo.buy_label, actor=CREW[19], now=when)
            handled, retries = _instant_retries(handle)
        else:
            raise RuntimeError("the Shippo sandbox stub no longer throttles")
        for d in retries:
            self.say(when, f"[bold]{C}[/bold]: stamina schedules retry {d.retry_num} after {escape(str(d.caused_by))}")
        r = handled.record
        steps = "; ".join(f"{s['action']} {s['outcome']} ({s['attempts']} attempt(s))" for s in r.steps)
        self.say(
            when,
            f"[bold]{C}[/bold]: error #{r.id} classified [bold]{r.rule_id}[/bold] ({r.category}): "
            f"{escape('; '.join(r.why))}",
        )
        self.say(
            when,
            f"[bold]{C}[/bold]: {steps} — [green]{r.status}[/green]: Shippo answered 429 twice, then sold label "
            f"{handled.result['object_id']}; {r.time_to_resolve_ms:.1f} ms to resolve (stamina's test mode "
            "skipped the 1 s and 2 s backoff waits)",
        )
        report = e.error_report()
        share = "n/a" if report.automatic_share is None else f"{report.automatic_share:.0%}"
        self.say(
            when,
            f"`venturegate errors`: {report.errors} error(s), {report.resolved_automatically} resolved without a "
            f"human ({share}; the studio's target is {report.target:.0%})",
        )

    # -- notifications -----------------------------------------------------------------------------
    def deliver(self, when: datetime, narrate: bool = False) -> None:
        """Send what fell due, as the worker would; with `narrate`, say what reached the inbox."""
        slack, mail = len(self.inbox.slack), len(self.inbox.mail)
        report = self.engine.deliver_outbox(now=when)
        if report.errors:
            self.say(when, f"[red]delivery failed[/red]: {escape('; '.join(report.errors))}")
        if not narrate:
            return
        self.say(
            when,
            f"the worker delivers the outbox: {report.sent} notification(s) in {report.messages} message(s) — "
            f"{len(self.inbox.slack) - slack} to Slack, {len(self.inbox.mail) - mail} e-mail(s) to the chairman",
        )
        for m in self.inbox.slack[slack:]:
            self.say(when, f"  [magenta]slack[/magenta]  {escape(m.title)}")
        for x in self.inbox.mail[mail:]:
            self.say(when, f"  [magenta]e-mail[/magenta] {escape(x.subject)}")

    def notifications(self) -> None:
        """Everything that reached the local inbox, grouped as it was sent."""
        out.rule("9 · Notifications in a local inbox")
        e, when = self.engine, self.at(HOURS, 1)
        self.deliver(when)
        sent = e.outbox_entries("sent", limit=10_000)
        at = {x.delivery: x.sent_at for x in sent}
        left = len(e.outbox_entries("pending", limit=10_000)) + len(e.outbox_entries("dead", limit=10_000))
        self.say(
            when,
            f"every routed event went through the outbox: {len(sent)} notifications sent, {left} pending or dead; "
            f"groups (same channel, venture and kind prefix) became {len(self.inbox.slack)} Slack messages and "
            f"{len(self.inbox.mail)} e-mails",
        )
        slack = Table(title="Slack (fake incoming webhook)", title_justify="left", box=box.SIMPLE_HEAD)
        slack.add_column("sent", no_wrap=True)
        slack.add_column("n", justify="right")
        slack.add_column("message (headline; a group lists its notifications)", overflow="fold")
        for m in self.inbox.slack:
            sent_at = at.get(m.delivery)
            items = [_brief(line[2:]) for line in m.text.split("\n")[1:] if line.startswith("• ")]
            text = "\n".join([_brief(m.title), *(f"  • {i}" for i in items)])
            slack.add_row("" if sent_at is None else f"{sent_at:%a %H:%M}", str(len(items) or 1), escape(text))
        out.print(slack)
        mail = Table(title="The chairman's e-mail (SMTP sink)", title_justify="left", box=box.SIMPLE_HEAD)
        mail.add_column("sent", no_wrap=True)
        mail.add_column("to", no_wrap=True)
        mail.add_column("subject", overflow="fold")
        for x in self.inbox.mail:
            sent_at = at.get(x.delivery)
            mail.add_row(
                "" if sent_at is None else f"{sent_at:%a %H:%M}", ", ".join(x.recipients), escape(_brief(x.subject))
            )
        out.print(mail)

    # -- the end ---------------------------------------------------------------------------------
    def summary(self) -> None:
        """Where every venture stands, from the database."""
        e, end = self.engine, self.at(HOURS)
        out.rule("Summary")
        wide = out.width >= 110
        table = Table(
            title=f"Ventures at {end:%a %d %b %H:%M} UTC",
            caption="exit gate: the current stage's, judged then (✗ n/m: n of m checks not passed)"
            + ("" if wide else "; rec.: recursions; esc.: escalations"),
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            show_edge=False,
            padding=(0, 1) if wide else (0, 0),
        )
        table.add_column("venture", no_wrap=True)
        table.add_column("segment", no_wrap=True)
        counts = ("recursions", "escalations") if wide else ("rec.", "esc.")
        for col in ("stage", "status", "exit gate", "samples", "events", *counts):
            table.add_column(col, no_wrap=True, justify="left" if col in ("status", "exit gate") else "right")
        for v in e.ventures():
            gate = e.check_gate(v.id, "exit", now=end)
            open_ = len(gate.failing())
            verdict = "[green]✓ passes[/green]" if gate.passed else f"[red]✗ {open_}/{len(gate.checks)}[/red]"
            events = e.events(v.id, limit=10_000)
            style = render.STATUS_STYLE.get(v.status, "white")
            table.add_row(
                v.name,
                v.segment,
                str(v.stage),
                f"[{style}]{v.status}[/{style}]",
                verdict,
                str(self.samples[v.name]),
                str(len(events)),
                str(sum(ev.kind == "recursion" for ev in events)),
                str(len(e.escalations(ref=v.id))),
            )
        out.print(table)


def move_traffic_to_blue(ctx: RollbackContext) -> str:
    """The demo's stand-in for crew-30's traffic handler: says what it would tell the load balancer."""
    keys = ", ".join(c.key for c in ctx.changes) or "no setting changed"
    return f"{ctx.venture}: HAProxy weights blue 100 / green 0 (restored: {keys})"


def _instant_retries(call: Callable[[], R]) -> tuple[R, list[RetryDetails]]:
    """Run `call` with stamina in test mode (no backoff waits, each rule's own attempt count) and its retries noted.

    E19-RATE-LIMIT waits 1 s, then 2 s (plus jitter) between attempts; the demo skips the waits to stay fast.
    Classification, attempts and the error record are what a real crew gets. stamina's own retry hooks
    (a log line, a Prometheus counter) are swapped for a list for the duration, then restored.
    """
    seen: list[RetryDetails] = []

    def note(details: RetryDetails) -> None:
        seen.append(details)

    hooks = get_on_retry_hooks()
    set_on_retry_hooks([note])
    try:
        with stamina.set_testing(True, attempts=10, cap=True):
            return call(), seen
    finally:
        set_on_retry_hooks(hooks)


def _brief(line: str, reason: int = 48) -> str:
    """A notification line with its reason cut short (the inbox keeps the whole text)."""
    head, sep, why = line.partition(" — ")
    return head + (sep + (why if len(why) <= reason else why[: reason - 1] + "…") if sep else "")
