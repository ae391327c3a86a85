"""The `venturegate` entry point: hand the command to the warm CLI server, else run it here (and start one).

Importing the CLI, the engine, SQLAlchemy and pydantic costs far more than a simple read's own work, so a
per-user server (`venturegate.cli.server`) keeps them imported and forks a child per command. This module is
what every call pays before that, so it imports only the standard library's cheapest modules: it sends the
argv, working directory, environment and umask, passes its stdin/stdout/stderr with SCM_RIGHTS (the command
writes straight to the terminal), forwards SIGINT/SIGTERM to the child and exits with the child's code.

Exactly once: the child runs only after it has told this client its pid and the client has answered `G`.
Anything that goes wrong before that (no server, a stale one, a refused or dead connection, a timeout) means
the command runs in this process instead; once the client has said `G`, it never runs the command again.
`VENTUREGATE_CLI_SERVER=0` turns the server off.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import sys
import zlib

MAGIC_RUN = b"VGR1"
MAGIC_CONTROL = b"VGC1"
HEADER = struct.Struct("!4sI")
"""Every request starts with a magic and the length of what follows."""
PID_TIMEOUT = 10.0
"""Seconds the client waits for the server's child to say its pid before running the command itself."""
MAX_SOCKET_PATH = 107
"""Bytes in a Unix socket's path (Linux `sun_path` holds 108 with the terminating NUL)."""
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Unusable(Exception):
    """The server cannot be used for this command (the command then runs in-process)."""


class Interrupted(Unusable):
    """SIGINT/SIGTERM/SIGHUP came before the command started: it runs nowhere, and the client exits `code`."""

    def __init__(self, why: str, code: int) -> None:
        super().__init__(why)
        self.code = code


def identity() -> bytes:
    """What a server must share with its clients: the Python executable and version and the package folder."""
    return os.fsencode(f"{sys.executable}\n{sys.version}\n{PACKAGE}")


