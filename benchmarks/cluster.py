"""A multi-process venturegate deployment on one machine, driven under faults and checked for exactly-once effects.

The cluster: a fresh database on the machine's PostgreSQL, its own Redis (the job queue, on a free loopback
port), two `venturegate serve --no-worker` API processes behind an HAProxy, two `venturegate worker`s, and a
local inbox (a Slack incoming webhook on loopback) that receives the notifications. The workflow is
`benchmarks/cluster.yaml`; stage 1's crew is a plugin installed through the `venturegate.crews` entry point
from a folder on `PYTHONPATH`, as a third party would ship it.

The drive sends, through HAProxy, metric batches and single samples (idempotency keys; a failed request is
retried with the same keys), approval requests and decisions, and crew jobs, while it
- SIGKILLs the worker that is running a crew job, and starts it again,
- SIGKILLs an API process (HAProxy routes around it; it is started again at the end),
- terminates every PostgreSQL backend of the cluster's database once (`pg_terminate_backend`).

Then it waits until the system is idle (no timer due, no notification pending, no job queued or running) and
checks, from the database and the inbox: every acknowledged sample is stored once and nothing else is; each
trigger firing, recursion, escalation and timer happened exactly once; every notification reached the inbox
in exactly one delivery; no job is left queued or running.

    .venv/bin/python benchmarks/cluster.py --ventures 40 --seconds 60     # the full run (make cluster)
    .venv/bin/python benchmarks/cluster.py --up                           # start it and wait for Ctrl-C

Prints the report as JSON; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import create_engine, text

from venturegate.engine import Actor, Engine
from venturegate.notify.inbox import LocalInbox

HERE = Path(__file__).resolve().parent
WORKFLOW = HERE / "cluster.yaml"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CHAIR = Actor("cluster-admin", "chairman")
PENDING_FIRST = ("QUAL-1",)
"""Triggers of cluster.yaml with a `for:` duration: each firing follows its own `trigger.pending`."""
CREW_SOURCE = textwrap.dedent(
    '''
    """A stage-1 crew for the cluster run: `steps` steps of `pause` seconds, a progress report and a sample each."""

    import time

    from venturegate.crews import AgentSpec, Crew, CrewContext, CrewResult


    class ClusterCrew(Crew):
        name = "Cluster"
        stage = 1
        agents = (AgentSpec("Stepper", "steps and measures", ()),)

        def run(self, ctx: CrewContext) -> CrewResult:
            steps = int(ctx.option("steps", 5))
            pause = float(ctx.option("pause", 0.2))
            for step in range(1, steps + 1):
                ctx.checkpoint()
                time.sleep(pause)
                ctx.progress("step", step, steps, f"step {step}")
            return CrewResult("completed", {"steps": steps})


    crew = ClusterCrew()
    '''
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {seconds:.0f}s")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Proc:
    """One process of the cluster, its command and its log file."""

    name: str
    cmd: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str], cwd: Path) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL (no cleanup: as a crash or the OOM killer)."""
        if self.alive():
            assert self.popen is not None
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if not self.alive():
            return
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Cluster:
    """PostgreSQL database, Redis, two API processes behind HAProxy, two workers and a local inbox."""

    root: Path
    ventures: int = 8
    admin_url: str = ADMIN_URL
    database: str = field(default_factory=lambda: f"venturegate_cluster_{os.getpid()}")
    procs: dict[str, Proc] = field(default_factory=dict)
    inbox: LocalInbox = field(default_factory=LocalInbox)
    token: str = ""
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.redis_port = free_port()
        self.api_ports = [free_port(), free_port()]
        self.proxy_port = free_port()
        self.db_url = self.admin_url.rsplit("/", 1)[0] + "/" + self.database

    @property
    def url(self) -> str:
        """The API's address through HAProxy."""
        return f"http://127.0.0.1:{self.proxy_port}"

    # -- start and stop ------------------------------------------------------------------------
    def start(self) -> None:
        """Create the database and start every process; ventures and a lead token are created first."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._create_database()
        self.inbox.start()
        plugins = self.root / "plugins"
        _install_crew(plugins)
        self.env = {
            **os.environ,
            **self.inbox.environment(),
            "VENTUREGATE_DATABASE_URL": self.db_url,
            "VENTUREGATE_QUEUE_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH", "")])),
        }
        engine = Engine.open(self.db_url, str(WORKFLOW))  # migrates the new database once, before the processes
        try:
            self.token = engine.create_token("cluster-lead", "lead", actor=CHAIR)[1]
            self.names = [f"v{i:03d}" for i in range(self.ventures)]
            for name in self.names:
                engine.create_venture(name, "b2b_smb", actor=CHAIR)
        finally:
            engine.db.dispose()
        vg = [sys.executable, "-m", "venturegate.cli.app", "--workflow", str(WORKFLOW)]
        self._add("redis", [shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port),
                            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])  # fmt: skip
        for i, port in enumerate(self.api_ports, 1):
            self._add(f"api{i}", [*vg, "serve", "--no-worker", "--port", str(port)])
        for i in (1, 2):
            self._add(f"worker{i}", [*vg, "worker", "--workers", "2"])
        self._add("haproxy", [shutil.which("haproxy") or "haproxy", "-db", "-f", str(self._haproxy_config())])
        self.start_proc("redis")
        _wait("redis", lambda: _port_open(self.redis_port), 15)
        for name in ("api1", "api2", "worker1", "worker2"):
            self.start_proc(name)
        for port in self.api_ports:
            _wait(f"API on {port}", lambda p=port: _port_open(p), 60)
        self.start_proc("haproxy")
        _wait("haproxy", lambda: _port_open(self.proxy_port), 15)

    def _add(self, name: str, cmd: list[str]) -> None:
        self.procs[name] = Proc(name, cmd, self.root / f"{name}.log")

    def start_proc(self, name: str) -> None:
        """Start (or start again) one process."""
        self.procs[name].start(self.env, self.root)

    def stop(self, *, drop: bool = True) -> None:
        """Stop every process, the inbox, and drop the database (unless `drop` is false)."""
        for name in ("haproxy", "api1", "api2", "worker1", "worker2", "redis"):
            if name in self.procs:
                self.procs[name].stop()
        self.inbox.close()
        if drop:
            admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            admin.dispose()

    def _create_database(self) -> None:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        admin.dispose()

    def _haproxy_config(self) -> Path:
        servers = "\n".join(f"    server api{i} 127.0.0.1:{port} check" for i, port in enumerate(self.api_ports, 1))
        path = self.root / "haproxy.cfg"
        path.write_text(
            textwrap.dedent(
                f"""\
                global
                    maxconn 2048
                defaults
                    mode http
                    timeout connect 2s
                    timeout client 60s
                    timeout server 60s
                    retries 3
                    option redispatch
                    # Only a request that never reached a server is sent again: a POST is not replayed.
                    retry-on conn-failure
                frontend api
                    bind 127.0.0.1:{self.proxy_port}
                    default_backend apis
                backend apis
                    balance roundrobin
                    option httpchk GET /api/health
                    http-check expect status 200
                    default-server inter 500ms fall 2 rise 2
                """
            )
            + servers
            + "\n"
        )
        return path

    # -- faults ----------------------------------------------------------------------------------
    def kill_busy_worker(self) -> str:
        """SIGKILL the worker running a crew job (else worker1); returns its name."""
        pids = {p.pid: name for name, p in self.procs.items() if name.startswith("worker") and p.alive()}
        victim = "worker1"
        with self.sql() as conn:
            for (worker,) in conn.execute(text("select worker from jobs where status = 'running'")):
                pid = str(worker).rsplit(":", 1)[-1]
                if pid.isdigit() and int(pid) in pids:
                    victim = pids[int(pid)]
                    break
        self.procs[victim].kill()
        return victim

    def terminate_backends(self) -> int:
        """Cut every PostgreSQL connection to the cluster's database; returns how many were cut."""
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            cut = conn.execute(
                text(
                    "select count(*) filter (where pg_terminate_backend(pid)) from pg_stat_activity "
                    "where datname = :db and pid <> pg_backend_pid()"
                ),
                {"db": self.database},
            ).scalar_one()
        admin.dispose()
        return int(cut)

    @contextlib.contextmanager
    def sql(self) -> Iterator[Any]:
        """A connection to the cluster's database (for the checks)."""
        eng = create_engine(self.db_url)
        try:
            with eng.connect() as conn:
                yield conn
        finally:
            eng.dispose()


