"""A local inbox: a fake Slack incoming webhook and an SMTP sink on 127.0.0.1, keeping what arrives.

For the demo and for trying notification routes without a Slack workspace or a mail server. Both
speak the real protocols on loopback: the webhook takes Slack's JSON (a non-empty `text`, at most 50
blocks, each with a `type`) and answers 200 `ok` as Slack does; the SMTP sink takes EHLO/HELO, MAIL,
RCPT, DATA, RSET, NOOP and QUIT (plain text, no STARTTLS or AUTH). It needs only aiohttp and the
standard library, so it works from the runtime install (aiosmtpd is a test dependency).

The servers run on their own event loop in a daemon thread, so synchronous code (the engine's
`deliver_outbox`) can send to them from the calling thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

HOST = "127.0.0.1"
SLACK_PATH = "/services/local/inbox"
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
"""Largest e-mail the SMTP sink accepts (552 beyond)."""
IDLE_SECONDS = 30.0
"""An SMTP client silent this long is disconnected."""
_DELIVERY_RE = re.compile(r"delivery (d-[0-9a-f]+)")


@dataclass(frozen=True)
class SlackMessage:
    """One incoming-webhook call: the JSON body Slack would have posted to the channel."""

    payload: dict[str, Any]

    @property
    def text(self) -> str:
        """The message's `text` (the headline, then one line per notification when grouped)."""
        return str(self.payload.get("text", ""))

    @property
    def title(self) -> str:
        """The first line of the text."""
        return self.text.split("\n", 1)[0]

    @property
    def delivery(self) -> str | None:
        """The venturegate delivery id in the message's footer, if any."""
        found = _DELIVERY_RE.search(json.dumps(self.payload.get("blocks", [])))
        return found.group(1) if found else None


@dataclass(frozen=True)
class Mail:
    """One e-mail the SMTP sink accepted."""

    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        """The Subject header."""
        return str(self.message.get("Subject", ""))

    @property
    def delivery(self) -> str | None:
        """The `X-Venturegate-Delivery` header, if any."""
        found = self.message.get("X-Venturegate-Delivery")
        return None if found is None else str(found)


@dataclass
class _Envelope:
    sender: str | None = None
    recipients: list[str] = field(default_factory=list)


