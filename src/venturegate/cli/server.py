"""The warm CLI server: the CLI, engine and SQLAlchemy imported once, a forked child per command.

`python -m venturegate.cli.server` (started in the background by `venturegate.cli.client`) imports and builds
the whole command tree, then listens on a Unix socket in the user's private cache folder. For each request it
forks a child that takes over the client's working directory, environment, umask and stdin/stdout/stderr
(passed with SCM_RIGHTS), tells the client its pid, waits for the client's `G`, runs the command and sends its
exit code. The server itself never opens a database: no connection or thread crosses a fork.

It exits after `VENTUREGATE_CLI_SERVER_IDLE` seconds without a request (default 600), on `cli-server stop`,
and when its code changed (a fingerprint of the package's files, the Python executable and its version,
checked at every request): it then answers `S` (stale) and the client runs the command itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import io
import os
import select
import signal
import site
import socket
import struct
import sys
import threading
import time
from typing import Any

from venturegate.cli.client import HEADER, MAGIC_CONTROL, MAGIC_RUN, identity, paths, private_problem

DEFAULT_IDLE = 600.0
REQUEST_TIMEOUT = 5.0
"""Seconds a client may take to send its request, and a child to hear the client's `G`."""


def fingerprint() -> str:
    """Sizes and modification times of every file of the package, with the Python executable and version.

    The modification time of each site-packages folder is part of it too: installing, removing or upgrading a
    distribution (SQLAlchemy, a crew plugin) adds or removes entries there. (Not every `sys.path` folder: the
    first is the working directory the server started in, where databases come and go.)
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = [sys.executable, sys.version]
    for entry in [*site.getsitepackages(), site.getusersitepackages()]:
        if os.path.isdir(entry):
            parts.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".tmp")):
                continue
            st = os.stat(os.path.join(folder, name))
            parts.append(f"{folder}/{name}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


def idle_seconds() -> float:
    """`VENTUREGATE_CLI_SERVER_IDLE`: seconds without a request after which the server exits (default 600)."""
    try:
        return max(0.1, float(os.environ.get("VENTUREGATE_CLI_SERVER_IDLE", DEFAULT_IDLE)))
    except ValueError:
        return DEFAULT_IDLE


def log(message: str) -> None:
    """One line in the server's log (its stdout)."""
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {message}", flush=True)


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(min(size - len(data), 1 << 16))
        if not chunk:
            raise ConnectionError("the client closed the connection mid-request")
        data += chunk
    return data


def _peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (Linux `SO_PEERCRED`)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _streams() -> None:
    """New `sys.stdin/stdout/stderr` on the client's descriptors 0/1/2 (line-buffered on a terminal)."""
    encoding, errors = sys.stdout.encoding, sys.stdout.errors
    sys.stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding=encoding, errors=errors, line_buffering=os.isatty(1)
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding=encoding, errors="backslashreplace", line_buffering=True
    )


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    sys.stderr.write(f"{exc.code}\n")
    return 1


