"""The built-in `local` deployment driver: versions as local processes behind HAProxy.

HAProxy is started with a generated configuration: one frontend on a loopback port, one backend with
the servers `blue` and `green`, and an admin `stats socket` in the driver's directory. Traffic moves
through HAProxy's runtime API over that Unix socket (`set weight be/green 10`), which takes effect for
the next request without a reload; counters come from `show stat` (the frontend's count every answer
HAProxy gave a client, including the 503/504 it generated itself). HAProxy health-checks both servers
(`check inter/fall/rise`), and logs every request (time, server, status, server time, path) to
`haproxy.log`, which `RequestLog` reads for per-route figures.

With a `state_dir`, the driver is persistent: HAProxy and the versions keep running when the driver
is detached (`detach()`), their pids, ports and versions are kept in `state.json` there, and another
process (the CLI, the worker, a timer's rollback handler) attaches to them with `LocalDriver.attach`.
Slots are fixed HAProxy servers; roles move: `blue` is the serving version, `green` the new one, and
`promote()` makes green the serving version after a cutover.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import hashlib
import io
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from venturegate.crews.stage30.driver import TrafficCounters

SLOTS = ("blue", "green")
BACKEND = "be"
HAPROXY_CANDIDATES = ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")


class DriverError(RuntimeError):
    """The driver could not start, reach or control a version or HAProxy."""


def find_haproxy() -> str:
    """The haproxy binary (PATH, then the Debian location); raise `DriverError` when it is missing."""
    found = shutil.which("haproxy") or next((p for p in HAPROXY_CANDIDATES if os.access(p, os.X_OK)), None)
    if found is None:
        raise DriverError("haproxy is not installed (Debian: apt-get install haproxy; `make test` does it)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class RuntimeAPI:
    """HAProxy's runtime API over its admin Unix socket: one connection per command line."""

    def __init__(self, path: Path, timeout: float = 2.0) -> None:
        self.path = path
        self.timeout = timeout

    def command(self, line: str) -> str:
        """Send one command line (several commands may be joined with `;`) and return the answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(self.timeout)
            s.connect(str(self.path))
            s.sendall(line.encode() + b"\n")
            chunks: list[bytes] = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def show_stat(self) -> list[dict[str, str]]:
        """`show stat` as one dict per proxy/server row."""
        text = self.command("show stat").lstrip("# ")
        return [row for row in csv.DictReader(io.StringIO(text)) if row.get("pxname")]


@dataclass(frozen=True)
class HealthCheck:
    """HAProxy's active health check of every server (`check inter … fall … rise …`)."""

    inter_ms: int = 250
    """Milliseconds between two checks of a server."""
    fall: int = 2
    """Consecutive failed checks that mark a server down."""
    rise: int = 2
    """Consecutive passed checks that mark it up again."""
    path: str = "/health"

    def __post_init__(self) -> None:
        if self.inter_ms < 10 or self.fall < 1 or self.rise < 1:
            raise ValueError("health check: inter_ms must be >= 10, fall and rise >= 1")
        if not self.path.startswith("/") or any(c.isspace() or c in "\"'\\" for c in self.path):
            raise ValueError(f"health check path must be a plain absolute path (got {self.path!r})")


LOG_FORMAT = "%Ts.%ms|%s|%ST|%Tr|%Ta|%HM|%HP"
"""One line per request: accept time, server (`<NOSRV>` when HAProxy answered itself), status, server
response time and total time in ms (-1: none), method, path without query string."""


def render_config(
    *,
    frontend_port: int,
    ports: Mapping[str, int],
    socket_path: Path,
    host: str = "127.0.0.1",
    check: HealthCheck | None = None,
    weights: Mapping[str, int] | None = None,
) -> str:
    """HAProxy's configuration: frontend on `host:frontend_port`, servers blue and green, admin socket, log.

    HAProxy's format has no serializer, so every value is checked to be what it must be (an IP
    address, a port, a path without blanks) before it is written; nothing else is interpolated.
    """
    ipaddress.ip_address(host)  # ValueError for anything but an address
    for port in (frontend_port, *ports.values()):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"{port!r} is not a TCP port")
    if not str(socket_path) or any(c.isspace() or c in "#\\'\"" for c in str(socket_path)):
        raise ValueError(f"{str(socket_path)!r} cannot be written into an HAProxy configuration")
    hc = check or HealthCheck()
    timing = " ".join(f"{k} {hc.inter_ms}ms" for k in ("inter", "fastinter", "downinter"))
    start = weights or {"blue": 100, "green": 0}
    servers = "\n".join(f"    server {slot} {host}:{ports[slot]} weight {start.get(slot, 0)} check" for slot in SLOTS)
    return f"""\
global
    stats socket {socket_path} mode 600 level admin
    maxconn 4096
    nbthread 2
    log stdout format raw local0 info

defaults
    mode http
    log global
    log-format "{LOG_FORMAT}"
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout http-keep-alive 5s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend fe
    bind {host}:{frontend_port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET {hc.path}
    default-server {timing} rise {hc.rise} fall {hc.fall}
{servers}
"""


