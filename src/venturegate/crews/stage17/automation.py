"""17.3 Automation setup: synthetic leads (Faker, seeded per segment) run through the workflows end to end, with
delays compressed, actions hitting the sandbox's SMTP sink, CRM and ad platform, failed calls retried with
stamina's backoff and, past the retries, parked in a dead-letter list; then a rollback rehearsal.

Every claim is checked against what the sandbox received, not against what the runner believes it did.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import aiohttp
import aiosmtplib
import stamina

from venturegate.crews.stage17.sandbox import Faults, Sandbox, hashed
from venturegate.crews.stage17.workflows import entry_of, next_of, steps_of


class CallFailed(Exception):
    """An adapter call failed in a way a retry may fix (a 5xx, a 429, a connection error)."""


def synthetic_leads(segment: str, n: int, seed: int = 17) -> list[dict[str, Any]]:
    """`n` fake leads for a segment, the same for the same seed (emails on reserved example domains)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed + int(hashlib.sha256(segment.encode()).hexdigest()[:8], 16))
    leads = []
    for k in range(n):
        first, last = fake.first_name(), fake.last_name()
        leads.append(
            {
                "id": f"{segment}-{k + 1}",
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}.{k + 1}@{fake.safe_domain_name()}".lower(),
                "company": fake.company(),
                "segment": segment,
                "score": fake.random_int(40, 100),
            }
        )
    return leads


@dataclass
class Timing:
    """Compression of workflow time: one workflow hour takes `hour_s` real seconds."""

    hour_s: float = 0.002
    retry_delays_s: tuple[float, ...] = (30.0, 120.0, 600.0)

    def real(self, workflow_seconds: float) -> float:
        return workflow_seconds / 3600 * self.hour_s


@dataclass
class LeadRun:
    """How one lead went through a workflow."""

    lead: str
    workflow: str
    version: int
    path: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    dead_letter: str | None = None
    trigger_latency_s: float = 0.0
    processing_s: float = 0.0
    verified: bool = False
    detail: str = ""


@dataclass
class Report:
    """The workflow test's figures."""

    runs: list[LeadRun]
    dead_letters: list[dict[str, Any]]
    retries: int
    rollback: dict[str, Any]
    expected_dead: set[str]

    @property
    def passed(self) -> int:
        return sum(1 for r in self.runs if r.verified)

    @property
    def pass_rate(self) -> float:
        return round(100.0 * self.passed / len(self.runs), 2) if self.runs else 0.0

    @property
    def max_latency_s(self) -> float:
        return round(max((r.processing_s for r in self.runs), default=0.0), 4)

    @property
    def max_trigger_latency_s(self) -> float:
        return round(max((r.trigger_latency_s for r in self.runs), default=0.0), 4)


class Adapters:
    """The channel adapters: SMTP for email, REST for the CRM and the ad platform."""

    def __init__(self, box: Sandbox, http: aiohttp.ClientSession, sender: str, templates: Mapping[str, str]) -> None:
        self.box, self.http, self.sender, self.templates = box, http, sender, templates

    async def call(self, step: Mapping[str, Any], lead: Mapping[str, Any]) -> None:
        channel = step["channel"]
        if channel == "email":
            await self._email(step, lead)
        elif channel == "crm":
            await self._post(
                "/crm/v3/objects/contacts",
                {
                    "properties": {
                        "email": lead["email"],
                        "firstname": lead["first_name"],
                        "lastname": lead["last_name"],
                        "company": lead["company"],
                        "lifecyclestage": "lead",
                    }
                },
                ok_conflict=True,
            )
        else:
            body = {"members": [{"hashed_email": hashed(str(lead["email"]))}]}
            await self._post("/v1/audiences/retarget/members", body)

    async def _post(self, path: str, body: dict[str, Any], ok_conflict: bool = False) -> None:
        headers = {"Authorization": f"Bearer {self.box.token}"}
        try:
            async with self.http.post(self.box.base_url + path, json=body, headers=headers) as resp:
                if resp.status in (429,) or resp.status >= 500:
                    raise CallFailed(f"{path} answered {resp.status}")
                if resp.status == 409 and ok_conflict:
                    return
                if resp.status >= 400:
                    raise ValueError(f"{path} refused the call: {resp.status} {await resp.text()}")
        except aiohttp.ClientConnectionError as exc:
            raise CallFailed(f"{path}: {exc}") from exc

    async def _email(self, step: Mapping[str, Any], lead: Mapping[str, Any]) -> None:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = str(lead["email"])
        body = self.templates.get(str(step.get("template", "")), "")
        subject, _, text = body.partition("\n\n") if body.startswith("Subject: ") else ("", "", body)
        msg["Subject"] = subject.removeprefix("Subject: ") or "Hello"
        msg.set_content(text.replace("{{first_name}}", str(lead["first_name"])) or "Hello")
        try:
            await aiosmtplib.send(msg, hostname="127.0.0.1", port=self.box.smtp_port, timeout=10)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise CallFailed(f"smtp: {exc}") from exc