class Server:
    """One user's CLI server for one installation."""

    def __init__(self, command: Any) -> None:
        self.command = command
        self.where = paths()
        self.fingerprint = fingerprint()
        self.idle = idle_seconds()
        self.children: dict[int, socket.socket] = {}
        self.listener: socket.socket | None = None
        self.lock_fd = -1
        self.inode = 0
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.started = time.time()
        self.served = 0
        self.child_cpu = 0.0
        """CPU seconds (user + system) of the finished children, for `cli-server status` and the benchmark."""

    # -- lifetime -----------------------------------------------------------------------------------
    def claim(self) -> bool:
        """Take the lock and the socket path; False when another server holds them (or the folder is not private)."""
        os.makedirs(self.where["dir"], mode=0o700, exist_ok=True)
        problem = private_problem(self.where["dir"], kind="dir")
        if problem is not None:
            log(f"refusing to serve: {problem}")
            return False
        self.lock_fd = os.open(self.where["lock"], os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("another server holds the lock")
            os.close(self.lock_fd)
            return False
        partial = f"{self.where['socket']}.{os.getpid()}"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(partial)
        os.chmod(partial, 0o600)
        listener.listen(64)
        os.replace(partial, self.where["socket"])  # atomically replaces a dead server's socket
        self.inode = os.stat(self.where["socket"]).st_ino
        self.listener = listener
        return True

    def release(self) -> None:
        """Stop taking requests: remove our socket (not a newer server's), close it, release the lock."""
        if self.listener is None:
            return
        try:
            if os.stat(self.where["socket"]).st_ino == self.inode:
                os.unlink(self.where["socket"])
        except OSError:
            pass
        self.listener.close()
        self.listener = None
        os.close(self.lock_fd)

    def serve(self) -> None:
        """Answer requests until idle, stopped or stale, then wait for the running commands."""
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, lambda signum, frame: self.release())
        last = time.monotonic()
        log(f"serving {self.where['socket']} (idle timeout {self.idle:g} s)")
        while self.listener is not None or self.children:
            waiting = [self.wake_r] + ([self.listener] if self.listener is not None else [])
            timeout = None if self.children else max(0.0, last + self.idle - time.monotonic())
            if timeout == 0.0:
                log("idle: exiting")
                self.release()
                break
            try:
                ready, _, _ = select.select(waiting, [], [], timeout)
            except InterruptedError:
                continue
            if self.wake_r in ready:
                os.read(self.wake_r, 512)
            if self.reap():
                last = time.monotonic()  # the idle time counts from the end of the last command
            if self.listener is not None and self.listener in ready:
                conn, _ = self.listener.accept()
                last = time.monotonic()
                try:
                    self.handle(conn)
                except Exception as exc:  # a bad request must not take the server (and its children's reports) down
                    log(f"request dropped: {exc!r}")
                    conn.close()
        log("exited")

    def reap(self) -> int:
        """Collect finished children (how many); report one killed by a signal (one that exits reports itself)."""
        reaped = 0
        while self.children:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            reaped += 1
            self.child_cpu += usage.ru_utime + usage.ru_stime
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            if os.WIFSIGNALED(status):
                with contextlib.suppress(OSError):  # the client is gone
                    conn.sendall(f"X{128 + os.WTERMSIG(status)}\n".encode())
            conn.close()
        return reaped

    # -- requests -----------------------------------------------------------------------------------
    def handle(self, conn: socket.socket) -> None:
        """Read one request; answer a control command, or fork a child for a run."""
        conn.settimeout(REQUEST_TIMEOUT)
        if _peer_uid(conn) != os.getuid():
            log("refused a connection from another user")
            conn.close()
            return
        header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
        try:
            header += _recv_exactly(conn, HEADER.size - len(header)) if len(header) < HEADER.size else b""
            magic, size = HEADER.unpack(header)
            body = _recv_exactly(conn, size)
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        if magic == MAGIC_CONTROL:
            for fd in fds:
                os.close(fd)
            self.control(conn, body.decode())
            return
        if magic != MAGIC_RUN or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            raise ValueError("not a run request")
        fields = body.split(b"\0")
        if threading.active_count() > 1:  # no thread may cross a fork; something started one: stop serving
            log(f"{threading.active_count()} threads: exiting (the client runs the command itself)")
            self.stale(conn, fds)
            return
        if fields[0] != identity() or fingerprint() != self.fingerprint:
            log("the code changed: exiting (the client runs the command itself)")
            self.stale(conn, fds)
            return
        self.served += 1
        sys.stdout.flush()  # nothing of the log may reach the client's terminal through a buffer the child inherits
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self.child(conn, fields, fds)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn

    def stale(self, conn: socket.socket, fds: list[int]) -> None:
        """Stop serving, and tell the client to run its command itself (`S`)."""
        for fd in fds:
            os.close(fd)
        self.release()
        conn.sendall(b"S\n")
        conn.close()

    def control(self, conn: socket.socket, command: str) -> None:
        """`status` or `stop`."""
        if command == "stop":
            self.release()
            conn.sendall(f"stopping server {os.getpid()}\n".encode())
        else:
            up = time.time() - self.started
            conn.sendall(
                f"server {os.getpid()} up {up:.0f} s, {self.served} command(s), {len(self.children)} running, "
                f"children's CPU {self.child_cpu:.3f} s, idle timeout {self.idle:g} s, "
                f"socket {self.where['socket']}\n".encode()
            )
        conn.close()

    def child(self, conn: socket.socket, fields: list[bytes], fds: list[int]) -> None:
        """In the forked child: become the client's command, run it, report its exit code; never returns."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if self.listener is not None:
                self.listener.close()
            os.close(self.lock_fd)
            os.close(self.wake_r)
            os.close(self.wake_w)
            for other in self.children.values():
                other.close()
            os.setpgid(0, 0)  # its own process group: the client's signals reach whatever the command starts too
            conn.sendall(f"P{os.getpid()}\n".encode())
            if conn.recv(1) != b"G":  # the client gave up (and runs the command itself)
                os._exit(0)
            conn.settimeout(None)
            cwd, umask, argc = os.fsdecode(fields[1]), int(fields[2]), int(fields[3])
            argv = [os.fsdecode(a) for a in fields[4 : 4 + argc]]
            env = dict(item.split(b"=", 1) for item in fields[4 + argc :] if b"=" in item)
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            _streams()
            os.environb.clear()
            os.environb.update(env)
            time.tzset()
            os.umask(umask)
            os.chdir(cwd)
            sys.argv = argv
            from venturegate.cli.app import main
            from venturegate.cli.context import attach_terminal

            attach_terminal()
            try:
                main(self.command)
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc)
            except KeyboardInterrupt:
                code = 130
        except KeyboardInterrupt:  # forwarded before the command started (it then never does)
            code = 130
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):  # the terminal may be gone; the exit code still goes back
                    stream.flush()
            try:
                conn.sendall(f"X{code}\n".encode())
            finally:
                os._exit(code)


def warm() -> Any:
    """Import and build everything a command needs but a database (the root group, fully built)."""
    import importlib

    for name in ("sqlalchemy.dialects.sqlite.pysqlite", "sqlalchemy.dialects.postgresql.psycopg", "typer.rich_utils"):
        importlib.import_module(name)  # what `connect` and help/error output import on first use
    from venturegate.cli.app import root
    from venturegate.definitions.cache import cached_workflow

    group = root()
    group.load_all()
    try:
        cached_workflow()  # fills the workflow cache and imports what unpickling it needs
    except Exception as exc:  # a broken cache folder: every command reports it itself
        log(f"could not warm the workflow cache: {exc}")
    gc.collect()
    gc.freeze()  # keep the imported objects out of the children's collections (fewer copied pages)
    return group


def main() -> None:
    """Run a server in the foreground (the client starts it in the background)."""
    server = Server(None)
    if not server.claim():
        return
    try:
        server.command = warm()
        server.serve()
    finally:
        server.release()


if __name__ == "__main__":
    main()
