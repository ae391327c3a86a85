"""Sending claimed batches: every batch concurrently (bounded), one HTTP session, one outcome per batch."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import aiohttp

from venturegate.definitions.model import Channel
from venturegate.notify.channels import DeliveryError, send_email, send_slack, send_webhook
from venturegate.notify.messages import Batch

CONCURRENCY = 16
"""Batches in flight at once."""


async def send_one(session: aiohttp.ClientSession, channels: Mapping[str, Channel], batch: Batch) -> str | None:
    """Send one batch; None when the channel took it, else why not."""
    channel = channels.get(batch.channel)
    if channel is None:
        return f"channel '{batch.channel}' is not configured (notifications.channels)"
    try:
        if channel.type == "slack":
            await send_slack(session, batch.channel, channel, batch)
        elif channel.type == "webhook":
            await send_webhook(session, batch.channel, channel, batch)
        else:
            await send_email(batch.channel, channel, batch)
    except DeliveryError as exc:
        return str(exc) or "delivery failed"
    return None


async def send_all(
    batches: Sequence[Batch], channels: Mapping[str, Channel], concurrency: int = CONCURRENCY
) -> dict[str, str | None]:
    """Send every batch; returns the outcome by delivery id (None: delivered, else the error)."""
    if not batches:
        return {}
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def bounded(batch: Batch) -> tuple[str, str | None]:
            async with gate:
                return batch.delivery, await send_one(session, channels, batch)

        results = await asyncio.gather(*(bounded(b) for b in batches))
    return dict(results)


def deliver(batches: Sequence[Batch], channels: Mapping[str, Channel]) -> dict[str, str | None]:
    """`send_all` from synchronous code (the CLI, the worker); must not be called inside a running loop."""
    return asyncio.run(send_all(batches, channels))
