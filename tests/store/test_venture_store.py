"""The store's venture plumbing on both backends: lookup by id or name (locked or not), the compare-and-set update,
workflow versions stored once, a venture's visits and its one pending timer per (kind, ref)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine as SAEngine
from sqlalchemy import select

from tests.conftest import MINI, T0
from venturegate.definitions.loader import LoadedWorkflow, load_workflow
from venturegate.store import timers, visits, workflow_versions
from venturegate.store.database import connect, ensure_schema
from venturegate.store.schema import timers as timers_table
from venturegate.store.trigger_states import VentureRow
from venturegate.store.ventures import find_venture, insert_venture, update_venture


@pytest.fixture
def db(db_url: str) -> Iterator[SAEngine]:
    engine = connect(db_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def wf() -> LoadedWorkflow:
    return load_workflow(MINI)


def _venture(db: SAEngine, wf: LoadedWorkflow, name: str = "acme") -> VentureRow:
    with db.begin() as conn:
        if not workflow_versions.is_stored(conn, wf.digest):
            workflow_versions.store(conn, wf.digest, wf.workflow.workflow.id, wf.version, wf.document, T0)
        return insert_venture(conn, name, "b2b", wf.digest, 1, T0)


def test_workflow_version_is_stored_once_and_read_back(db: SAEngine, wf: LoadedWorkflow) -> None:
    with db.begin() as conn:
        assert not workflow_versions.is_stored(conn, wf.digest)
        workflow_versions.store(conn, wf.digest, wf.workflow.workflow.id, wf.version, wf.document, T0)
        # A second store of the same version (another process racing) is a no-op, not an error.
        workflow_versions.store(conn, wf.digest, wf.workflow.workflow.id, wf.version, wf.document, T0)
        assert workflow_versions.is_stored(conn, wf.digest)
        assert workflow_versions.document(conn, wf.digest) == wf.document


@pytest.mark.parametrize("lock", [False, True])
def test_a_venture_is_found_by_id_or_name_as_a_typed_row(db: SAEngine, wf: LoadedWorkflow, lock: bool) -> None:
    row = _venture(db, wf)
    with db.begin() as conn:
        by_id = find_venture(conn, row.id, lock=lock)
        by_name = find_venture(conn, "acme", lock=lock)
        assert isinstance(by_id, VentureRow)
        assert by_id == by_name == row
        assert find_venture(conn, row.id + 1, lock=lock) is None
        assert find_venture(conn, "nobody", lock=lock) is None
        assert find_venture(conn, str(row.id), lock=lock) is None  # a str is a name, never an id


def test_the_venture_update_is_a_compare_and_set_on_the_revision(db: SAEngine, wf: LoadedWorkflow) -> None:
    row = _venture(db, wf)
    later = T0 + timedelta(minutes=1)
    with db.begin() as conn:
        assert update_venture(conn, row, later, {"status": "blocked", "status_detail": {"why": "x"}})
        # `row` is now one revision behind: a second writer holding it changes nothing.
        assert not update_venture(conn, row, later, {"status": "completed", "status_detail": None})
        now_row = find_venture(conn, row.id)
    assert now_row is not None
    assert (now_row.status, now_row.status_detail, now_row.revision) == ("blocked", {"why": "x"}, row.revision + 1)
    assert now_row.updated_at == later


def test_opening_a_visit_counts_attempts_and_opens_its_substages(db: SAEngine, wf: LoadedWorkflow) -> None:
    row = _venture(db, wf)
    with db.begin() as conn:
        assert visits.current_visit(conn, row.id) is None
        assert visits.attempts(conn, row.id, 1) == 0
        first = visits.open_visit(conn, row.id, 1, 1, T0, "created", ["a", "b"])
        visits.close(conn, first, T0 + timedelta(hours=1), "recursed")
        second = visits.open_visit(conn, row.id, 1, 2, T0 + timedelta(hours=1), "again", [])
        assert visits.attempts(conn, row.id, 1) == 2
        current = visits.current_visit(conn, row.id)
        assert isinstance(current, visits.VisitRow)
        assert (current.id, current.attempt, current.reason, current.exited_at) == (second, 2, "again", None)
        opened = sorted((s.substage, s.status, s.items) for s in visits.substage_rows(conn, first))
        assert opened == [("a", "open", []), ("b", "open", [])]


def test_a_venture_has_one_pending_timer_per_kind_and_ref(db: SAEngine, wf: LoadedWorkflow) -> None:
    row = _venture(db, wf)
    due, later = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    with db.begin() as conn:
        timers.schedule(conn, row.id, "trigger", "t1", due)
        timers.schedule(conn, row.id, "trigger", "t1", due)  # unchanged: no second row
        timers.schedule(conn, row.id, "trigger", "t1", later)  # moved
        timers.schedule(conn, row.id, "approval", "t1", due)  # another kind: its own row
        got = sorted(
            (r.kind, r.ref, r.due_at)
            for r in conn.execute(select(timers_table).where(timers_table.c.venture_id == row.id))
        )
    assert got == [("approval", "t1", due), ("trigger", "t1", later)]