@dataclass(frozen=True)
class LoggedRequest:
    """One request as HAProxy logged it."""

    at: float
    """Unix time HAProxy accepted it."""
    server: str
    """`blue`, `green`, or `<NOSRV>` when HAProxy answered without a server (503 no server, for instance)."""
    status: int
    server_ms: float | None
    """The server's response time; None when no server answered."""
    total_ms: float
    method: str
    path: str


class RequestLog:
    """Reads HAProxy's request log incrementally (complete lines only)."""

    def __init__(self, path: Path, *, from_end: bool = True) -> None:
        self.path = path
        self.offset = path.stat().st_size if from_end and path.exists() else 0

    def read(self) -> list[LoggedRequest]:
        """The requests logged since the last read."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for line in data[:end].decode(errors="replace").splitlines():
            parsed = parse_log_line(line)
            if parsed is not None:
                out.append(parsed)
        return out


def parse_log_line(line: str) -> LoggedRequest | None:
    """A `LOG_FORMAT` line, or None for any other line HAProxy wrote (warnings, start-up notices)."""
    parts = line.strip().split("|", 6)
    if len(parts) != 7:
        return None
    try:
        at, status, server_ms, total_ms = float(parts[0]), int(parts[2]), float(parts[3]), float(parts[4])
    except ValueError:
        return None
    return LoggedRequest(at, parts[1], status, server_ms if server_ms >= 0 else None, total_ms, parts[5], parts[6])


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a pid from a reused one); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] == "Z":
        return None
    return fields[19] if len(fields) > 19 else None


@dataclass
class _Proc:
    """A process this driver runs: a child of this process (`popen`) or one found again from the state file."""

    pid: int
    start: str | None
    popen: subprocess.Popen[bytes] | None = None

    @classmethod
    def spawn(cls, argv: Sequence[str], log: Path) -> _Proc:
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )
        return cls(popen.pid, _start_time(popen.pid), popen)

    @classmethod
    def found(cls, pid: int, start: str | None) -> _Proc:
        """A process named by the state file; a child this process detached earlier is taken back as a child.

        Taken back, it is reaped when it is stopped or ends (its pid cannot have been reused while unreaped);
        otherwise it would stay a zombie with a `Popen` that warns "still running" at exit.
        """
        for i, popen in enumerate(_DETACHED):
            if popen.pid == pid and popen.returncode is None:
                del _DETACHED[i]
                return cls(pid, start, popen)
        return cls(pid, start)

    def alive(self) -> bool:
        if self.popen is not None:
            # A killed multi-threaded process (HAProxy) shows as a zombie while its other threads still exit, and
            # cannot be reaped until they have: it is not alive any more, though `poll()` cannot say so yet.
            return self.popen.poll() is None and _start_time(self.pid) is not None
        return self.start is not None and _start_time(self.pid) == self.start

    def exit_code(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; reaped when it is a child."""
        if self.popen is not None:
            _stop_process(self.popen, timeout)
            return
        if not self.alive():
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            deadline = time.monotonic() + wait
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            if not self.alive():
                return

    def as_dict(self) -> dict[str, object]:
        return {"pid": self.pid, "start": self.start}


def _stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaped."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=timeout)


@dataclass
class _Slot:
    name: str
    port: int
    version: str | None = None
    proc: _Proc | None = None
    argv: tuple[str, ...] = ()


def _socket_path(workdir: Path) -> Path:
    """The admin socket: in `workdir`, or (HAProxy takes a socket path of at most 97 bytes) in a private folder in /tmp
    named from a hash of `workdir`."""
    inside = workdir.resolve() / "haproxy.sock"
    if len(str(inside)) <= 90:  # HAProxy takes at most 97 bytes
        return inside
    private = Path(tempfile.gettempdir()) / f"vg-haproxy-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    if private.stat().st_uid != os.getuid() or private.stat().st_mode & 0o077:
        raise DriverError(f"{private} is not a private folder of this user; remove it")
    return private / (hashlib.sha256(str(inside).encode()).hexdigest()[:24] + ".sock")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


