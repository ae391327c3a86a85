"""What the HTTP benchmarks share: a scratch database and a `venturegate serve --no-worker` process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def scratch_database(postgres: str | None) -> Iterator[str]:
    """A fresh SQLite file, or a scratch schema of `postgres` dropped afterwards."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in postgres else "?"
        yield f"{postgres}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def serving(
    db_url: str, env: dict[str, str] | None = None, *, log_prefix: str = "vg-bench-"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`venturegate serve --no-worker` on a free loopback port: its base URL and process, stopped afterwards.

    The server's log goes to a temporary file whose tail is printed to stderr if the block fails.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "venturegate.cli.app", "--db", db_url, "serve", "--no-worker", "--port", str(port)]
    log = Path(tempfile.mkstemp(prefix=log_prefix, suffix=".log")[1])
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", proc
    except Exception:
        sys.stderr.write(log.read_text(encoding="utf-8", errors="replace")[-4000:])
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=15)
