"""stage_runs (progression counts appended, not updated in place) and escalation_numbers (per-stage code counter)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_CODE = re.compile(r"^SD-(\d+)-ESCALATION-(\d+)$")


def upgrade() -> None:
    op.create_table(
        "stage_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_runs")),
    )
    with op.batch_alter_table("stage_runs", schema=None) as batch_op:
        batch_op.create_index("ix_stage_runs_stage", ["stage"], unique=False)
    numbers = op.create_table(
        "escalation_numbers",
        sa.Column("stage", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stage", name=op.f("pk_escalation_numbers")),
    )
    # Numbering carries on after the highest code each stage already has.
    last: dict[int, int] = {}
    for (code,) in op.get_bind().execute(sa.text("SELECT code FROM escalations")):
        found = _CODE.match(code)
        if found:
            stage, n = int(found[1]), int(found[2])
            last[stage] = max(last.get(stage, 0), n)
    if last:
        op.bulk_insert(numbers, [{"stage": s, "last": n} for s, n in sorted(last.items())])


def downgrade() -> None:
    op.drop_table("escalation_numbers")
    with op.batch_alter_table("stage_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_runs_stage")
    op.drop_table("stage_runs")
