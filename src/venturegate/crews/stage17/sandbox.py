"""The workflow test's sandbox on loopback: an SMTP sink (aiosmtpd), and fakes speaking a CRM's REST shape
(HubSpot-style contacts) and an ad platform's (customer-match audiences of hashed emails), with injectable faults.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Faults:
    """Failures the fakes inject: the first N CRM calls answer 503; listed emails always fail."""

    crm_fail_first: int = 0
    crm_fail_emails: set[str] = field(default_factory=set)
    ads_fail_first: int = 0


@dataclass
class Inbox:
    """What the SMTP sink received."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if str(m["To"]) == address]


@dataclass
class Sandbox:
    """Running fakes and what they saw."""

    faults: Faults = field(default_factory=Faults)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    inbox: Inbox = field(default_factory=Inbox)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    audiences: dict[str, set[str]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=lambda: {"crm": 0, "ads": 0})
    failures_served: dict[str, int] = field(default_factory=lambda: {"crm": 0, "ads": 0})
    smtp_port: int = 0
    http_port: int = 0
    _smtp: Controller | None = None
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def start(self) -> None:
        self.smtp_port = free_port()
        self._smtp = Controller(self.inbox, hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()
        app = web.Application()
        app.router.add_post("/crm/v3/objects/contacts", self._crm_create)
        app.router.add_get("/crm/v3/objects/contacts/{email}", self._crm_get)
        app.router.add_post("/v1/audiences/{audience}/members", self._ads_add)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.http_port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.http_port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._smtp is not None:
            self._smtp.stop()

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _crm_create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"status": "error", "category": "INVALID_AUTHENTICATION"}, status=401)
        self.calls["crm"] += 1
        body = await request.json()
        props = body.get("properties") or {}
        email = str(props.get("email", ""))
        if not email:
            return web.json_response({"status": "error", "category": "VALIDATION_ERROR"}, status=400)
        if self.calls["crm"] <= self.faults.crm_fail_first or email in self.faults.crm_fail_emails:
            self.failures_served["crm"] += 1
            return web.json_response({"status": "error", "message": "service unavailable"}, status=503)
        if email in self.contacts:
            return web.json_response({"status": "error", "category": "CONFLICT", "message": "exists"}, status=409)
        contact = {"id": str(len(self.contacts) + 1), "properties": props}
        self.contacts[email] = contact
        return web.json_response(contact, status=201)

    async def _crm_get(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"status": "error"}, status=401)
        found = self.contacts.get(request.match_info["email"])
        return web.json_response(found or {"status": "error"}, status=200 if found else 404)

    async def _ads_add(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": 401}}, status=401)
        self.calls["ads"] += 1
        if self.calls["ads"] <= self.faults.ads_fail_first:
            self.failures_served["ads"] += 1
            return web.json_response({"error": {"code": 503, "message": "backend error"}}, status=503)
        body = await request.json()
        members = body.get("members") or []
        hashes = [str(m.get("hashed_email", "")) for m in members]
        if not hashes or any(len(h) != 64 for h in hashes):
            return web.json_response({"error": {"code": 400, "message": "emails must be SHA-256 hashed"}}, status=400)
        self.audiences.setdefault(request.match_info["audience"], set()).update(hashes)
        return web.json_response({"received": len(hashes)})


def hashed(email: str) -> str:
    """How ad platforms take an email for customer match: trimmed, lower-cased, SHA-256."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()
