"""The channels: a Slack incoming webhook, SMTP e-mail and a JSON webhook signed with HMAC-SHA256.

Each sender either returns (the channel took the message) or raises `DeliveryError` saying why not.

Signed webhooks carry three headers:

- `X-Venturegate-Delivery`: the delivery id (the same on a retry: receivers deduplicate on it),
- `X-Venturegate-Timestamp`: Unix seconds when the request was signed,
- `X-Venturegate-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the channel's secret, of
  the timestamp, a `.`, and the raw request body.

A receiver recomputes the HMAC over `timestamp + "." + body` as received (before parsing the JSON),
compares it in constant time, and rejects timestamps more than five minutes away from its clock
(`verify_signature` does exactly this).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time

import aiohttp
import aiosmtplib

from venturegate.core.durations import parse_duration
from venturegate.definitions.model import ENV_REF_RE, Channel
from venturegate.notify.messages import Batch, email_message, slack_payload, webhook_payload

SIGNATURE_HEADER = "X-Venturegate-Signature"
TIMESTAMP_HEADER = "X-Venturegate-Timestamp"
DELIVERY_HEADER = "X-Venturegate-Delivery"
SIGNATURE_TOLERANCE = 300.0
"""Seconds a signed request stays acceptable (against replays)."""


class DeliveryError(Exception):
    """A channel did not take a message; the text says why (it is stored as the row's `last_error`)."""


def expand(value: str, channel: str, setting: str) -> str:
    """Replace each `${NAME}` with the environment variable NAME; a missing one is a delivery error."""

    def sub(m: re.Match[str]) -> str:
        found = os.environ.get(m.group(1))
        if found is None:
            raise DeliveryError(f"channel '{channel}': {setting} reads ${{{m.group(1)}}}, which is not set")
        return found

    return ENV_REF_RE.sub(sub, value)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: `sha256=<hex HMAC-SHA256 of "timestamp.body">`."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: bytes, timestamp: str, body: bytes, signature: str, now: float, tolerance: float = SIGNATURE_TOLERANCE
) -> bool:
    """What a receiver checks: a fresh timestamp and a signature that matches the raw body."""
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _timeout(channel: Channel) -> float:
    return parse_duration(channel.timeout)


async def send_slack(session: aiohttp.ClientSession, name: str, channel: Channel, batch: Batch) -> None:
    """POST the Block Kit payload to the incoming webhook; Slack answers 200 `ok` when it took it."""
    url = expand(channel.url, name, "url")
    await _post(session, url, json.dumps(slack_payload(batch)).encode(), {}, _timeout(channel), expect_ok=True)


async def send_webhook(
    session: aiohttp.ClientSession, name: str, channel: Channel, batch: Batch, now: float | None = None
) -> None:
    """POST the JSON payload signed with HMAC-SHA256; any 2xx answer means delivered."""
    url = expand(channel.url, name, "url")
    secret = expand(channel.secret, name, "secret").encode()
    body = json.dumps(webhook_payload(batch), separators=(",", ":"), sort_keys=True).encode()
    stamp = str(int(time.time() if now is None else now))
    headers = {
        DELIVERY_HEADER: batch.delivery,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, body),
    }
    await _post(session, url, body, headers, _timeout(channel), expect_ok=False)


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], timeout: float, *, expect_ok: bool
) -> None:
    try:
        async with session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            text = await resp.text()
            if expect_ok and (resp.status != 200 or text.strip() != "ok"):
                raise DeliveryError(f"HTTP {resp.status}: {text.strip()[:200]}")
            if not 200 <= resp.status < 300:
                raise DeliveryError(f"HTTP {resp.status}: {text.strip()[:200]}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc


async def send_email(name: str, channel: Channel, batch: Batch) -> None:
    """Send a plain-text e-mail through the channel's SMTP server."""
    to = [expand(t, name, "to") for t in channel.to]
    port_text = expand(str(channel.smtp_port), name, "smtp_port")
    if not port_text.isdigit():
        raise DeliveryError(f"channel '{name}': smtp_port '{port_text}' is not a port number")
    user = expand(channel.smtp_user, name, "smtp_user") or None
    password = expand(channel.smtp_password, name, "smtp_password") or None
    try:
        await aiosmtplib.send(
            email_message(batch, channel.sender, to),
            hostname=expand(channel.smtp_host, name, "smtp_host"),
            port=int(port_text),
            username=user,
            password=password,
            start_tls=channel.starttls,
            timeout=_timeout(channel),
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
