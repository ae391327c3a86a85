"""Alembic owns the schema: migrations produce exactly the tables the code describes, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.command import downgrade, upgrade
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from tests.conftest import MINI
from venturegate.definitions.loader import load_workflow
from venturegate.store.database import MIGRATIONS, connect, current_revision, ensure_schema, head_revision
from venturegate.store.schema import (
    escalation_numbers,
    escalations,
    metadata,
    samples,
    stage_modes,
    stage_runs,
    ventures,
    workflow_versions,
)


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


def test_escalation_numbers_carry_on_after_existing_codes(db_url: str) -> None:
    """Migration 0012 seeds each stage's counter with its highest code, gaps included."""
    engine = connect(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        upgrade(cfg, "0011")
        conn.execute(
            insert(workflow_versions).values(digest="d", workflow_id="w", version="1", document={}, created_at=now)
        )
        vid = conn.execute(
            insert(ventures)
            .values(
                name="v", segment="s", workflow_digest="d", stage=3, status="paused", created_at=now, updated_at=now
            )
            .returning(ventures.c.id)
        ).scalar_one()
        esc = {"venture_id": vid, "role": "chairman", "status": "open", "reason": "r", "history": [], "created_at": now}
        conn.execute(
            insert(escalations),
            [esc | {"code": f"SD-{s}-ESCALATION-{n}", "stage": s} for s, n in [(3, 1), (3, 4), (5, 2)]],
        )
    ensure_schema(engine)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(escalation_numbers.c.stage, escalation_numbers.c.last))) == [
            (3, 4),
            (5, 2),
        ]
    engine.dispose()


def test_sample_keys_are_unique_per_venture_through_a_partial_index(db_url: str) -> None:
    engine = connect(db_url)
    ensure_schema(engine)
    index = next(i for i in inspect(engine).get_indexes("samples") if i["name"] == "uq_samples_venture_id_sample_key")
    assert (index["column_names"], bool(index["unique"])) == (["venture_id", "sample_key"], True)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(workflow_versions).values(digest="d", workflow_id="w", version="1", document={}, created_at=now)
        )
        vid = conn.execute(
            insert(ventures)
            .values(
                name="v", segment="s", workflow_digest="d", stage=1, status="active", created_at=now, updated_at=now
            )
            .returning(ventures.c.id)
        ).scalar_one()
    row = {"venture_id": vid, "metric": "m", "value": 1.0, "at": now, "actor": "a", "recorded_at": now}
    with engine.begin() as conn:  # samples without a key never conflict
        conn.execute(
            insert(samples), [row | {"sample_key": None}, row | {"sample_key": None}, row | {"sample_key": "k"}]
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(samples), [row | {"sample_key": "k"}])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(samples)).scalar_one() == 3
    engine.dispose()


def _at_head_with_runs(db_url: str, document: dict[str, Any]) -> tuple[Engine, Config]:
    """A database at head: a workflow version, stage 3's stage-wide row (2 successes, 1 failure), and runs
    appended since the last fold: stage 3 two successes and a failure, stage 5 (no stage-wide row) one success."""
    engine = connect(db_url)
    ensure_schema(engine)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(workflow_versions).values(
                digest="d", workflow_id="w", version="1", document=document, created_at=now
            )
        )
        conn.execute(insert(stage_modes).values(venture_id=0, stage=3, mode="assisted", successes=2, failures=1))
        conn.execute(
            insert(stage_runs),
            [{"stage": 3, "success": True}, {"stage": 3, "success": False}, {"stage": 5, "success": True}],
        )
        conn.execute(insert(stage_runs).values(stage=3, success=True))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return engine, cfg


def _modes(engine: Engine) -> list[tuple[int, int, str, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(stage_modes).order_by(stage_modes.c.stage, stage_modes.c.venture_id))
        return [(r.venture_id, r.stage, r.mode, r.successes, r.failures) for r in rows]


def test_downgrade_below_0012_carries_the_appended_progression_runs(db_url: str) -> None:
    document = load_workflow(MINI).document
    default = load_workflow(MINI).workflow.progression_for(5).mode
    engine, cfg = _at_head_with_runs(db_url, document)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        downgrade(cfg, "0011")
    assert current_revision(engine) == "0011" and "stage_runs" not in inspect(engine).get_table_names()
    # Stage 3: its row plus the two successes and the failure; stage 5: a row in the workflow's default mode.
    assert _modes(engine) == [(0, 3, "assisted", 4, 2), (0, 5, default, 1, 0)]
    ensure_schema(engine)  # and up again: the counts stay, nothing is pending
    assert _modes(engine) == [(0, 3, "assisted", 4, 2), (0, 5, default, 1, 0)]
    engine.dispose()


def test_downgrade_below_0012_refuses_when_a_stage_mode_is_unknowable(db_url: str) -> None:
    """Stage 5 has runs but no stage-wide row, and the stored workflow cannot be read: nothing is dropped."""
    engine, cfg = _at_head_with_runs(db_url, {})
    refused = pytest.raises(RuntimeError, match=r"stage 5: 1 appended since the last fold.*progression set")
    with refused, engine.begin() as conn:
        cfg.attributes["connection"] = conn
        downgrade(cfg, "0011")
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(stage_runs)).scalar_one() == 4
    assert _modes(engine) == [(0, 3, "assisted", 2, 1)]
    engine.dispose()