def server_dir() -> str:
    """The per-user folder of the CLI server's socket, lock and log (in the cache folder)."""
    base = os.environ.get("VENTUREGATE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "venturegate")
    return os.path.join(base, "cli-server")


def paths() -> dict[str, str]:
    """The socket, lock and log file of the server for this Python and this installation."""
    folder = server_dir()
    name = f"{zlib.crc32(identity()):08x}"
    return {
        "dir": folder,
        "socket": os.path.join(folder, name + ".sock"),
        "lock": os.path.join(folder, name + ".lock"),
        "log": os.path.join(folder, name + ".log"),
    }


def private_problem(path: str, *, kind: str) -> str | None:
    """Why `path` (the server folder, or its socket) must not be trusted, or None when it is this user's own."""
    st = os.lstat(path)
    if kind == "dir" and not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a folder"
    if kind == "socket" and not stat.S_ISSOCK(st.st_mode):
        return f"{path} is not a socket"
    if st.st_uid != os.getuid():
        return f"{path} belongs to uid {st.st_uid}, not to this user ({os.getuid()})"
    if kind == "dir" and st.st_mode & 0o077:
        return f"{path} is open to other users (mode {stat.S_IMODE(st.st_mode):o}; expected 700)"
    return None


def connect(where: dict[str, str], timeout: float = PID_TIMEOUT) -> socket.socket:
    """A connection to this user's server; `FileNotFoundError`/`ConnectionError` when none runs.

    Raises `Unusable` when the folder or the socket is not this user's own (the command must not go there).
    """
    if len(os.fsencode(where["socket"])) > MAX_SOCKET_PATH:
        raise Unusable(f"{where['socket']} is too long for a Unix socket (set VENTUREGATE_CACHE_DIR shorter)")
    for path, kind in ((where["dir"], "dir"), (where["socket"], "socket")):
        problem = private_problem(path, kind=kind)
        if problem is not None:
            raise Unusable(problem)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(where["socket"])
    except BaseException:
        sock.close()
        raise
    return sock


def control(command: str, timeout: float = 5.0) -> str:
    """Send a control command (`status`, `stop`) to the server and return its one-line answer."""
    with connect(paths(), timeout) as sock:
        body = command.encode()
        sock.sendall(HEADER.pack(MAGIC_CONTROL, len(body)) + body)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode().strip()


def request(argv: list[str]) -> bytes:
    """The body of a run request: identity, cwd, umask, argv and the environment, NUL-separated."""
    umask = os.umask(0o22)
    os.umask(umask)
    fields = [identity(), os.fsencode(os.getcwd()), str(umask).encode(), str(len(argv)).encode()]
    fields += [os.fsencode(a) for a in argv]
    fields += [k + b"=" + v for k, v in os.environb.items()]
    return b"\0".join(fields)


def run_on_server(sock: socket.socket, argv: list[str]) -> int:
    """Have the server run `argv`; its exit code. Raises `Unusable` when the command did not start there."""
    import signal

    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            raise Unusable(f"file descriptor {fd} is closed") from None
    body = request(argv)
    try:
        socket.send_fds(sock, [HEADER.pack(MAGIC_RUN, len(body))], [0, 1, 2])
        sock.sendall(body)
    except OSError as exc:
        raise Unusable(f"the server did not take the command ({exc})") from None
    child = 0
    pending: list[int] = []

    def forward(signum: int, frame: object) -> None:
        if child:
            try:  # noqa: SIM105 - contextlib would cost every call an import
                os.killpg(child, signum)  # the child leads its own process group, as a shell's job would
            except ProcessLookupError:  # it has just ended
                pass
        else:
            pending.append(signum)

    def not_started(why: str) -> Unusable:
        # interrupted before the command started: it must not start at all, here or there
        return Interrupted(why, 128 + pending[0]) if pending else Unusable(why)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        buffer = b""
        while True:
            try:
                data = sock.recv(4096)
            except OSError as exc:
                if not child:
                    raise not_started(f"no answer from the server ({exc})") from None
                sys.stderr.write(f"venturegate: lost the CLI server before the command ended ({exc})\n")
                return 1
            if not data:
                if not child:
                    raise not_started("the server closed the connection before the command started")
                sys.stderr.write("venturegate: the CLI server went away before the command ended\n")
                return 1
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                kind, value = line[:1], line[1:]
                if kind == b"S":
                    raise not_started("stale")
                if kind == b"P" and not child:
                    if pending:  # without `G` the child ends without running the command
                        raise not_started("interrupted")
                    child = int(value)  # from here on, a signal goes to the child
                    try:
                        sock.sendall(b"G")
                    except OSError as exc:  # the child never heard `G`, so it never ran the command
                        child = 0
                        raise not_started(f"the server's child went away ({exc})") from None
                    sock.settimeout(None)  # the command has started: wait for it, however long it takes
                    for signum in pending:  # came between the check above and `child` being set
                        forward(signum, None)
                if kind == b"X":
                    return int(value)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def spawn_server(where: dict[str, str]) -> None:
    """Start a server in the background for the next command (detached; its output goes to its log)."""
    try:
        os.makedirs(where["dir"], mode=0o700, exist_ok=True)
        if private_problem(where["dir"], kind="dir"):
            return
        log = os.open(where["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        return
    try:
        if os.fstat(log).st_size > 1_000_000:
            os.ftruncate(log, 0)
        pid = os.fork()
        if pid == 0:  # a double fork: the server is nobody's child here and never a zombie of this client
            try:
                os.setsid()
                if os.fork() == 0:
                    null = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(null, 0)
                    os.dup2(log, 1)
                    os.dup2(log, 2)
                    os.execv(sys.executable, [sys.executable, "-m", "venturegate.cli.server"])
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    finally:
        os.close(log)


def in_process(*, start: dict[str, str] | None = None) -> None:
    """Run the command in this process (after starting a server in the background when `start` is given)."""
    if start is not None:
        spawn_server(start)
    from venturegate.cli.app import main as app_main

    app_main()


IN_PROCESS = frozenset({"serve", "worker", "cli-server"})
"""Commands that always run in the client's own process: the services (a supervisor such as systemd must see,
signal and account for the process that does the work) and the server's own management."""
GLOBAL_OPTIONS = frozenset({"--db", "--workflow", "--as"})
"""The root's options that take a value."""


def command_name(argv: list[str]) -> str | None:
    """The top-level command `argv` names (after the global options), if any."""
    args = iter(argv[1:])
    for arg in args:
        if arg in GLOBAL_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def main() -> None:
    """Console-script entry point."""
    if os.environ.get("VENTUREGATE_CLI_SERVER", "1") == "0" or command_name(sys.argv) in IN_PROCESS:
        in_process()
        return
    where = paths()
    try:
        sock = connect(where)
    except Unusable as exc:
        sys.stderr.write(f"venturegate: not using the CLI server: {exc}\n")
        in_process()
        return
    except OSError:  # no server (no folder, no socket, refused): run here, and have one next time
        in_process(start=where)
        return
    try:
        with sock:
            code = run_on_server(sock, sys.argv)
    except Interrupted as exc:
        sys.exit(exc.code)
    except Unusable as exc:
        in_process(start=where if str(exc) == "stale" else None)
        return
    sys.exit(code)


if __name__ == "__main__":
    main()
