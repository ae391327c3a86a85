"""The warm CLI server, with real processes on a Unix socket: same answers as in-process, exactly once.

The package is copied to a temporary folder, so that a test can change a file's modification time (a stale
server) without touching the checkout; every server a test starts is stopped, and checked gone, at the end.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

import venturegate

T = TypeVar("T")
WAIT = 60.0
"""Seconds any wait may take (a loaded machine builds the server's command tree slowly)."""
Run = Callable[..., subprocess.CompletedProcess[str]]


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _children(pid: int) -> list[int]:
    """The live processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _until(check: Callable[[], T], what: str) -> T:
    deadline = time.monotonic() + WAIT
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


class Workspace:
    """A folder with a database, a private cache folder (short: a socket path has at most 107 bytes) and `run`."""

    def __init__(self, package: Path, folder: Path) -> None:
        self.folder = folder
        self.cache = folder / "c"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VENTUREGATE_") and k != "COLUMNS"}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once into the shared prefix, as when installed
        self.env |= {
            "PYTHONPATH": str(package),
            "PYTHONPYCACHEPREFIX": str(package / "pycache"),
            "VENTUREGATE_CACHE_DIR": str(self.cache),
            "VENTUREGATE_CLI_SERVER": "1",
            "VENTUREGATE_CLI_SERVER_IDLE": "300",
            "VENTUREGATE_ACTOR": "lee:lead",
            "COLUMNS": "120",
        }
        self.seen: set[int] = set()

    def run(
        self, *args: str, server: bool = True, cwd: Path | None = None, env: dict[str, str] | None = None, **kw: object
    ) -> subprocess.CompletedProcess[str]:
        """`venturegate ARGS` through the client entry point (the server off unless `server`)."""
        environ = self.env | {"VENTUREGATE_CLI_SERVER": "1" if server else "0"} | (env or {})
        return subprocess.run(  # type: ignore[call-overload,no-any-return]
            [sys.executable, "-m", "venturegate.cli.client", *args],
            cwd=cwd or self.folder,
            env=environ,
            capture_output=True,
            text=True,
            timeout=WAIT,
            **kw,
        )

    def status(self) -> tuple[int, int] | None:
        """The server's pid and the number of commands it ran, or None when none answers."""
        proc = self.run("cli-server", "status")
        found = re.search(r"server (\d+) up \d+ s, (\d+) command", proc.stdout)
        if found is None:
            return None
        self.seen.add(int(found[1]))
        return int(found[1]), int(found[2])

    def start(self) -> int:
        """Start a server (if none runs) and wait until it answers; its pid."""
        proc = self.run("cli-server", "start", "--wait", str(WAIT))
        assert proc.returncode == 0, proc.stderr
        status = self.status()
        assert status is not None
        return status[0]

    def stop_all(self) -> None:
        """Stop the server and check that every server this workspace saw is gone."""
        self.run("cli-server", "stop")
        for pid in self.seen:
            _until(lambda pid=pid: not _alive(pid), f"server {pid} to exit")  # type: ignore[misc]


@pytest.fixture(scope="module")
def package() -> Iterator[Path]:
    """A copy of the package (its bytecode compiled once, under the copy)."""
    folder = Path(tempfile.mkdtemp(prefix="vgpkg-"))
    shutil.copytree(
        Path(venturegate.__file__).parent, folder / "venturegate", ignore=shutil.ignore_patterns("__pycache__")
    )
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def ws(package: Path) -> Iterator[Workspace]:
    """A workspace with venture `acme` (made in-process), and every server it starts stopped at the end."""
    folder = Path(tempfile.mkdtemp(prefix="vgs-", dir="/tmp"))
    space = Workspace(package, folder)
    made = space.run("--db", "vg.db", "venture", "create", "acme", "--segment", "b2b_smb", server=False)
    assert made.returncode == 0, made.stderr
    try:
        yield space
    finally:
        space.stop_all()
        shutil.rmtree(folder, ignore_errors=True)


COMMANDS = {
    "list": (["--db", "vg.db", "venture", "list"], 0),
    "show json": (["--db", "vg.db", "venture", "show", "acme", "--json"], 0),
    "not found": (["--db", "vg.db", "venture", "show", "nobody"], 1),
    "usage": (["--db", "vg.db", "venture", "lisst"], 2),
    "gate": (["--db", "vg.db", "gate", "check", "acme"], 3),
    "json error": (["--db", "missing.db", "venture", "list", "--json"], 1),
}


def test_the_server_answers_as_in_process_with_the_same_exit_codes(ws: Workspace) -> None:
    expected = {name: ws.run(*args, server=False) for name, (args, _) in COMMANDS.items()}
    assert not (ws.cache / "cli-server").exists(), "VENTUREGATE_CLI_SERVER=0 started nothing"
    pid = ws.start()
    for name, (args, code) in COMMANDS.items():
        got = ws.run(*args)
        assert (got.returncode, got.stdout, got.stderr) == (
            code,
            expected[name].stdout,
            expected[name].stderr,
        ), name
        assert expected[name].returncode == code
    assert ws.status() == (pid, len(COMMANDS)), "every command ran on the server"
    opened = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    assert not [path for path in opened if ".db" in path], "the server itself never opens a database"
    assert ws.run("--db", "vg.db", "metric", "record", "acme", "idea_quality_score", "-3.5").returncode == 0
    shown = json.loads(ws.run("--db", "vg.db", "metric", "list", "acme", "--json", server=False).stdout)
    assert [s["value"] for s in shown] == [-3.5], "recorded once"


def test_stdin_env_cwd_and_umask_are_the_clients(ws: Workspace) -> None:
    ws.start()
    sub = ws.folder / "sub"
    sub.mkdir()
    put = ws.run("--db", "../vg.db", "artifact", "put", "acme", "idea_text_input", "-", input='{"text": "hi"}', cwd=sub)
    assert put.returncode == 0, put.stderr
    shown = ws.run("--db", "vg.db", "artifact", "show", "acme", "idea_text_input", "--json")
    assert json.loads(shown.stdout)["content"] == {"text": "hi"}
    refused = ws.run("--db", "vg.db", "venture", "kill", "acme", "--reason", "x", env={"VENTUREGATE_ACTOR": "v:viewer"})
    assert refused.returncode == 1 and "viewer" in refused.stderr
    made = ws.run("--db", "new.db", "venture", "create", "beta", "--segment", "b2c_mass", cwd=sub, umask=0o077)
    assert made.returncode == 0, made.stderr
    assert (sub / "new.db").stat().st_mode & 0o777 == 0o600, "the database was made with the client's umask"
    status = ws.status()
    assert status is not None and status[1] == 4, "all four ran on the server"


def test_a_terminal_gets_the_same_colours(ws: Workspace) -> None:
    pid = ws.start()
    seen = []
    for server in (False, True):
        leader, follower = pty.openpty()
        proc = subprocess.run(
            [sys.executable, "-m", "venturegate.cli.client", "--db", "vg.db", "venture", "list"],
            cwd=ws.folder,
            env=ws.env | {"VENTUREGATE_CLI_SERVER": "1" if server else "0"},
            stdout=follower,
            timeout=WAIT,
        )
        os.close(follower)
        data = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            data += chunk
        os.close(leader)
        assert proc.returncode == 0
        seen.append(data)
    assert b"\x1b[32mactive" in seen[0], "Rich saw a terminal"
    assert seen[1] == seen[0]
    assert ws.status() == (pid, 1)


def test_a_stale_server_is_replaced_and_the_command_runs_once(ws: Workspace, package: Path) -> None:
    old = ws.start()
    module = package / "venturegate" / "cli" / "escape.py"
    st = module.stat()
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    got = ws.run("--db", "vg.db", "metric", "record", "acme", "idea_quality_score", "7")
    assert got.returncode == 0, got.stderr
    _until(lambda: not _alive(old), "the stale server to exit")
    new = _until(lambda: (s := ws.status()) is not None and s[0] != old and s, "a new server")
    assert new and new[1] == 0, "the command ran in-process, not on either server"
    shown = json.loads(ws.run("--db", "vg.db", "metric", "list", "acme", "--json").stdout)
    assert [s["value"] for s in shown] == [7.0]


def test_a_killed_server_means_in_process_and_a_new_server(ws: Workspace) -> None:
    old = ws.start()
    os.kill(old, signal.SIGKILL)
    _until(lambda: not _alive(old), "the server to die")
    expected = ws.run("--db", "vg.db", "venture", "list", server=False)
    got = ws.run("--db", "vg.db", "venture", "list")
    assert (got.returncode, got.stdout) == (0, expected.stdout)
    _until(lambda: (s := ws.status()) is not None and s[0] != old, "a new server")


def test_a_folder_or_socket_open_to_others_is_refused(ws: Workspace) -> None:
    pid = ws.start()
    folder = ws.cache / "cli-server"
    folder.chmod(0o755)
    try:
        got = ws.run("--db", "vg.db", "venture", "list")
        assert got.returncode == 0 and "acme" in got.stdout
        assert "not using the CLI server" in got.stderr and "open to other users" in got.stderr
    finally:
        folder.chmod(0o700)
    if os.geteuid() == 0:  # only root can give the socket to another user
        (sock,) = folder.glob("*.sock")
        os.chown(sock, 65534, -1)
        try:
            got = ws.run("--db", "vg.db", "venture", "list")
            assert "belongs to uid 65534" in got.stderr and got.returncode == 0
        finally:
            os.chown(sock, os.getuid(), -1)
    assert ws.status() == (pid, 0), "neither command went to the server"


def test_a_cache_folder_too_deep_for_a_socket_means_in_process(ws: Workspace) -> None:
    deep = ws.folder / ("d" * 60) / ("e" * 60)
    got = ws.run("--db", "vg.db", "venture", "list", env={"VENTUREGATE_CACHE_DIR": str(deep)})
    assert got.returncode == 0 and "acme" in got.stdout
    assert "too long for a Unix socket" in got.stderr
    assert not (deep / "cli-server").exists(), "no server was started"


def test_off_never_starts_a_server(ws: Workspace) -> None:
    for _ in range(2):
        assert ws.run("--db", "vg.db", "venture", "list", server=False).returncode == 0
    assert not (ws.cache / "cli-server").exists()
    assert ws.status() is None


def test_ctrl_c_reaches_the_command(ws: Workspace) -> None:
    pid = ws.start()
    client = subprocess.Popen(  # waits on stdin, which stays open: a command at work until Ctrl-C
        [
            sys.executable,
            "-m",
            "venturegate.cli.client",
            "--db",
            "vg.db",
            "artifact",
            "put",
            "acme",
            "idea_text_input",
            "-",
        ],
        cwd=ws.folder,
        env=ws.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (child,) = _until(lambda: _children(pid), "the command to start on the server")
        time.sleep(0.5)  # let it reach its read of stdin
        client.send_signal(signal.SIGINT)
        assert client.wait(timeout=WAIT) == 130, "the child's exit code: interrupted"
        _until(lambda: not _alive(child), "the command to stop")
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        assert client.stdin is not None
        client.stdin.close()
    assert _alive(pid), "the server itself was not interrupted"
    shown = ws.run("--db", "vg.db", "artifact", "show", "acme", "idea_text_input", server=False)
    assert shown.returncode == 1, "nothing was stored"


def test_services_and_the_server_commands_run_in_the_clients_process(ws: Workspace) -> None:
    from venturegate.cli.client import command_name

    assert command_name(["vg", "--db", "x.db", "--as", "a:lead", "worker", "--workers", "2"]) == "worker"
    assert command_name(["vg", "--db", "serve", "venture", "list"]) == "venture"
    assert command_name(["vg", "--help"]) is None
    pid = ws.start()
    assert ws.run("--db", "vg.db", "serve", "--port", "0", "--help").returncode == 0
    assert ws.status() == (pid, 0)
