"""stage_runs (progression counts appended, not updated in place) and escalation_numbers (per-stage code counter)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
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


def _default_modes(conn: sa.Connection, stages: set[int]) -> dict[int, str]:
    """Each stage's progression mode where every stored workflow version gives it the same default."""
    from venturegate.definitions.loader import workflow_from_document

    seen: dict[int, set[str]] = {s: set() for s in stages}
    documents = [doc for (doc,) in conn.execute(sa.text("SELECT document FROM workflow_versions"))]
    for doc in documents:
        try:
            wf = workflow_from_document(doc if isinstance(doc, dict) else json.loads(doc)).workflow
        except Exception:  # a document this code cannot read: its defaults are unknown
            return {}
        for s in stages:
            seen[s].add(str(wf.progression_for(s).mode))
    return {s: next(iter(modes)) for s, modes in seen.items() if len(modes) == 1}


def _fold_runs() -> None:
    """Add the runs appended since the last fold into the stage-wide `stage_modes` rows, as the engine's fold
    does (0011 keeps counts there only). A stage with runs but no stage-wide row never changed mode, so it
    is in its workflow's default mode: the row is made with it, if the stored workflow versions agree on it;
    otherwise the downgrade is refused (nothing changed) rather than losing the runs."""
    conn = op.get_bind()
    pending: dict[int, list[int]] = {}
    for stage, success, n in conn.execute(
        sa.text("SELECT stage, success, count(*) FROM stage_runs GROUP BY stage, success")
    ):
        pending.setdefault(int(stage), [0, 0])[0 if success else 1] += int(n)
    if not pending:
        return
    have = {int(s) for (s,) in conn.execute(sa.text("SELECT stage FROM stage_modes WHERE venture_id = 0"))}
    missing = set(pending) - have
    modes = _default_modes(conn, missing) if missing else {}
    unknown = sorted(missing - set(modes))
    if unknown:
        runs = ", ".join(f"stage {s}: {sum(pending[s])}" for s in unknown)
        raise RuntimeError(
            f"cannot downgrade below 0012 without losing progression runs ({runs} appended since the last fold, "
            "no stage-wide mode stored, and the stored workflow versions do not agree on the default mode); "
            "set those stages' modes first (`venturegate progression set STAGE MODE`), then downgrade"
        )
    for s in sorted(missing):
        conn.execute(
            sa.text("INSERT INTO stage_modes (venture_id, stage, mode, successes, failures) VALUES (0, :s, :m, 0, 0)"),
            {"s": s, "m": modes[s]},
        )
    for s, (wins, losses) in sorted(pending.items()):
        conn.execute(
            sa.text(
                "UPDATE stage_modes SET successes = successes + :w, failures = failures + :l "
                "WHERE venture_id = 0 AND stage = :s"
            ),
            {"w": wins, "l": losses, "s": s},
        )


def downgrade() -> None:
    _fold_runs()
    op.drop_table("escalation_numbers")
    with op.batch_alter_table("stage_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_runs_stage")
    op.drop_table("stage_runs")
