"""Alembic owns the schema: migrations produce exactly the tables the code describes, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.command import upgrade
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from venturegate.store.database import MIGRATIONS, connect, current_revision, ensure_schema, head_revision
from venturegate.store.schema import metadata


def test_migrations_match_the_schema(db_url: str) -> None:
    engine = connect(db_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_from_first_revision_keeps_data(db_url: str) -> None:
    engine = connect(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        upgrade(cfg, "0001")
    assert current_revision(engine) == "0001"
    assert "trigger_state" not in inspect(engine).get_table_names()
    ensure_schema(engine)
    assert current_revision(engine) == head_revision()
    assert {"trigger_state", "escalations", "timers", "stage_modes"} <= set(inspect(engine).get_table_names())
    engine.dispose()
