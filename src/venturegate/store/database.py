"""Connecting to the store: SQLite by default (WAL, serialized writers), PostgreSQL by URL; migrations.

SQLite writers queue on one lock (`BEGIN IMMEDIATE`). SQLite's own busy handler waits in ever longer
sleeps (up to 100 ms each), so a waiter that has already waited long polls least often and a writer
that just committed wins the lock again: one call waited 29.9 s behind five busy peers. Here the
driver waits only `DRIVER_WAIT_MS` per attempt, and `begin_immediate` retries with jittered,
exponential backoff whose ceiling shrinks the longer a writer has waited (so the oldest waiter polls
most often), until the busy timeout (`VENTUREGATE_SQLITE_BUSY_TIMEOUT`, seconds); then it raises a
clear "database is locked" error and nothing was changed.

PostgreSQL connections are pooled. A pooled connection whose server ended it while it sat idle (a terminated
backend, a restart) is replaced at checkout, unseen (`_replace_if_the_server_spoke`).
"""

from __future__ import annotations

import functools
import os
import random
import re
import select
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, InvalidatePoolError

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_DIR = ".venturegate"
DEFAULT_FILE = "venturegate.db"
MIGRATIONS = Path(__file__).parent / "migrations"
WAL_CHECKPOINT_BYTES = 16 * 1024 * 1024
"""SQLite: WAL size after which a commit checkpoints (the default is 1000 pages, 4 MB at 4 KB pages)."""
NEW_PAGE_SIZE = 1024
"""SQLite: the page size of a database file created by this code (existing files keep theirs)."""
BUSY_TIMEOUT_ENV = "VENTUREGATE_SQLITE_BUSY_TIMEOUT"
DEFAULT_BUSY_TIMEOUT = 30.0
"""SQLite: seconds a writer may wait for the write lock before its call fails (nothing changed)."""
DRIVER_WAIT_MS = 5
"""SQLite: how long the driver itself waits on a held lock per attempt (its handler polls at 0, 1, 3 ms)."""


class SQLiteConnection(sqlite3.Connection):
    """The driver connection, carrying how long `begin_immediate` may wait for the write lock in total."""

    busy_timeout: float = DEFAULT_BUSY_TIMEOUT


def busy_timeout_from_env() -> float:
    """`VENTUREGATE_SQLITE_BUSY_TIMEOUT` (seconds, > 0), else 30."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_BUSY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{BUSY_TIMEOUT_ENV}={raw!r} must be a number of seconds above 0")
    return value


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY or "locked" in str(exc)


def backoff(attempt: int, waited: float) -> float:
    """Seconds to sleep before attempt `attempt` + 1: full jitter under a ceiling that shrinks as `waited` grows."""
    ceiling = 0.025 if waited < 0.5 else 0.01 if waited < 2.0 else 0.003
    return random.uniform(0.0, min(ceiling, 0.001 * 2 ** min(attempt, 10)))


def begin_immediate(driver: sqlite3.Connection) -> None:
    """Take the write lock, retrying with backoff and jitter until the connection's busy timeout runs out."""
    try:
        driver.execute("BEGIN IMMEDIATE")
        return
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
    budget = getattr(driver, "busy_timeout", DEFAULT_BUSY_TIMEOUT)
    start = time.monotonic()
    attempt = 0
    while True:
        waited = time.monotonic() - start
        if waited >= budget:
            raise sqlite3.OperationalError(
                f"database is locked: no write lock after {waited:.1f} s (busy timeout {budget:g} s, "
                f"{BUSY_TIMEOUT_ENV}); other writers held it; nothing was changed, retry"
            )
        attempt += 1
        time.sleep(min(backoff(attempt, waited), budget - waited))
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise


def default_url(workdir: Path | None = None) -> str:
    """`VENTUREGATE_DATABASE_URL`, else the workspace SQLite file under the working directory."""
    env = os.environ.get("VENTUREGATE_DATABASE_URL")
    if env:
        return env
    base = (workdir or Path.cwd()) / DEFAULT_DIR
    return f"sqlite:///{base / DEFAULT_FILE}"