class LocalInbox:
    """A fake Slack webhook and an SMTP sink on random loopback ports; use it as a context manager."""

    def __init__(self) -> None:
        self.slack: list[SlackMessage] = []
        """Accepted webhook calls, in arrival order."""
        self.mail: list[Mail] = []
        """Accepted e-mails, in arrival order."""
        self.rejected = 0
        """Webhook calls refused as Slack would refuse them (400)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._smtp: asyncio.Server | None = None
        self._http_port = 0
        self._smtp_port = 0

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> LocalInbox:
        """Start both servers; returns self."""
        if self._loop is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="venturegate-inbox", daemon=True)
        self._thread.start()
        try:
            self._run(self._start())
        except BaseException:
            self.close()
            raise
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_post(SLACK_PATH, self._slack_hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self._http_port = int(self._runner.addresses[0][1])
        self._smtp = await asyncio.start_server(self._smtp_session, HOST, 0)
        self._smtp_port = int(self._smtp.sockets[0].getsockname()[1])

    def close(self) -> None:
        """Stop both servers and the loop (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        try:
            if loop.is_running():
                self._run(self._stop())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(5)
            loop.close()
            self._loop = self._thread = None

    async def _stop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            await self._smtp.wait_closed()
            self._smtp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> LocalInbox:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- addresses -----------------------------------------------------------------------------
    @property
    def slack_url(self) -> str:
        """The incoming-webhook URL to post to."""
        return f"http://{HOST}:{self._http_port}{SLACK_PATH}"

    @property
    def smtp_port(self) -> int:
        """The SMTP sink's port on 127.0.0.1."""
        return self._smtp_port

    def environment(self, chairman: str = "chairman@studio.test") -> dict[str, str]:
        """The variables that point the bundled workflow's `slack` and `chairman-email` channels here."""
        return {
            "VENTUREGATE_SLACK_WEBHOOK": self.slack_url,
            "VENTUREGATE_CHAIRMAN_EMAIL": chairman,
            "VENTUREGATE_SMTP_HOST": HOST,
            "VENTUREGATE_SMTP_PORT": str(self.smtp_port),
        }

    # -- the Slack webhook ---------------------------------------------------------------------
    async def _slack_hook(self, request: web.Request) -> web.Response:
        """Validate as Slack does (`invalid_payload`, `no_text`, `invalid_blocks`) and keep the payload."""
        if request.content_type != "application/json":
            return self._refuse("invalid_payload")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._refuse("invalid_payload")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            return self._refuse("no_text")
        blocks = body.get("blocks", [])
        if (
            not isinstance(blocks, list)
            or len(blocks) > 50
            or any(not isinstance(b, dict) or "type" not in b for b in blocks)
        ):
            return self._refuse("invalid_blocks")
        self.slack.append(SlackMessage(body))
        return web.Response(text="ok")

    def _refuse(self, why: str) -> web.Response:
        self.rejected += 1
        return web.Response(status=400, text=why)

    # -- the SMTP sink -------------------------------------------------------------------------
    async def _smtp_session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One SMTP conversation (RFC 5321's minimum), bounded by an idle timeout and a size limit."""

        async def reply(line: str) -> None:
            writer.write(line.encode("ascii") + b"\r\n")
            await writer.drain()

        env = _Envelope()
        try:
            await reply(f"220 {HOST} venturegate local inbox ESMTP")
            while True:
                raw = await asyncio.wait_for(reader.readline(), IDLE_SECONDS)
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    await reply(f"250-{HOST}")
                    await reply("250-8BITMIME")
                    await reply(f"250 SIZE {MAX_MESSAGE_BYTES}")
                elif verb == "HELO":
                    await reply(f"250 {HOST}")
                elif verb == "MAIL" and arg.upper().startswith("FROM:"):
                    env = _Envelope(sender=_address(arg[5:]))
                    await reply("250 OK")
                elif verb == "RCPT" and arg.upper().startswith("TO:"):
                    if env.sender is None:
                        await reply("503 MAIL first")
                    else:
                        env.recipients.append(_address(arg[3:]))
                        await reply("250 OK")
                elif verb == "DATA":
                    if env.sender is None or not env.recipients:
                        await reply("503 RCPT first")
                        continue
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    content = await _read_data(reader)
                    if content is None:
                        await reply("552 message too large")
                    else:
                        self._keep(env, content)
                        await reply("250 OK: queued")
                    env = _Envelope()
                elif verb == "RSET":
                    env = _Envelope()
                    await reply("250 OK")
                elif verb == "NOOP":
                    await reply("250 OK")
                elif verb == "QUIT":
                    await reply("221 Bye")
                    break
                else:
                    await reply("502 command not implemented")
        except (TimeoutError, ConnectionError, ValueError):
            pass  # an idle, vanished or misbehaving client: drop the connection
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _keep(self, env: _Envelope, content: bytes) -> None:
        parsed = message_from_bytes(content.replace(b"\r\n", b"\n"), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mail.append(Mail(env.sender or "", tuple(env.recipients), parsed))


def _address(text: str) -> str:
    """`<a@b> SIZE=10` → `a@b`."""
    head = text.strip().split(" ", 1)[0]
    return head.strip("<>")


async def _read_data(reader: asyncio.StreamReader) -> bytes | None:
    """The message after DATA up to the lone `.`, dot-unstuffed; None when it is too large (read to the end)."""
    lines: list[bytes] = []
    size = 0
    while True:
        raw = await asyncio.wait_for(reader.readline(), IDLE_SECONDS)
        if not raw:
            raise ConnectionError("connection closed during DATA")
        if raw in (b".\r\n", b".\n"):
            break
        if raw.startswith(b".."):
            raw = raw[1:]
        size += len(raw)
        if size <= MAX_MESSAGE_BYTES:
            lines.append(raw)
    return b"".join(lines) if size <= MAX_MESSAGE_BYTES else None