def _install_crew(folder: Path) -> None:
    """The stage-1 crew as an installed distribution: a module and its `venturegate.crews` entry point."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vg_cluster_crew.py").write_text(CREW_SOURCE)
    info = folder / "vg_cluster_crew-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vg-cluster-crew\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[venturegate.crews]\ncluster = vg_cluster_crew:crew\n")


# -- the drive ---------------------------------------------------------------------------------------
@dataclass
class Tally:
    """What the drive sent and what the cluster acknowledged."""

    attempted: set[tuple[str, str]] = field(default_factory=set)
    """(venture, key) of every sample sent at least once."""
    acked: set[tuple[str, str]] = field(default_factory=set)
    """(venture, key) of every sample in a request answered 200."""
    requests: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    """Definite answers by request kind and status."""
    approvals_requested: int = 0
    approvals_decided: int = 0
    jobs_started: list[int] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


class Driver:
    """Sends the load through HAProxy; each request is retried (same body, same keys) until it is answered."""

    def __init__(self, cluster: Cluster, seconds: float, batch: int, seed: int = 21) -> None:
        self.c = cluster
        self.seconds = seconds
        self.batch = batch
        self.tally = Tally()
        self.rng = random.Random(seed)
        self.started = 0.0
        self.stop_at = 0.0

    async def post(self, session: aiohttp.ClientSession, path: str, body: Any, what: str) -> tuple[int, Any]:
        """POST until a definite answer (2xx or 4xx); 5xx and connection errors are retried after a pause.

        A 409 on samples ("changed while this request ran; retry it") is retried too: the keys make it safe.
        """
        for attempt in range(200):
            self.tally.requests[what] += 1
            t0 = time.perf_counter()
            try:
                async with session.post(self.c.url + path, json=body) as got:
                    payload = await got.json(content_type=None)
                    retry = got.status == 409 and path == "/api/metrics"
                    if got.status < 500 and not retry:
                        self.tally.latencies.append(time.perf_counter() - t0)
                        self.tally.answers[f"{what}: {got.status}"] += 1
                        return got.status, payload
                    self.tally.failures[f"{what}: HTTP {got.status}"] += 1
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
                self.tally.failures[f"{what}: {type(exc).__name__}"] += 1
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
        raise RuntimeError(f"{what}: no answer after 200 attempts")

    def _quality(self, name: str, now: float) -> float:
        """Good, with a two-second dip every four seconds (phase-shifted per venture)."""
        phase = (now - self.started + int(name[1:]) % 4) % 4
        return 60.0 if phase < 2 else 95.0

    async def ingest(self, session: aiohttp.ClientSession, worker: int) -> None:
        n = 0
        while time.monotonic() < self.stop_at:
            n += 1
            now = time.monotonic()
            samples = []
            for i in range(self.batch):
                name = self.c.names[(i + worker) % len(self.c.names)]
                key = f"b{worker}-{n}-{i}"
                metric = "quality" if i < len(self.c.names) else "load"
                value = self._quality(name, now) if metric == "quality" else self.rng.uniform(10, 92)
                samples.append({"venture": name, "metric": metric, "value": value, "key": key})
                self.tally.attempted.add((name, key))
            status, _ = await self.post(session, "/api/metrics", {"samples": samples}, "batch")
            if status == 200:
                self.tally.acked.update((str(s["venture"]), str(s["key"])) for s in samples)

    async def singles(self, session: aiohttp.ClientSession) -> None:
        n = 0
        while time.monotonic() < self.stop_at:
            n += 1
            name = self.c.names[n % len(self.c.names)]
            key = f"s-{n}"
            body = {"venture": name, "metric": "quality", "value": self._quality(name, time.monotonic()), "key": key}
            self.tally.attempted.add((name, key))
            status, _ = await self.post(session, "/api/metrics", body, "single")
            if status == 200:
                self.tally.acked.add((name, key))
            await asyncio.sleep(0.02)

    async def approvals(self, session: aiohttp.ClientSession) -> None:
        n = 0
        while time.monotonic() < self.stop_at:
            n += 1
            name = self.c.names[n % len(self.c.names)]
            role = "plan" if n % 2 else "lead"  # plan approvals are left to expire (a timer); lead ones are decided
            status, got = await self.post(
                session, f"/api/ventures/{name}/approvals", {"role": role, "reason": f"cluster {n}"}, "approval"
            )
            if status == 201:
                self.tally.approvals_requested += 1
                if role == "lead":
                    verdict = "approve" if n % 4 == 0 else "reject"
                    status, _ = await self.post(session, f"/api/approvals/{got['id']}/{verdict}", {}, "decision")
                    self.tally.approvals_decided += status == 200
            await asyncio.sleep(0.1)

    async def crews(self, session: aiohttp.ClientSession) -> None:
        n = 0
        while time.monotonic() < self.stop_at:
            n += 1
            name = self.c.names[n % len(self.c.names)]
            status, got = await self.post(
                session, f"/api/ventures/{name}/jobs", {"options": {"steps": 8, "pause": 0.25}}, "job"
            )
            if status == 202:
                self.tally.jobs_started.append(int(got["id"]))
            await asyncio.sleep(0.5)

    async def faults(self) -> None:
        """Worker kill at 25 %, API kill at 45 %, backends cut at 65 % of the run."""
        plan = [(0.25, "kill_worker"), (0.45, "kill_api"), (0.65, "terminate_backends")]
        for share, fault in plan:
            await asyncio.sleep(max(0.0, self.started + share * self.seconds - time.monotonic()))
            at = round(time.monotonic() - self.started, 2)
            if fault == "kill_worker":
                victim = await asyncio.to_thread(self.c.kill_busy_worker)
                self.tally.faults.append({"at": at, "fault": "SIGKILL", "process": victim})
                await asyncio.sleep(1.0)
                self.c.start_proc(victim)
                self.tally.faults.append({"at": round(time.monotonic() - self.started, 2), "restarted": victim})
            elif fault == "kill_api":
                self.c.procs["api1"].kill()
                self.tally.faults.append({"at": at, "fault": "SIGKILL", "process": "api1"})
            else:
                cut = await asyncio.to_thread(self.c.terminate_backends)
                self.tally.faults.append({"at": at, "fault": "pg_terminate_backend", "connections": cut})

    async def run(self) -> Tally:
        self.started = time.monotonic()
        self.stop_at = self.started + self.seconds
        headers = {"Authorization": f"Bearer {self.c.token}"}
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            await asyncio.gather(
                self.ingest(session, 0),
                self.ingest(session, 1),
                self.singles(session),
                self.approvals(session),
                self.crews(session),
                self.faults(),
            )
        return self.tally


# -- the checks ----------------------------------------------------------------------------------------
def settle(cluster: Cluster, seconds: float) -> dict[str, int]:
    """Wait until nothing is due: no timer, no pending notification, no queued or running job."""
    deadline = time.monotonic() + seconds
    left: dict[str, int] = {}
    while time.monotonic() < deadline:
        with cluster.sql() as conn:
            now = datetime.now(UTC)
            left = {
                "timers due": conn.execute(
                    text("select count(*) from timers where done_at is null and due_at <= :now"), {"now": now}
                ).scalar_one(),
                "notifications pending": conn.execute(
                    text("select count(*) from outbox where status = 'pending'")
                ).scalar_one(),
                "jobs queued or running": conn.execute(
                    text("select count(*) from jobs where status in ('queued', 'running')")
                ).scalar_one(),
            }
        if not any(left.values()):
            return left
        time.sleep(0.5)
    return left


def check(cluster: Cluster, tally: Tally) -> dict[str, Any]:
    """The exactly-once checks, from the database and the inbox; `problems` lists every violation."""
    problems: list[str] = []
    figures: dict[str, Any] = {}
    with cluster.sql() as conn:
        names = dict(conn.execute(text("select id, name from ventures")).all())
        stored = Counter(
            (names[v], k)
            for v, k in conn.execute(text("select venture_id, sample_key from samples where sample_key is not null"))
        )
        figures["samples stored"] = sum(stored.values())
        figures["samples acknowledged"] = len(tally.acked)
        figures["samples sent, answer lost"] = len(tally.attempted - tally.acked)
        lost = tally.acked - set(stored)
        doubled = [k for k, n in stored.items() if n > 1]
        strangers = set(stored) - tally.attempted
        if lost:
            problems.append(f"{len(lost)} acknowledged samples are not stored, e.g. {sorted(lost)[:3]}")
        if doubled:
            problems.append(f"{len(doubled)} samples are stored more than once, e.g. {doubled[:3]}")
        if strangers:
            problems.append(f"{len(strangers)} stored samples were never sent, e.g. {sorted(strangers)[:3]}")

        events: dict[tuple[int, str], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        kinds: Counter[str] = Counter()
        for vid, kind, reason, data in conn.execute(
            text("select venture_id, kind, reason, data from events where venture_id is not null order by id")
        ):
            kinds[kind] += 1
            data = data or {}
            trig = data.get("trigger") if kind != "trigger.pending" else reason
            if kind in ("trigger.pending", "trigger.fired", "recursion", "escalation.opened") and trig:
                events[(vid, trig)].append((kind, data))
        figures["events"] = dict(sorted(kinds.items()))
        states = {
            (vid, tid): (fired, acted)
            for vid, tid, fired, acted in conn.execute(
                text("select venture_id, trigger_id, fired_count, acted_count from trigger_state")
            )
        }
        for (vid, trig), seq in events.items():
            fired = [k for k, _ in seq if k == "trigger.fired"]
            recursions = [k for k, _ in seq if k == "recursion"]
            escalated = [k for k, _ in seq if k == "escalation.opened"]
            where = f"{names[vid]} {trig}"
            # A `for:` trigger fires at the end of a pending episode: two firings with no pending between them are
            # one episode fired twice (a timer run twice, or a sample and a timer both firing it).
            last = None
            for kind, _ in seq:
                if trig in PENDING_FIRST and kind == "trigger.fired" and last != "trigger.pending":
                    problems.append(f"{where}: fired twice in one pending episode")
                if kind in ("trigger.pending", "trigger.fired"):
                    last = kind
            fired_count, acted = states.get((vid, trig), (0, 0))
            if fired_count != len(fired):
                problems.append(f"{where}: fired_count {fired_count}, but {len(fired)} trigger.fired events")
            if trig == "QUAL-1" and len(fired) != len(recursions) + len(escalated):
                problems.append(f"{where}: {len(fired)} firings but {len(recursions)} recursions + {len(escalated)} "
                                "escalations")  # fmt: skip
            if trig == "QUAL-1" and acted != len(recursions):
                problems.append(f"{where}: acted_count {acted}, but {len(recursions)} recursions")
            if trig == "QUAL-1" and len(escalated) > 1:
                problems.append(f"{where}: escalated {len(escalated)} times (it pauses the venture)")

        codes = Counter(
            c for (c,) in conn.execute(text("select data->>'code' from events where kind = 'escalation.opened'"))
        )
        rows = [c for (c,) in conn.execute(text("select code from escalations"))]
        if sorted(codes) != sorted(rows) or any(n != 1 for n in codes.values()):
            problems.append(f"escalations {sorted(rows)} vs escalation.opened events {dict(codes)}")
        figures["escalations"] = len(rows)

        expired = Counter(
            int(a)
            for (a,) in conn.execute(text("select data->>'approval' from events where kind = 'approval.expired'"))
        )
        expired_rows = {int(a) for (a,) in conn.execute(text("select id from approvals where status = 'expired'"))}
        if set(expired) != expired_rows or any(n != 1 for n in expired.values()):
            problems.append(f"approval expiry: {len(expired_rows)} expired approvals, events {sum(expired.values())}")
        overdue = conn.execute(
            text("select count(*) from approvals where status = 'pending' and expires_at < now() - interval '5 s'")
        ).scalar_one()
        if overdue:
            problems.append(f"{overdue} approvals are past their expiry but still pending (their timer did not run)")
        figures["approvals expired"] = len(expired_rows)
        figures["timers run"] = conn.execute(text("select count(*) from timers where done_at is not null")).scalar_one()

        outbox = conn.execute(text("select id, status, delivery from outbox")).all()
        not_sent = [r.id for r in outbox if r.status != "sent"]
        if not_sent:
            problems.append(f"{len(not_sent)} notifications not delivered (pending or dead), e.g. {not_sent[:5]}")
        deliveries = {r.delivery for r in outbox if r.status == "sent"}
        received = Counter([m.delivery for m in cluster.inbox.slack] + [m.delivery for m in cluster.inbox.mail])
        missing = deliveries - set(received)
        unknown = set(received) - deliveries
        resent = {d: n for d, n in received.items() if n > 1}
        if missing:
            problems.append(
                f"{len(missing)} deliveries recorded as sent never reached the inbox: {sorted(missing)[:5]}"
            )
        if unknown:
            problems.append(
                f"{len(unknown)} messages in the inbox match no sent delivery: {sorted(map(str, unknown))[:3]}"
            )
        kills = sum(1 for f in tally.faults if f.get("fault") == "SIGKILL" and "worker" in str(f.get("process")))
        # A deliverer killed between its send and its commit sends that message again when the lease lapses,
        # under the same delivery id (receivers deduplicate on it). Only a killed worker can cause one.
        if sum(n - 1 for n in resent.values()) > kills:
            problems.append(f"deliveries received more than once with no deliverer killed between: {resent}")
        figures["notifications"] = len(outbox)
        figures["deliveries"] = len(deliveries)
        figures["inbox messages"] = len(cluster.inbox.slack) + len(cluster.inbox.mail)
        figures["deliveries resent after a kill"] = sum(n - 1 for n in resent.values())

        jobs = Counter(s for (s,) in conn.execute(text("select status from jobs")))
        figures["jobs"] = dict(jobs)
        if jobs["queued"] or jobs["running"]:
            problems.append(f"jobs left queued or running: {dict(jobs)}")
    return {"problems": problems, "figures": figures}


def run(
    ventures: int,
    seconds: float,
    batch: int,
    root: Path | None = None,
    keep: bool = False,
    settle_s: float = 60,
    admin_url: str = ADMIN_URL,
) -> dict[str, Any]:
    """Start a cluster, drive it under faults, settle, check, stop; the report."""
    own = root is None
    folder = root or Path(tempfile.mkdtemp(prefix="vg-cluster-"))
    cluster = Cluster(folder, ventures=ventures, admin_url=admin_url)
    try:
        t0 = time.monotonic()
        cluster.start()
        started_s = time.monotonic() - t0
        driver = Driver(cluster, seconds, batch)
        tally = asyncio.run(driver.run())
        cluster.start_proc("api1")  # back for the next run; the checks read the database directly
        left = settle(cluster, settle_s)
        report = check(cluster, tally)
        if any(left.values()):
            report["problems"].append(f"not idle {settle_s:.0f}s after the drive: {left}")
        lat = sorted(tally.latencies)
        report["figures"].update(
            {
                "startup seconds": round(started_s, 1),
                "drive seconds": seconds,
                "acknowledged samples/s": round(len(tally.acked) / seconds),
                "requests": dict(tally.requests),
                "retried failures": dict(tally.failures),
                "answers": dict(tally.answers),
                "p99 answer ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 1) if lat else None,
                "approvals requested": tally.approvals_requested,
                "jobs started": len(tally.jobs_started),
            }
        )
        report["faults"] = tally.faults
        report["logs"] = str(folder)
        return report
    finally:
        cluster.stop(drop=not keep)
        if own and not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ventures", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60.0, help="How long the drive runs.")
    parser.add_argument("--batch", type=int, default=1000, help="Samples per metric batch.")
    parser.add_argument("--dir", type=Path, default=None, help="Folder for logs and configs (kept).")
    parser.add_argument("--keep", action="store_true", help="Keep the database and folder afterwards.")
    parser.add_argument("--up", action="store_true", help="Only start the cluster, print its addresses, wait.")
    args = parser.parse_args()
    if args.up:
        cluster = Cluster(args.dir or Path(tempfile.mkdtemp(prefix="vg-cluster-")), ventures=args.ventures)
        cluster.start()
        print(json.dumps({"api": cluster.url, "token": cluster.token, "database": cluster.db_url,
                          "queue": cluster.env["VENTUREGATE_QUEUE_URL"], "inbox": cluster.inbox.slack_url,
                          "logs": str(cluster.root)}, indent=2))  # fmt: skip
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            cluster.stop(drop=not args.keep)
        return
    report = run(args.ventures, args.seconds, args.batch, args.dir, args.keep)
    print(json.dumps(report, indent=2, default=str))
    sys.exit(1 if report["problems"] else 0)


if __name__ == "__main__":
    main()
