"""Real protocol endpoints on loopback: a fake Slack incoming webhook, a signed-webhook receiver, an SMTP server.

The HTTP servers run on their own event loop in a background thread, so that the engine's
`asyncio.run` delivery in the test thread talks to them over real sockets.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal, TypeVar

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

T = TypeVar("T")
Mode = Literal["up", "error", "down"]


class LoopThread:
    """An asyncio loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and join its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class HttpEndpoint:
    """One aiohttp server on 127.0.0.1 (random port) that can be switched to answer 500 or to refuse connections."""

    def __init__(self, loops: LoopThread) -> None:
        self.loops = loops
        self.mode: Mode = "up"
        self.requests = 0
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        self.loops.run(self.runner.setup())
        self.site: web.TCPSite | None = None
        self.port = 0
        self._listen()

    @property
    def url(self) -> str:
        """The endpoint's URL."""
        return f"http://127.0.0.1:{self.port}/hook"

    def _listen(self) -> None:
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        self.loops.run(self.site.start())
        if not self.port:
            self.port = int(self.runner.addresses[0][1])

    def set_mode(self, mode: Mode) -> None:
        """up: answer normally; error: answer 500; down: stop listening (connection refused)."""
        if mode == "down" and self.site is not None:
            self.loops.run(self.site.stop())
            self.site = None
        elif mode != "down" and self.site is None:
            self._listen()
        self.mode = mode

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.mode == "error":
            return web.Response(status=500, text="internal_error")
        return await self.accept(request)

    async def accept(self, request: web.Request) -> web.Response:
        """Answer a request while up."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the server."""
        self.loops.run(self.runner.cleanup())


class FakeSlack(HttpEndpoint):
    """Slack's incoming-webhook protocol: a JSON body with a non-empty `text`, at most 50 blocks; 200 `ok`."""

    def __init__(self, loops: LoopThread) -> None:
        self.received: list[dict[str, Any]] = []
        super().__init__(loops)

    async def accept(self, request: web.Request) -> web.Response:
        """Validate as Slack does and keep the payload."""
        if request.content_type != "application/json":
            return web.Response(status=400, text="invalid_payload")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            return web.Response(status=400, text="no_text")
        blocks = body.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > 50 or any("type" not in b for b in blocks):
            return web.Response(status=400, text="invalid_blocks")
        self.received.append(body)
        return web.Response(text="ok")


@dataclass
class Signed:
    """A request the webhook receiver accepted."""

    delivery: str
    timestamp: str
    body: dict[str, Any]


class SignedReceiver(HttpEndpoint):
    """A receiver that verifies `X-Venturegate-Signature` as the README documents it, independently of our code."""

    def __init__(self, loops: LoopThread, secret: bytes) -> None:
        self.secret = secret
        self.received: list[Signed] = []
        self.rejected = 0
        super().__init__(loops)

    async def accept(self, request: web.Request) -> web.Response:
        """Check the timestamp and the HMAC over `timestamp.body`; 401 when either is wrong."""
        raw = await request.read()
        stamp = request.headers.get("X-Venturegate-Timestamp", "")
        given = request.headers.get("X-Venturegate-Signature", "")
        expected = "sha256=" + hmac.new(self.secret, stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= 300
        if not fresh or not hmac.compare_digest(expected, given):
            self.rejected += 1
            return web.Response(status=401, text="bad signature")
        self.received.append(Signed(request.headers.get("X-Venturegate-Delivery", ""), stamp, json.loads(raw)))
        return web.Response(status=204)


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd's hook: keep the message."""
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """aiosmtpd on 127.0.0.1 collecting messages into `inbox`."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        """Stop the server."""
        self.controller.stop()
