"""The demo's reporting: outbox delivery, the local inbox's notifications, the summary table and next steps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich import box
from rich.markup import escape
from rich.table import Table

from venturegate.cli import render
from venturegate.cli.context import out
from venturegate.demo.story import HOURS, C, F, L, StoryBase


class Report(StoryBase):
    """Delivers the outbox as the worker would and shows what reached the inbox and where the ventures stand."""

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


def next_steps(db_path: Path, end: datetime) -> None:
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


def _brief(line: str, reason: int = 48) -> str:
    """A notification line with its reason cut short (the inbox keeps the whole text)."""
    head, sep, why = line.partition(" — ")
    return head + (sep + (why if len(why) <= reason else why[: reason - 1] + "…") if sep else "")
