"""The service process: CPU and memory with psutil while the load runs, and a py-spy profile of its Python.

py-spy reads the target's memory from outside (ptrace / process_vm_readv), so the service needs no
agent or code change; it needs the permission to do so (root, or CAP_SYS_PTRACE, or
`kernel.yama.ptrace_scope` 0 for a process of the same user). When it cannot attach, the profile
says so and why, and the run carries on without it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

Reading = Callable[[], Mapping[str, float]]
"""One reading of named values (`cpu_percent`, `memory_percent`, …) at the moment it is called."""


class Sampler:
    """Readings taken every `interval` seconds in the background while the `with` block runs; averages and peaks."""

    def __init__(
        self,
        read: Reading,
        *,
        interval: float = 0.25,
        name: str = "vg28-psutil",
        ends_on: tuple[type[Exception], ...] = (psutil.Error,),
    ) -> None:
        self.read = read
        self.interval = interval
        self.name = name
        self.ends_on = ends_on
        """Errors of `read` that end the sampling quietly, keeping what was read (the process ended)."""
        self.series: dict[str, list[float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        def loop() -> None:
            while not self._stop.wait(self.interval) and self._take():
                pass

        self._thread = threading.Thread(target=loop, name=self.name, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if not self.series:  # a block shorter than one interval still gets one reading (since `__enter__`)
            self._take()

    def _take(self) -> bool:
        """Read once into the series; False when `read` failed with one of `ends_on`."""
        try:
            values = self.read()
        except self.ends_on:
            return False
        for key, value in values.items():
            self.series.setdefault(key, []).append(float(value))
        return True

    def summary(self) -> dict[str, float]:
        """`NAME_avg` and `NAME_peak` of every series read, and how many readings were taken (`samples`)."""
        out: dict[str, float] = {}
        for key, xs in self.series.items():
            out[f"{key}_avg"] = round(sum(xs) / len(xs), 3) if xs else 0.0
            out[f"{key}_peak"] = round(max(xs, default=0.0), 3)
        out["samples"] = float(max((len(xs) for xs in self.series.values()), default=0))
        return out


def process_reading(pid: int) -> Reading:
    """CPU (percent of the machine's cores), memory (percent of the machine's RAM) and RSS of process `pid`."""
    proc = psutil.Process(pid)
    proc.cpu_percent(None)  # the first call only starts psutil's interval
    cores = psutil.cpu_count() or 1
    total = psutil.virtual_memory().total

    def read() -> dict[str, float]:
        with proc.oneshot():
            cpu = proc.cpu_percent(None) / cores
            rss = proc.memory_info().rss
        return {"cpu_percent": cpu, "memory_percent": 100.0 * rss / total, "rss_mb": rss / 2**20}

    return read


def host_reading() -> Reading:
    """The whole host's CPU and memory use, in percent (when the service's PID is not known)."""
    psutil.cpu_percent(None)
    return lambda: {"cpu_percent": psutil.cpu_percent(None), "memory_percent": psutil.virtual_memory().percent}


def py_spy_binary() -> str | None:
    """The py-spy executable next to this interpreter, or on PATH."""
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


@dataclass(frozen=True)
class HotPath:
    """A Python function and how many samples had it on the stack (self time: at the top of the stack)."""

    function: str
    samples: int
    self_samples: int


@dataclass(frozen=True)
class Profile:
    """A py-spy recording: ok, or why not; the hottest functions."""

    ok: bool
    detail: str
    samples: int = 0
    rate_hz: int = 0
    hot: tuple[HotPath, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ok": self.ok,
            "detail": self.detail,
            "samples": self.samples,
            "rate_hz": self.rate_hz,
            "hot_paths": [h.__dict__ for h in self.hot],
        }


def py_spy_record(pid: int, seconds: float, out: Path, *, rate: int = 100) -> subprocess.Popen[bytes] | Profile:
    """Start `py-spy record` on `pid` (collapsed stacks to `out`); a Profile saying why when it cannot start."""
    binary = py_spy_binary()
    if binary is None:
        return Profile(False, "py-spy is not installed (it comes with the project's locked dependencies)")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", str(rate)]
    cmd += ["--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def py_spy_finish(proc: subprocess.Popen[bytes] | Profile, out: Path, *, rate: int = 100, top: int = 20) -> Profile:
    """Wait for the recording and read its collapsed stacks into the hottest functions."""
    if isinstance(proc, Profile):
        return proc
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return Profile(False, "py-spy did not finish within 60 s")
    if proc.returncode != 0 or not out.exists():
        text = [line.strip() for line in err.decode(errors="replace").splitlines() if line.strip()]
        errors = [line for line in text if line.lower().startswith(("error", "thread", "panic"))]
        why = (errors or text or [f"exit status {proc.returncode}"])[0]
        if "permission" in why.lower() or "ptrace" in why.lower():
            why += " (py-spy needs ptrace permission: root, CAP_SYS_PTRACE or kernel.yama.ptrace_scope=0)"
        return Profile(False, f"py-spy could not profile pid: {why}")
    total = 0
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0] + ")" if " (" in f else f for f in stack.split(";")
        ]
        for name in set(frames):
            inclusive[name] += n
        self_time[frames[-1]] += n
    # Rank by self time first (where the CPU actually is), then by inclusive time.
    ranked = sorted(inclusive, key=lambda f: (-self_time[f], -inclusive[f]))
    skip = ("_run_once", "run_forever", "run_until_complete", "_run_module_as_main", "_run_code", "<module>", "main (")
    hot = [HotPath(f, inclusive[f], self_time[f]) for f in ranked if not f.startswith(skip)][:top]
    return Profile(True, f"py-spy {total} samples at {rate} Hz", total, rate, tuple(hot))
