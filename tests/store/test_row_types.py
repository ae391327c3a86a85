"""Each typed row of the store has the fields of its table, in column order (they are built with `_make`)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Table

from venturegate.store import schema
from venturegate.store.approvals import ApprovalRow
from venturegate.store.artifacts import ArtifactRow
from venturegate.store.configuration import ConfigVersionRow, SnapshotRow
from venturegate.store.error_log import ErrorRow
from venturegate.store.escalations import EscalationRow
from venturegate.store.events import EventRow, StoredEventRow
from venturegate.store.jobs import JobRow
from venturegate.store.outbox import OutboxRow
from venturegate.store.rollbacks import RollbackRow
from venturegate.store.samples import SampleRow
from venturegate.store.stage_modes import ModeRow
from venturegate.store.timers import TimerRow
from venturegate.store.tokens import TokenRow
from venturegate.store.trigger_states import VentureRow
from venturegate.store.visits import SubstageRow, VisitRow

ROWS: list[tuple[Any, Table]] = [
    (ApprovalRow, schema.approvals),
    (ArtifactRow, schema.artifacts),
    (ConfigVersionRow, schema.config_versions),
    (SnapshotRow, schema.snapshots),
    (ErrorRow, schema.error_log),
    (EscalationRow, schema.escalations),
    (EventRow, schema.events),
    (StoredEventRow, schema.events),
    (JobRow, schema.jobs),
    (OutboxRow, schema.outbox),
    (RollbackRow, schema.rollbacks),
    (SampleRow, schema.samples),
    (ModeRow, schema.stage_modes),
    (TimerRow, schema.timers),
    (TokenRow, schema.api_tokens),
    (VentureRow, schema.ventures),
    (VisitRow, schema.stage_visits),
    (SubstageRow, schema.substage_status),
]


@pytest.mark.parametrize(("row", "table"), ROWS, ids=[r.__name__ for r, _ in ROWS])
def test_row_fields_are_the_table_columns_in_order(row: Any, table: Table) -> None:
    assert row._fields == tuple(c.key for c in table.c)