STATE_FILE = "state.json"
_DETACHED: list[subprocess.Popen[bytes]] = []


@atexit.register
def _reap_detached() -> None:
    """Reap detached children that another process stopped, so none is left a zombie with a live `Popen`."""
    for popen in _DETACHED:
        popen.poll()


class LocalDriver:
    """Blue and green as local processes from a command template, behind an HAProxy this driver runs.

    `command` is a template: `{port}`, `{version}` and `{python}` in its items are replaced per version;
    `overrides` gives other templates for named versions (a faulty build in a test, for instance).
    Use it as a context manager, or call `open()` and `close()` (or `detach()` to leave it running).
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        overrides: Mapping[str, Sequence[str]] | None = None,
        host: str = "127.0.0.1",
        start_timeout: float = 10.0,
        drain_timeout: float = 5.0,
        state_dir: Path | None = None,
        check: HealthCheck | None = None,
    ) -> None:
        if not command:
            raise ValueError("a command template is required")
        self.command = tuple(command)
        self.overrides = {k: tuple(v) for k, v in (overrides or {}).items()}
        self.host = host
        self.start_timeout = start_timeout
        self.drain_timeout = drain_timeout
        self.state_dir = state_dir
        self.check = check or HealthCheck()
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._workdir: Path | None = None
        self._haproxy: _Proc | None = None
        self._slots: dict[str, _Slot] = {}
        self._roles = {"blue": "blue", "green": "green"}
        self._port = 0
        self.attached = False
        """Whether `open()` found a running production (from `state_dir`) instead of starting one."""
        self.api = RuntimeAPI(Path("/nonexistent"))

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> LocalDriver:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @classmethod
    def attach(cls, state_dir: Path) -> LocalDriver:
        """The persistent production recorded in `state_dir`; `DriverError` when none is running there."""
        state = _read_state(state_dir)
        if state is None:
            raise DriverError(f"no production is recorded in {state_dir}")
        driver = cls(state["command"], state_dir=state_dir, host=state["host"], check=HealthCheck(**state["check"]))
        driver.open()
        if not driver.attached:
            driver.close()
            raise DriverError(f"the production recorded in {state_dir} is not running any more")
        return driver

    def open(self) -> LocalDriver:
        """Attach to the running production in `state_dir`, or write the configuration and start HAProxy."""
        if self._haproxy is not None:
            return self
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            state = _read_state(self.state_dir)
            if state is not None and self._load(state):
                self.attached = True
                return self
            self._workdir = self.state_dir
        else:
            self._dir = tempfile.TemporaryDirectory(prefix="vg-haproxy-")
            self._workdir = Path(self._dir.name)
        return self._start()

    def _start(self) -> LocalDriver:
        binary = find_haproxy()
        workdir = self._workdir
        assert workdir is not None
        self._port = free_port(self.host)
        self._slots = {slot: _Slot(slot, free_port(self.host)) for slot in SLOTS}
        self._roles = {"blue": "blue", "green": "green"}
        sock = _socket_path(workdir)
        cfg = workdir / "haproxy.cfg"
        cfg.write_text(
            render_config(
                frontend_port=self._port,
                ports={s.name: s.port for s in self._slots.values()},
                socket_path=sock,
                host=self.host,
                check=self.check,
            )
        )
        check = subprocess.run([binary, "-c", "-f", str(cfg)], capture_output=True, timeout=10, check=False)
        if check.returncode != 0:
            self.close()
            raise DriverError(f"haproxy rejected its configuration: {(check.stderr + check.stdout).decode().strip()}")
        log = workdir / "haproxy.log"
        log.write_bytes(b"")
        self._haproxy = _Proc.spawn([binary, "-db", "-f", str(cfg)], log)
        self.api = RuntimeAPI(sock)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if not self._haproxy.alive():
                text = _tail(log)
                self.close()
                raise DriverError(f"haproxy exited at start: {text}")
            try:
                if "Name: HAProxy" in self.api.command("show info"):
                    self._save()
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise DriverError(f"haproxy's runtime API did not answer within {self.start_timeout} s")
            time.sleep(0.02)

    def _load(self, state: Mapping[str, object]) -> bool:
        """Take over the processes in `state` when HAProxy still runs; else stop what is left of them."""
        hap = state["haproxy"]
        assert isinstance(hap, dict)
        haproxy = _Proc.found(int(hap["pid"]), hap["start"])
        slots_raw = state["slots"]
        assert isinstance(slots_raw, dict)
        slots = {}
        for name, raw in slots_raw.items():
            proc = _Proc.found(int(raw["pid"]), raw["start"]) if raw.get("pid") else None
            slots[name] = _Slot(name, int(raw["port"]), raw.get("version"), proc, tuple(raw.get("argv", ())))
        if not haproxy.alive():
            haproxy.stop()  # a child of this process, dying: reaped here (else a no-op)
            for slot in slots.values():
                if slot.proc is not None:
                    slot.proc.stop()
            return False
        assert self.state_dir is not None
        self._workdir = self.state_dir
        self._haproxy, self._slots = haproxy, slots
        roles = state["roles"]
        assert isinstance(roles, dict)
        self._roles = {str(k): str(v) for k, v in roles.items()}
        self._port = int(str(state["frontend_port"]))
        self.api = RuntimeAPI(Path(str(state["socket"])))
        for slot in self._slots.values():  # a version that died since: its slot is free again
            if slot.proc is not None and not slot.proc.alive():
                slot.proc, slot.version = None, None
        self._save()
        return True

    def refresh(self) -> None:
        """Forget versions whose process has ended (stopped by a rollback handler in another process, say)."""
        for slot in self._slots.values():
            if slot.proc is not None and not slot.proc.alive():
                slot.proc, slot.version, slot.argv = None, None, ()
        self._save()

    def _save(self) -> None:
        if self.state_dir is None or self._haproxy is None:
            return
        state = {
            "host": self.host,
            "frontend_port": self._port,
            "url": self.url,
            "socket": str(self.api.path),
            "log": str(self.log_path),
            "command": list(self.command),
            "check": asdict(self.check),
            "haproxy": self._haproxy.as_dict(),
            "roles": self._roles,
            "slots": {
                s.name: {"port": s.port, "version": s.version, "argv": list(s.argv),
                         **(s.proc.as_dict() if s.proc is not None else {"pid": None, "start": None})}
                for s in self._slots.values()
            },
        }  # fmt: skip
        tmp = self.state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_dir / STATE_FILE)

    def close(self) -> None:
        """Stop every version and HAProxy; remove the private directory (or the state file)."""
        for slot in self._slots.values():
            if slot.proc is not None:
                slot.proc.stop()
                slot.proc, slot.version = None, None
        if self._haproxy is not None:
            self._haproxy.stop()
            self._haproxy = None
        if self.state_dir is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / STATE_FILE).unlink()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def detach(self) -> None:
        """Leave HAProxy and the versions running (persistent driver only); `attach` finds them again."""
        if self.state_dir is None:
            raise DriverError("only a driver with a state_dir can leave production running")
        self._save()
        for proc in [self._haproxy, *(s.proc for s in self._slots.values())]:
            if proc is not None and proc.popen is not None:
                _DETACHED.append(proc.popen)  # our children still: reaped when they end, never dropped running
        _DETACHED[:] = [p for p in _DETACHED if p.poll() is None]
        self._haproxy = None
        self._slots = {}

    @property
    def running(self) -> bool:
        """Whether HAProxy runs."""
        return self._haproxy is not None and self._haproxy.alive()

    @property
    def log_path(self) -> Path:
        """HAProxy's request log."""
        if self._workdir is None:
            raise DriverError("the driver is not open")
        return self._workdir / "haproxy.log"

    def request_log(self, *, from_end: bool = True) -> RequestLog:
        """A reader of HAProxy's request log (from now on, by default)."""
        return RequestLog(self.log_path, from_end=from_end)

    # -- DeploymentDriver ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The HAProxy frontend."""
        if self._haproxy is None:
            raise DriverError("the driver is not open")
        return f"http://{self.host}:{self._port}"

    def slot_of(self, version: str) -> str:
        """`blue` or `green` (the HAProxy server): where `version` runs."""
        for slot in self._slots.values():
            if slot.version == version:
                return slot.name
        raise DriverError(f"version {version!r} is not running (running: {self.versions()})")

    def pids(self) -> list[int]:
        """Process ids of HAProxy and the running versions (to check that nothing is left behind)."""
        procs = [self._haproxy, *(s.proc for s in self._slots.values())]
        return [p.pid for p in procs if p is not None]

    def versions(self) -> dict[str, str]:
        """Running versions by role (`blue`: serving, `green`: the new one)."""
        out = {}
        for role, slot in self._roles.items():
            version = self._slots[slot].version if slot in self._slots else None
            if version is not None:
                out[role] = version
        return out

    def start_version(self, version: str) -> str:
        """Start `version` in the free slot, wait until it and HAProxy's check see it healthy; return host:port.

        The first version running takes the `blue` role, the next one `green`.
        """
        if self._haproxy is None:
            raise DriverError("the driver is not open")
        if version in self.versions().values():
            raise DriverError(f"version {version!r} is already running")
        slot = next((s for s in self._slots.values() if s.version is None), None)
        if slot is None:
            raise DriverError(f"blue and green are both taken ({self.versions()}); stop one first")
        other = next(s for s in self._slots.values() if s is not slot)
        role = "blue" if other.version is None else "green"
        self._roles = {role: slot.name, ("green" if role == "blue" else "blue"): other.name}
        template = self.overrides.get(version, self.command)
        argv = [part.format(port=slot.port, version=version, python=sys.executable) for part in template]
        assert self._workdir is not None
        log = self._workdir / f"{slot.name}.log"
        log.write_bytes(b"")
        slot.proc, slot.version, slot.argv = _Proc.spawn(argv, log), version, tuple(argv)
        self.api.command(f"set server {BACKEND}/{slot.name} state ready")
        self._save()
        deadline = time.monotonic() + self.start_timeout
        while not self.health(version):
            if not slot.proc.alive() or time.monotonic() > deadline:
                code = slot.proc.exit_code()
                why = (
                    f"exited with code {code}"
                    if not slot.proc.alive()
                    else f"not healthy within {self.start_timeout} s"
                )
                output = _tail(log)
                self._release(slot)
                raise DriverError(
                    f"version {version!r} ({' '.join(argv)}) {why}; its last output lines:\n"
                    + (output or "(no output)")
                )
            time.sleep(0.05)
        return f"{self.host}:{slot.port}"

    def address(self, version: str) -> str:
        """host:port where `version` answers directly (not through HAProxy)."""
        return f"{self.host}:{self._slots[self.slot_of(version)].port}"

    def health(self, version: str) -> bool:
        """The health path answers 200 directly and HAProxy's own check has the server UP."""
        slot = self._slots[self.slot_of(version)]
        try:
            with urllib.request.urlopen(f"http://{self.host}:{slot.port}{self.check.path}", timeout=1.0) as response:
                if response.status != 200:
                    return False
        except (urllib.error.URLError, OSError):
            return False
        return self.counters(version).up

    def set_weights(self, blue: int, green: int) -> None:
        """Both weights (by role) in one runtime-API line; the server that gains goes first (never both 0)."""
        if not (0 <= blue <= 100 and 0 <= green <= 100) or blue + green == 0:
            raise ValueError(f"weights must be 0..100 and not both 0 (got blue={blue}, green={green})")
        b_slot, g_slot = self._roles["blue"], self._roles["green"]
        current = {row["svname"]: int(row["weight"] or 0) for row in self._server_rows()}
        raise_green_first = green >= current.get(g_slot, 0)
        order = [(g_slot, green), (b_slot, blue)] if raise_green_first else [(b_slot, blue), (g_slot, green)]
        line = "; ".join(f"set weight {BACKEND}/{slot} {weight}" for slot, weight in order)
        answer = self.api.command(line).strip()
        if answer:
            raise DriverError(f"haproxy refused `{line}`: {answer}")

    def weights(self) -> dict[str, int]:
        """Current weights by role."""
        by_slot = {row["svname"]: int(row["weight"] or 0) for row in self._server_rows()}
        return {role: by_slot.get(slot, 0) for role, slot in sorted(self._roles.items())}

    def counters(self, version: str) -> TrafficCounters:
        """HAProxy's counters of the server `version` runs on."""
        return self.slot_counters(self.slot_of(version))

    def slot_counters(self, slot: str) -> TrafficCounters:
        """HAProxy's counters of the server `blue` or `green`."""
        row = next((r for r in self._server_rows() if r["svname"] == slot), None)
        if row is None:
            raise DriverError(f"haproxy has no server {BACKEND}/{slot}")
        return _counters(row)

    def backend_counters(self) -> TrafficCounters:
        """HAProxy's counters of the whole backend (both slots)."""
        row = next((r for r in self.api.show_stat() if r["pxname"] == BACKEND and r["svname"] == "BACKEND"), None)
        if row is None:
            raise DriverError(f"haproxy has no backend {BACKEND}")
        return _counters(row)

    def frontend_counters(self) -> TrafficCounters:
        """What clients got from HAProxy: every request and every 5xx, including those HAProxy generated."""
        row = next((r for r in self.api.show_stat() if r["pxname"] == "fe" and r["svname"] == "FRONTEND"), None)
        if row is None:
            raise DriverError("haproxy has no frontend fe")
        return TrafficCounters(
            requests=_int(row, "req_tot"),
            responses_5xx=_int(row, "hrsp_5xx"),
            errors=0,
            in_flight=_int(row, "scur"),
            weight=0,
            up=(row.get("status") or "") == "OPEN",
        )

    def stop(self, version: str) -> None:
        """Take `version` out of rotation, wait (bounded) for its requests in flight, then stop its process."""
        slot = self._slots[self.slot_of(version)]
        other = next(s for s in self._slots.values() if s is not slot)
        by_slot = {row["svname"]: int(row["weight"] or 0) for row in self._server_rows()}
        if by_slot.get(slot.name, 0) > 0:
            if other.version is None:
                raise DriverError(f"{version!r} still takes traffic and there is no other version to send it to")
            line = f"set weight {BACKEND}/{other.name} 100; set weight {BACKEND}/{slot.name} 0"
            answer = self.api.command(line).strip()
            if answer:
                raise DriverError(f"haproxy refused `{line}`: {answer}")
        deadline = time.monotonic() + self.drain_timeout
        while self.slot_counters(slot.name).in_flight > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.api.command(f"set server {BACKEND}/{slot.name} state maint")
        self._release(slot)

    def promote(self, version: str) -> None:
        """After a cutover: `version` (green, with all the traffic) becomes blue, the old blue is stopped."""
        slot = self.slot_of(version)
        if self._roles["green"] != slot:
            raise DriverError(f"{version!r} is not the green version")
        old = self._slots[self._roles["blue"]]
        if old.version is not None:
            self.stop(old.version)
        self._roles = {"blue": slot, "green": old.name}
        self._save()

    def status(self) -> dict[str, object]:
        """Where production answers, what runs in which role with its pid, weights and health, as HAProxy sees them."""
        rows = {r["svname"]: r for r in self._server_rows()} if self.running else {}
        front = self.frontend_counters() if self.running else None
        roles = {}
        for role, slot_name in sorted(self._roles.items()):
            slot = self._slots.get(slot_name)
            if slot is None or slot.version is None:
                continue
            row = rows.get(slot_name, {})
            roles[role] = {
                "version": slot.version, "server": slot_name, "address": f"{self.host}:{slot.port}",
                "pid": slot.proc.pid if slot.proc else None, "alive": bool(slot.proc and slot.proc.alive()),
                "weight": _int(row, "weight"), "haproxy_status": row.get("status", ""),
            }  # fmt: skip
        return {
            "url": self.url if self._haproxy is not None else None,
            "running": self.running,
            "haproxy_pid": self._haproxy.pid if self._haproxy is not None else None,
            "roles": roles,
            "frontend": None if front is None else {"requests": front.requests, "responses_5xx": front.responses_5xx},
            "state_dir": str(self.state_dir) if self.state_dir is not None else None,
        }

    def _release(self, slot: _Slot) -> None:
        if slot.proc is not None:
            slot.proc.stop()
        slot.proc, slot.version, slot.argv = None, None, ()
        self._save()

    def _server_rows(self) -> list[dict[str, str]]:
        return [r for r in self.api.show_stat() if r["pxname"] == BACKEND and r["svname"] in SLOTS]


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _int(row: Mapping[str, str], key: str) -> int:
    value = row.get(key) or "0"
    return int(value) if value.isdigit() else 0


def _counters(row: Mapping[str, str]) -> TrafficCounters:
    answered = sum(_int(row, f"hrsp_{k}") for k in ("1xx", "2xx", "3xx", "4xx", "5xx", "other"))
    errors = _int(row, "eresp") + _int(row, "econ")
    return TrafficCounters(
        requests=answered + errors,
        responses_5xx=_int(row, "hrsp_5xx"),
        errors=errors,
        in_flight=_int(row, "scur") + _int(row, "qcur"),
        weight=_int(row, "weight"),
        up=(row.get("status") or "").startswith("UP"),
        down_transitions=_int(row, "chkdown"),
        check_failures=_int(row, "chkfail"),
    )
