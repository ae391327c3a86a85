"""`make demo`'s last step: serve the demo workspace's dashboard and print where, with a Chairman token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from venturegate.engine import Actor, Engine

DB_FILE = "venturegate.db"
"""The demo workspace's database file (venturegate.demo writes it)."""


def demo_token(engine: Engine, now: datetime | None = None) -> tuple[str, str]:
    """Create a Chairman token for the demo workspace; returns its name and its secret (shown only once)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    token, secret = engine.create_token(f"demo-chairman-{stamp}", "chairman", actor=Actor("demo", "chairman"))
    return token.name, secret


def serve_demo(folder: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the workspace in `folder` (dashboard, API, in-process worker) until Ctrl-C, printing URL and token."""
    import uvicorn

    from venturegate.api import create_app

    db_path = folder.expanduser().resolve() / DB_FILE
    if not db_path.is_file():
        raise FileNotFoundError(f"no demo workspace database at {db_path}: run `venturegate demo` first")
    engine = Engine.open(f"sqlite:///{db_path}")
    name, secret = demo_token(engine)
    shown = f"[{host}]" if ":" in host else host
    print(f"dashboard  http://{shown}:{port}/  (Ctrl-C stops it)")
    print(f"log in     with the token below (name {name}, role chairman; shown only now):")
    print(secret, flush=True)
    app = create_app(engine, worker=True, queue_url=f"sqlite:///{db_path.parent / 'queue.db'}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        engine.db.dispose()
