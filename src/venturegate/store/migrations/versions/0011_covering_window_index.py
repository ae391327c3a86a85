"""samples: the window index covers the window reads (venture, metric, at, id, value)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NAME = "ix_samples_venture_metric_at"


def upgrade() -> None:
    # Every window read (latest, the window's ends, count/sum/min/max, the newest n) names only these columns, so
    # both backends answer it from the index alone, in `ORDER BY at, id` order without a sort
    # (docs/decisions.md, "Aggregates from a covering index").
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_index(NAME)
        batch_op.create_index(NAME, ["venture_id", "metric", "at", "id", "value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_index(NAME)
        batch_op.create_index(NAME, ["venture_id", "metric", "at"], unique=False)
