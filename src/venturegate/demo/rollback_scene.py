"""Day two, 14:00: Ferryway's cutover, a bad configuration change rolled back by DEPLOY-002, a rate-limited call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import stamina
from rich import box
from rich.markup import escape
from rich.table import Table
from stamina.instrumentation import RetryDetails, get_on_retry_hooks, set_on_retry_hooks

from venturegate.cli.context import out
from venturegate.demo import data
from venturegate.demo.report import Report
from venturegate.demo.story import CHAIRMAN, CREW, EXEC, LEAD, MONITOR, C, F
from venturegate.engine import BadInput, Fired
from venturegate.engine.rollbacks import RollbackContext

R = TypeVar("R")


class RollbackScene(Report):
    """The deployment scene; registers the traffic rollback handler crew-30 would register."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # What crew-30 would register: on a traffic rollback, move the load balancer back to blue.
        self.engine.register_rollback_handler("traffic", move_traffic_to_blue)

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