def _sqlite_setup(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        # A new file gets 1 KB pages (the default is 4 KB): a commit appends each page it changed to the WAL and
        # checksums it, and the hot transactions change a few rows in many tables, so smaller pages mean about a
        # third of the bytes written and checksummed per commit. A database that has pages keeps its size (the
        # pragma would only apply after a VACUUM, which WAL mode refuses to resize); see docs/decisions.md.
        if cur.execute("PRAGMA page_count").fetchone()[0] == 0:
            cur.execute(f"PRAGMA page_size={NEW_PAGE_SIZE}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every 16 MB of WAL (4000 pages of 4 KB, 16000 of 1 KB) instead of 1000 pages: a checkpoint
        # copies each page once however often it changed, so hot pages (the tails of samples and events) are
        # copied less often, and its two fsyncs come less often. Commits are as durable as before
        # (docs/decisions.md).
        page_size = cur.execute("PRAGMA page_size").fetchone()[0]
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_BYTES // page_size}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={DRIVER_WAIT_MS}")  # the rest of the wait is `begin_immediate`'s
        cur.close()
        dbapi_connection.busy_timeout = busy_timeout

    def _begin(connection: Any) -> None:
        # Writers queue on the database lock up front instead of failing on upgrade from a read lock.
        # The dialect's own begin hook on this engine's dialect instance rather than a "begin" event listener:
        # it runs once per transaction and the event dispatch cost about as much as the statement.
        # A driver transaction already open is one `store.transactions` began: SQLAlchemy's joins it.
        driver = connection.driver_connection
        if not driver.in_transaction:
            begin_immediate(driver)

    engine.dialect.do_begin = _begin  # type: ignore[method-assign,assignment]


def connect(url: str | None = None) -> Engine:
    """An engine for `url` (the default workspace database when None); SQLite files get their folder."""
    url = url or default_url()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": DRIVER_WAIT_MS / 1000, "check_same_thread": False, "factory": SQLiteConnection},
        )
        _sqlite_setup(engine, busy_timeout_from_env())
        return engine
    engine = create_engine(url)
    event.listen(engine, "checkout", functools.partial(_replace_if_the_server_spoke, engine))
    return engine


def _replace_if_the_server_spoke(engine: Engine, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """At checkout: ping a pooled connection only when its socket has something to read, and replace it (and
    every connection pooled before it) when the ping fails.

    An idle connection has nothing to read unless the server wrote to it: when a backend is terminated or the
    server shuts down, it sends its FATAL error and closes the socket. Checking the socket costs a system call;
    SQLAlchemy's `pool_pre_ping` pings on every checkout, one round trip per transaction (about 10 % of a
    one-sample transaction's time). A connection cut without a word (a network partition) is not seen here:
    its first statement fails, which the engine reports as `StoreUnavailable` and runs once more
    (`store.transactions`).
    """
    lost = engine.dialect.loaded_dbapi.Error
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        if not poller.poll(0):
            return
        engine.dialect.do_ping(dbapi_connection)
    except (OSError, ValueError, lost) as exc:  # a closed socket, or the ping failed
        raise InvalidatePoolError(f"pooled connection lost: {exc}") from exc


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    """Migrate the database to the newest schema (creating it when empty)."""
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None when it was never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest schema revision this code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


_REVISION = re.compile(r'^revision = "([^"]+)"\s*$|^down_revision = (?:"([^"]+)"|None)\s*$', re.M)


@functools.cache
def _head_from_files() -> str | None:
    """The single head of the migration chain read from the files' `revision` lines (None: ask Alembic)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for rev, parent in _REVISION.findall(path.read_text(encoding="utf-8")):
            if rev:
                revisions.add(rev)
            if parent:
                parents.add(parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """The revision in `alembic_version`, read with one query (None when the table is missing or empty).

    On SQLite the query runs on the driver outside a transaction: SQLAlchemy's begin takes the write lock
    (`BEGIN IMMEDIATE`), and opening the store must not wait for (or fail on) a writer that holds it.
    """
    query = "SELECT version_num FROM alembic_version"
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                driver = conn.connection.dbapi_connection
                assert driver is not None
                row = driver.execute(query).fetchone()
                return None if row is None else str(row[0])
            return conn.execute(text(query)).scalar()
    except (DBAPIError, sqlite3.Error):
        return None


def ensure_schema(engine: Engine) -> None:
    """Migrate on first use, so that a new workspace needs no setup step."""
    head = _head_from_files()
    if head is not None and _stored_revision(engine) == head:
        return  # the common case, without importing Alembic
    if current_revision(engine) != head_revision():
        upgrade(engine)
