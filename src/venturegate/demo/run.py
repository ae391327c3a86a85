"""`venturegate demo`: a fresh workspace and a day and a half in the life of a venture studio, step by step.

Six ventures in the four segments sit at stages 14, 19, 28 and 30. A simulated clock drives the story: every
engine call gets an explicit `now`, so `for:` holds and one-hour windows play out instantly and every run
tells the same story with the same numbers. Notifications go through the outbox to a local inbox (a fake
Slack webhook and an SMTP sink on 127.0.0.1), so nothing leaves the machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape

from venturegate.cli.context import out
from venturegate.definitions.loader import load_workflow
from venturegate.demo.beats import Beats
from venturegate.demo.report import next_steps
from venturegate.demo.story import HOURS, START
from venturegate.demo.workspace import environment, fresh_workspace
from venturegate.engine import Engine
from venturegate.engine.error_recovery import ErrorRecord
from venturegate.engine.rollbacks import RollbackRecord
from venturegate.notify.inbox import LocalInbox, Mail, SlackMessage
from venturegate.store.database import connect, ensure_schema


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
    stage17: dict[str, Any] | None = None
    """What the stage-17 scene did (None when the demo ran without crews)."""
    stage28: dict[str, Any] | None = None
    """What the stage-28 crew run did (None without crews, or without its PostgreSQL and Redis)."""
    stage14: dict[str, Any] | None = None
    """What the stage-14 crew runs did (None when the demo ran without crews)."""


class Story(Beats):
    """The whole story, told in order: setup, a day and a half of data and beats, then the inbox."""

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


def run_demo(workdir: Path, start: datetime = START, *, crews: bool = True) -> DemoSummary:
    """Recreate `workdir`, tell the story into its database, print a summary and return what happened.

    `workdir` must be new, empty or an earlier demo workspace; anything else is refused, never deleted.
    With `crews`, the stage-19 crew then runs for real against the bundled demo provider (about 20 s),
    and the stage-30 crew deploys two releases behind a local HAProxy under load (about 15 s; skipped,
    with a notice, when HAProxy is not installed — `make demo` installs it).
    """
    began = time.perf_counter()
    folder = fresh_workspace(workdir)
    db_path = folder / "venturegate.db"
    db = connect(f"sqlite:///{db_path}")
    try:
        with LocalInbox() as inbox, environment(inbox.environment()):
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
            stage14 = stage17 = stage19 = stage30 = stage28 = None
            if crews:
                from venturegate.demo.stage14_scene import run_stage14_scene

                stage14 = run_stage14_scene(story.engine, out, folder / "stage14")
                from venturegate.crews.stage19.demo import run_stage19_demo

                stage19 = run_stage19_demo(story.engine, out, folder / "stage19")
                from venturegate.demo.gtm_scene import run_stage17_demo

                stage17 = run_stage17_demo(story.engine, out, folder / "stage17")
                stage30 = _stage30(story.engine, folder / "stage30")
                stage28 = _stage28(story.engine, folder / "stage28")
            next_steps(db_path, story.at(HOURS))
            rollbacks = story.engine.rollbacks()
            errors = story.engine.error_records()
            slack, mail = list(inbox.slack), list(inbox.mail)
    finally:
        db.dispose()
    seconds = time.perf_counter() - began
    out.print(f"[dim]finished in {seconds:.1f} s[/dim]")
    return DemoSummary(
        folder, db_path, seconds, rollbacks, errors, slack, mail, stage19, stage30, stage17, stage28, stage14
    )


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


def _stage28(engine: Engine, workdir: Path) -> dict[str, Any] | None:
    """The stage-28 crew on the defective demo shop, when its PostgreSQL (pg_stat_statements, hypopg) can start."""
    from venturegate.crews.stage28.demo import ServicesMissing, run_stage28_demo

    try:
        return run_stage28_demo(engine, out, workdir)
    except ServicesMissing as exc:
        out.print(f"[yellow]stage 28 skipped[/yellow]: {escape(str(exc))}")
        return None
