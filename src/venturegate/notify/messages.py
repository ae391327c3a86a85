"""What a notification says: a batch of grouped outbox items rendered for Slack, e-mail and webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3000
SLACK_HEADER_CHARS = 150


@dataclass(frozen=True)
class Item:
    """One notification (an outbox row) with what it tells about its event."""

    outbox_id: int
    event_id: int
    kind: str
    severity: str
    venture: str | None
    stage: int | None
    reason: str
    at: datetime
    actor: str
    data: dict[str, Any] | None = None

    def line(self) -> str:
        """A one-line summary: `[P1] rollback.completed · acme-pay · stage 19 — reason`."""
        where = " · ".join(p for p in (self.venture, f"stage {self.stage}" if self.stage is not None else None) if p)
        text = f"[{self.severity}] {self.kind}" + (f" · {where}" if where else "")
        return text + (f" — {self.reason}" if self.reason else "")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the webhook payload's `notifications` items)."""
        return {
            "outbox_id": self.outbox_id,
            "event_id": self.event_id,
            "kind": self.kind,
            "severity": self.severity,
            "venture": self.venture,
            "stage": self.stage,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "data": self.data,
        }


@dataclass(frozen=True)
class Batch:
    """The notifications of one group sent to one channel as one message; `delivery` identifies the message."""

    delivery: str
    channel: str
    group_key: str
    items: tuple[Item, ...] = field(default_factory=tuple)

    @property
    def severity(self) -> str:
        """The most severe of the items (P0 is the most severe)."""
        return min(i.severity for i in self.items)

    def title(self) -> str:
        """The message's headline."""
        first = self.items[0]
        if len(self.items) == 1:
            return first.line()
        kinds = sorted({i.kind for i in self.items})
        subject = kinds[0] if len(kinds) == 1 else f"{first.kind.split('.', 1)[0]} events"
        who = f" · {first.venture}" if first.venture and all(i.venture == first.venture for i in self.items) else ""
        return f"[{self.severity}] {len(self.items)} × {subject}{who}"

    def text(self) -> str:
        """Plain text: the headline, then one line per notification."""
        if len(self.items) == 1:
            return self.title()
        return "\n".join([self.title(), *(f"• {i.line()}" for i in self.items)])


def slack_payload(batch: Batch) -> dict[str, Any]:
    """The JSON an incoming webhook takes: `text` (the fallback) and Block Kit `blocks` within Slack's limits."""
    chunks: list[tuple[str, int]] = []
    for item in batch.items:
        line = _cut(f"• {item.line()}", SLACK_SECTION_CHARS)
        if chunks and len(chunks[-1][0]) + 1 + len(line) <= SLACK_SECTION_CHARS:
            chunks[-1] = (f"{chunks[-1][0]}\n{line}", chunks[-1][1] + 1)
        else:
            chunks.append((line, 1))
    room = SLACK_MAX_BLOCKS - 3  # the header, the "…and N more" note, the delivery footer
    shown, hidden = chunks[:room], chunks[room:]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(batch.title(), SLACK_HEADER_CHARS)}}
    ]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for text, _ in shown]
    if hidden:
        blocks.append(_context(f"…and {sum(n for _, n in hidden)} more"))
    blocks.append(_context(f"venturegate · delivery {batch.delivery}"))
    return {"text": _cut(batch.text(), 40000), "blocks": blocks}


def webhook_payload(batch: Batch) -> dict[str, Any]:
    """The JSON body of a signed webhook: the delivery id (receivers deduplicate on it) and every item."""
    return {
        "delivery": batch.delivery,
        "channel": batch.channel,
        "group": batch.group_key,
        "severity": batch.severity,
        "title": batch.title(),
        "notifications": [i.as_dict() for i in batch.items],
    }


def email_message(batch: Batch, sender: str, to: list[str]) -> EmailMessage:
    """A plain-text e-mail of the batch; `Message-ID` carries the delivery id."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = _cut(batch.title(), 200)
    msg["Message-ID"] = f"<{batch.delivery}@venturegate>"
    msg["X-Venturegate-Delivery"] = batch.delivery
    msg.set_content(batch.text() + f"\n\n-- \nventuregate delivery {batch.delivery}\n")
    return msg


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
