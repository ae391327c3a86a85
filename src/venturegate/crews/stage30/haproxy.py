"""The built-in `local` deployment driver: versions as local processes behind HAProxy.

HAProxy is started with a generated configuration: one frontend on a loopback port, one backend with
the servers `blue` and `green`, and an admin `stats socket` in the driver's private directory. Traffic
moves through HAProxy's runtime API over that Unix socket (`set weight be/green 10`), which takes
effect for the next request without a reload; counters come from `show stat`. HAProxy balances every
HTTP request on its own, so a weight change never cuts a connection in flight.
"""

from __future__ import annotations

import contextlib
import csv
import io
import ipaddress
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
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

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


def render_config(*, frontend_port: int, ports: Mapping[str, int], socket_path: Path, host: str = "127.0.0.1") -> str:
    """The HAProxy configuration: frontend on `host:frontend_port`, servers blue and green, admin socket.

    HAProxy's format has no serializer, so every value is checked to be what it must be (an IP
    address, a port, a path without blanks) before it is written; nothing else is interpolated.
    """
    ipaddress.ip_address(host)  # ValueError for anything but an address
    for port in (frontend_port, *ports.values()):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"{port!r} is not a TCP port")
    if not str(socket_path) or any(c.isspace() or c in "#\\'\"" for c in str(socket_path)):
        raise ValueError(f"{str(socket_path)!r} cannot be written into an HAProxy configuration")
    servers = "\n".join(
        f"    server {slot} {host}:{ports[slot]} weight {100 if slot == 'blue' else 0} check" for slot in SLOTS
    )
    return f"""\
global
    stats socket {socket_path} mode 600 level admin
    maxconn 4096
    nbthread 2

defaults
    mode http
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
    option httpchk GET /health
    default-server inter 100ms fastinter 100ms downinter 100ms rise 1 fall 2
{servers}
"""


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
    proc: subprocess.Popen[bytes] | None = None


