"""configuration versions, snapshots and the rollback log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("ventures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("config_version", sa.Integer(), server_default="0", nullable=False))

    op.create_table(
        "config_versions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("venture_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("unset", sa.Boolean(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=True),
        sa.Column("change", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["venture_id"], ["ventures.id"], name=op.f("fk_config_versions_venture_id_ventures")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_versions")),
        sa.UniqueConstraint("venture_id", "version", "key", name=op.f("uq_config_versions_venture_id_version_key")),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("venture_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["venture_id"], ["ventures.id"], name=op.f("fk_snapshots_venture_id_ventures")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
    )
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_snapshots_venture_name", ["venture_id", "name"], unique=False)

    op.create_table(
        "rollbacks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("venture_id", _ID, nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("target_version", sa.Integer(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("cause", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("trigger_id", sa.String(length=80), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("handlers", sa.JSON(), nullable=False),
        sa.Column("escalation", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(["venture_id"], ["ventures.id"], name=op.f("fk_rollbacks_venture_id_ventures")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollbacks")),
    )
    with op.batch_alter_table("rollbacks", schema=None) as batch_op:
        batch_op.create_index("ix_rollbacks_venture", ["venture_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rollbacks", schema=None) as batch_op:
        batch_op.drop_index("ix_rollbacks_venture")

    op.drop_table("rollbacks")
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_snapshots_venture_name")

    op.drop_table("snapshots")
    op.drop_table("config_versions")
    with op.batch_alter_table("ventures", schema=None) as batch_op:
        batch_op.drop_column("config_version")