async def _run_lead(
    wf: Mapping[str, Any], lead: Mapping[str, Any], adapters: Adapters, timing: Timing, inserted: float
) -> LeadRun:
    run = LeadRun(str(lead["id"]), str(wf["id"]), int(wf.get("version", 1)))
    steps = steps_of(wf)
    retries = int(wf.get("retry", {}).get("attempts", 3))
    node: str | None = entry_of(wf)
    started = time.perf_counter()
    run.trigger_latency_s = started - inserted
    delayed = 0.0
    while node is not None:
        step = steps[node]
        run.path.append(node)
        if step["kind"] == "delay":
            wait = timing.real(float(step["hours"]) * 3600)
            delayed += wait
            await asyncio.sleep(wait)
        elif step["kind"] == "action":
            waits = timing.retry_delays_s[: max(1, retries)]
            tries = 0
            try:
                async for attempt in stamina.retry_context(
                    on=CallFailed,
                    attempts=retries + 1,
                    wait_initial=timing.real(waits[0]),
                    wait_max=timing.real(waits[-1]),
                    wait_exp_base=2,
                    wait_jitter=0.0,
                ):
                    with attempt:
                        tries += 1
                        await adapters.call(step, lead)
            except CallFailed as exc:
                run.attempts[node] = tries
                run.dead_letter = f"{node}: {exc} after {tries} attempts"
                break
            run.attempts[node] = tries
        node = next_of(step, lead)
    run.processing_s = time.perf_counter() - started - delayed
    return run


def _verify(run: LeadRun, wf: Mapping[str, Any], lead: Mapping[str, Any], box: Sandbox, dead: bool) -> None:
    """Judge a lead's run from what the sandbox received."""
    if dead:
        run.verified = run.dead_letter is not None and str(lead["email"]) not in box.contacts
        run.detail = "dead-lettered as injected" if run.verified else "an injected permanent failure was not parked"
        return
    if run.dead_letter is not None:
        run.detail = f"unexpected dead letter: {run.dead_letter}"
        return
    steps = steps_of(wf)
    missing = []
    for sid in run.path:
        step = steps[sid]
        if step["kind"] != "action":
            continue
        ch = step["channel"]
        if ch == "crm" and str(lead["email"]) not in box.contacts:
            missing.append("CRM contact")
        elif ch == "email" and not box.inbox.to(str(lead["email"])):
            missing.append("email")
        elif ch == "ads" and hashed(str(lead["email"])) not in box.audiences.get("retarget", set()):
            missing.append("audience member")
    run.verified = not missing
    run.detail = "all actions delivered" if not missing else "not delivered: " + ", ".join(missing)


async def _dispatch(
    wf: Mapping[str, Any], leads: Sequence[Mapping[str, Any]], adapters: Adapters, timing: Timing
) -> list[LeadRun]:
    """Insert leads, fire the trigger for each within the rate limit (in workflow time), run them concurrently."""
    rate = min(int(t["rate_limit_per_minute"]) for t in wf["triggers"])
    gap = timing.real(60.0 / rate)
    tasks = []
    inserted = time.perf_counter()
    for k, lead in enumerate(leads):
        if k:
            await asyncio.sleep(gap)
        tasks.append(asyncio.create_task(_run_lead(wf, lead, adapters, timing, inserted)))
    runs = list(await asyncio.gather(*tasks))
    for k, r in enumerate(runs):  # the rate-limit wait is workflow time: report it uncompressed, the rest as measured
        r.trigger_latency_s = k * 60.0 / rate + max(0.0, r.trigger_latency_s - k * gap)
    return runs


async def run_workflow_tests(
    workflows: Sequence[dict[str, Any]],
    leads: Sequence[Mapping[str, Any]],
    templates: Mapping[str, str],
    *,
    faults: Faults,
    timing: Timing,
    sender: str,
    previous: dict[str, Any] | None = None,
) -> Report:
    """Run every lead through every workflow in the sandbox, verify deliveries, then rehearse a rollback."""
    box = Sandbox(faults=faults)
    await box.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            adapters = Adapters(box, http, sender, templates)
            runs: list[LeadRun] = []
            for wf in workflows:
                got = await _dispatch(wf, leads, adapters, timing)
                for run, lead in zip(got, leads, strict=True):
                    _verify(run, wf, lead, box, str(lead["email"]) in faults.crm_fail_emails)
                runs += got
                wf["test_execution_count"] = int(wf.get("test_execution_count", 0)) + len(got)
            rollback = await _rehearse_rollback(workflows[0], previous, leads, adapters, box, timing)
    finally:
        await box.stop()
    dead = [{"lead": r.lead, "workflow": r.workflow, "error": r.dead_letter} for r in runs if r.dead_letter]
    retries = sum(max(0, n - 1) for r in runs for n in r.attempts.values())
    return Report(runs, dead, retries, rollback, set(faults.crm_fail_emails))


async def _rehearse_rollback(
    current: dict[str, Any],
    previous: dict[str, Any] | None,
    leads: Sequence[Mapping[str, Any]],
    adapters: Adapters,
    box: Sandbox,
    timing: Timing,
) -> dict[str, Any]:
    """Deploy a new version, deactivate it (a paused workflow must not act), restore the previous one and prove
    that a new lead runs through the restored version."""
    history: list[dict[str, Any]] = [dict(previous or current)]
    candidate = {**current, "version": int(current.get("version", 1)) + 1, "status": "active"}
    active: dict[str, Any] = candidate
    checks: dict[str, bool] = {}
    # deactivate: the paused candidate takes no new lead
    active = {**candidate, "status": "paused"}
    probe = {**leads[0], "id": "rollback-probe", "email": "rollback.probe@example.com", "score": 90}
    before = box.calls["crm"]
    if active["status"] == "active":
        await _run_lead(active, probe, adapters, timing, time.perf_counter())
    sent_to = {str(m["To"]) for m in box.inbox.messages}
    checks["paused workflow took no lead"] = box.calls["crm"] == before and probe["email"] not in sent_to
    # restore the previous version and run a new lead through it
    active = {**history.pop(), "status": "active"}
    run = await _run_lead(active, probe, adapters, timing, time.perf_counter())
    checks["restored version is the previous one"] = (
        run.version == int(active.get("version", 1)) < int(candidate["version"])
    )
    checks["restored workflow delivered"] = run.dead_letter is None and "rollback.probe@example.com" in box.contacts
    return {"passed": all(checks.values()), "checks": checks, "restored_version": run.version}