class LocalDriver:
    """Blue and green as local processes from a command template, behind an HAProxy this driver runs.

    `command` is a template: `{port}`, `{version}` and `{python}` in its items are replaced per version;
    `overrides` gives other templates for named versions (a faulty build in a test, for instance).
    Use it as a context manager, or call `open()` and `close()`.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        overrides: Mapping[str, Sequence[str]] | None = None,
        host: str = "127.0.0.1",
        start_timeout: float = 10.0,
        drain_timeout: float = 5.0,
    ) -> None:
        if not command:
            raise ValueError("a command template is required")
        self.command = tuple(command)
        self.overrides = {k: tuple(v) for k, v in (overrides or {}).items()}
        self.host = host
        self.start_timeout = start_timeout
        self.drain_timeout = drain_timeout
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._haproxy: subprocess.Popen[bytes] | None = None
        self._slots: dict[str, _Slot] = {}
        self._port = 0
        self.api = RuntimeAPI(Path("/nonexistent"))

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> LocalDriver:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> LocalDriver:
        """Write the configuration and start HAProxy; return once its runtime API answers."""
        if self._haproxy is not None:
            return self
        binary = find_haproxy()
        self._dir = tempfile.TemporaryDirectory(prefix="vg-haproxy-")
        workdir = Path(self._dir.name)
        self._port = free_port(self.host)
        self._slots = {slot: _Slot(slot, free_port(self.host)) for slot in SLOTS}
        sock = workdir / "haproxy.sock"
        cfg = workdir / "haproxy.cfg"
        cfg.write_text(
            render_config(
                frontend_port=self._port, ports={s.name: s.port for s in self._slots.values()}, socket_path=sock
            )
        )
        check = subprocess.run([binary, "-c", "-q", "-f", str(cfg)], capture_output=True, timeout=10, check=False)
        if check.returncode != 0:
            self.close()
            raise DriverError(f"haproxy rejected its configuration: {check.stderr.decode().strip()}")
        with open(workdir / "haproxy.log", "wb") as log:
            self._haproxy = subprocess.Popen(
                [binary, "-db", "-f", str(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.api = RuntimeAPI(sock)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._haproxy.poll() is not None:
                log_text = (workdir / "haproxy.log").read_text(errors="replace")
                self.close()
                raise DriverError(f"haproxy exited at start: {log_text.strip()}")
            try:
                if "Name: HAProxy" in self.api.command("show info"):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise DriverError(f"haproxy's runtime API did not answer within {self.start_timeout} s")
            time.sleep(0.02)

    def close(self) -> None:
        """Stop every version and HAProxy, remove the private directory."""
        for slot in self._slots.values():
            if slot.proc is not None:
                _stop_process(slot.proc)
                slot.proc, slot.version = None, None
        if self._haproxy is not None:
            _stop_process(self._haproxy)
            self._haproxy = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    # -- DeploymentDriver ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The HAProxy frontend."""
        if self._haproxy is None:
            raise DriverError("the driver is not open")
        return f"http://{self.host}:{self._port}"

    def slot_of(self, version: str) -> str:
        """`blue` or `green`: where `version` runs."""
        for slot in self._slots.values():
            if slot.version == version:
                return slot.name
        raise DriverError(f"version {version!r} is not running (running: {self.versions()})")

    def pids(self) -> list[int]:
        """Process ids of HAProxy and the running versions (to check that nothing is left behind)."""
        procs = [self._haproxy, *(s.proc for s in self._slots.values())]
        return [p.pid for p in procs if p is not None]

    def versions(self) -> dict[str, str]:
        """Running versions by slot."""
        return {s.name: s.version for s in self._slots.values() if s.version is not None}

    def start_version(self, version: str) -> str:
        """Start `version` in the free slot, wait until it and HAProxy's check see it healthy; return host:port."""
        if self._haproxy is None:
            raise DriverError("the driver is not open")
        if version in self.versions().values():
            raise DriverError(f"version {version!r} is already running")
        slot = next((s for s in self._slots.values() if s.version is None), None)
        if slot is None:
            raise DriverError(f"blue and green are both taken ({self.versions()}); stop one first")
        template = self.overrides.get(version, self.command)
        argv = [part.format(port=slot.port, version=version, python=sys.executable) for part in template]
        assert self._dir is not None
        with open(Path(self._dir.name) / f"{slot.name}.log", "wb") as log:
            slot.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        slot.version = version
        self.api.command(f"set server {BACKEND}/{slot.name} state ready")
        deadline = time.monotonic() + self.start_timeout
        while not self.health(version):
            if slot.proc.poll() is not None or time.monotonic() > deadline:
                why = "exited" if slot.proc.poll() is not None else f"not healthy within {self.start_timeout} s"
                self._release(slot)
                raise DriverError(f"version {version!r} ({' '.join(argv)}) {why}")
            time.sleep(0.05)
        return f"{self.host}:{slot.port}"

    def health(self, version: str) -> bool:
        """`/health` answers 200 directly and HAProxy's own check has the server UP."""
        slot = self._slots[self.slot_of(version)]
        try:
            with urllib.request.urlopen(f"http://{self.host}:{slot.port}/health", timeout=1.0) as response:
                if response.status != 200:
                    return False
        except (urllib.error.URLError, OSError):
            return False
        return self.counters(version).up

    def set_weights(self, blue: int, green: int) -> None:
        """Both weights in one runtime-API line; the slot that gains is raised first, so both are never 0."""
        if not (0 <= blue <= 100 and 0 <= green <= 100) or blue + green == 0:
            raise ValueError(f"weights must be 0..100 and not both 0 (got blue={blue}, green={green})")
        current = {row["svname"]: int(row["weight"] or 0) for row in self._server_rows()}
        raise_green_first = green >= current.get("green", 0)
        order = [("green", green), ("blue", blue)] if raise_green_first else [("blue", blue), ("green", green)]
        line = "; ".join(f"set weight {BACKEND}/{slot} {weight}" for slot, weight in order)
        answer = self.api.command(line).strip()
        if answer:
            raise DriverError(f"haproxy refused `{line}`: {answer}")

    def weights(self) -> dict[str, int]:
        """Current weights by slot."""
        return {row["svname"]: int(row["weight"] or 0) for row in self._server_rows()}

    def counters(self, version: str) -> TrafficCounters:
        """HAProxy's counters of the server `version` runs on."""
        return self.slot_counters(self.slot_of(version))

    def slot_counters(self, slot: str) -> TrafficCounters:
        """HAProxy's counters of `blue` or `green`."""
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

    def stop(self, version: str) -> None:
        """Take `version` out of rotation, wait (bounded) for its requests in flight, then stop its process."""
        slot = self._slots[self.slot_of(version)]
        other = next(s for s in self._slots.values() if s is not slot)
        weights = self.weights()
        if weights.get(slot.name, 0) > 0:
            if other.version is None:
                raise DriverError(f"{version!r} still takes traffic and there is no other version to send it to")
            self.set_weights(**{slot.name: 0, other.name: 100})
        deadline = time.monotonic() + self.drain_timeout
        while self.slot_counters(slot.name).in_flight > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.api.command(f"set server {BACKEND}/{slot.name} state maint")
        self._release(slot)

    def _release(self, slot: _Slot) -> None:
        if slot.proc is not None:
            _stop_process(slot.proc)
        slot.proc, slot.version = None, None

    def _server_rows(self) -> list[dict[str, str]]:
        return [r for r in self.api.show_stat() if r["pxname"] == BACKEND and r["svname"] in SLOTS]


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
    )
