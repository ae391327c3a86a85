"""sample keys: a partial unique index (only samples that carry a key)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NAME = "uq_samples_venture_id_sample_key"
KEYED = "sample_key IS NOT NULL"


def upgrade() -> None:
    # A sample without a key needs no entry in the unique index (NULLs never conflict): one page fewer written
    # per unkeyed sample. SQLite cannot drop a table constraint, so batch mode rebuilds `samples` there.
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_="unique")
        batch_op.create_index(
            NAME,
            ["venture_id", "sample_key"],
            unique=True,
            sqlite_where=sa.text(KEYED),
            postgresql_where=sa.text(KEYED),
        )


def downgrade() -> None:
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_index(NAME)
        batch_op.create_unique_constraint(NAME, ["venture_id", "sample_key"])
