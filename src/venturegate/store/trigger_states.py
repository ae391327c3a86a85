"""Trigger states in the store: read with their venture (locked on PostgreSQL), saved one by one or in bulk.

Judging a venture needs its row and its trigger states. On SQLite (writers are serialized) they are read by one
joined statement per venture (no round trips to save). On PostgreSQL the venture rows are first
locked in id order, so that two batches touching the same ventures queue instead of deadlocking, and the states are
read by a second statement sent in the same round trip (pipeline mode): a statement that waited for a lock still
reads the other tables as they were when it started, so the states must be read by the statement after it. A batch
buffers the state writes of its quiet evaluations (`StateWrites`) and saves them in bulk: on PostgreSQL many
updates as one statement over arrays, otherwise one `executemany` each for updates and inserts (pipelined by
psycopg), instead of a round trip per venture.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Integer, String, Text, any_, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from venturegate.core.triggers import TriggerState
from venturegate.store.arrays import unnest_arrays
from venturegate.store.prepared import Prepared, RawJSON, run_together
from venturegate.store.schema import Id, UTCDateTime, trigger_state, ventures

TriggerStates = dict[str, tuple[TriggerState, bool]]
"""A venture's trigger states by trigger id, each with whether its row exists."""


class VentureRow(NamedTuple):
    """A `ventures` row, typed (the column order of `select(ventures)`)."""

    id: int
    name: str
    segment: str
    workflow_digest: str
    stage: int
    status: str
    status_detail: Any
    revision: int
    created_at: datetime
    updated_at: datetime
    config_version: int


STATE_COLUMNS = ("state", "since", "last_fired_at", "fired_count", "acted_count", "last_evaluated_at", "last_value")
_STATE_READ = (
    trigger_state.c.trigger_id,
    trigger_state.c.state,
    trigger_state.c.since,
    trigger_state.c.last_fired_at,
    trigger_state.c.fired_count,
    trigger_state.c.acted_count,
)
"""What judging needs of a trigger's state (not its last value and explanation)."""
_N = len(ventures.c)
_JOINED = ventures.outerjoin(trigger_state, trigger_state.c.venture_id == ventures.c.id)
_STATES = Prepared(select(*_STATE_READ).where(trigger_state.c.venture_id == bindparam("vid")))
_ONE_WITH_STATES = Prepared(
    select(ventures, *_STATE_READ).select_from(_JOINED).where(ventures.c.id == bindparam("vid"))
)
_ONE_LOCKED = Prepared(select(ventures).where(ventures.c.id == bindparam("vid")).with_for_update(), VentureRow)
_IDS = bindparam("ids", type_=postgresql.ARRAY(Id))
_MANY_LOCKED = Prepared(
    select(ventures).where(ventures.c.id == any_(_IDS)).order_by(ventures.c.id).with_for_update(), VentureRow
)
"""PostgreSQL: lock the ventures in id order (an array parameter: one compiled statement for any count)."""
_MANY_STATES = Prepared(
    select(trigger_state.c.venture_id, *_STATE_READ).where(trigger_state.c.venture_id == any_(_IDS))
)
_UPDATE = Prepared(
    update(trigger_state)
    .where(trigger_state.c.venture_id == bindparam("vid"), trigger_state.c.trigger_id == bindparam("tid"))
    .values({c: bindparam(c) for c in STATE_COLUMNS})
)
_INSERT = Prepared(
    insert(trigger_state).values(
        venture_id=bindparam("vid"), trigger_id=bindparam("tid"), **{c: bindparam(c) for c in STATE_COLUMNS}
    )
)
_ARRAY_TYPES: dict[str, TypeEngine[Any]] = {
    "vid": Id,
    "tid": String(),
    "state": String(),
    "since": UTCDateTime(),
    "last_fired_at": UTCDateTime(),
    "fired_count": Integer(),
    "acted_count": Integer(),
    "last_evaluated_at": UTCDateTime(),
    "last_value": Text(),
}
_UNNEST, _ARRAY_BINDS = unnest_arrays(_ARRAY_TYPES)
_UPDATE_ARRAYS = Prepared(
    text(
        "UPDATE trigger_state SET "
        + ", ".join(
            f"{c} = u.{c}" if c != "last_value" else "last_value = CAST(u.last_value AS JSON)" for c in STATE_COLUMNS
        )
        + f" FROM {_UNNEST} AS u({', '.join(_ARRAY_TYPES)})"
        + " WHERE trigger_state.venture_id = u.vid AND trigger_state.trigger_id = u.tid"
    ).bindparams(*_ARRAY_BINDS)
)
"""PostgreSQL: many trigger states updated by one statement, their columns bound as arrays (each `last_value`
already encoded JSON text)."""
ARRAY_UPDATE_FROM = 8
"""PostgreSQL: a flush of at least this many updates goes as `_UPDATE_ARRAYS` (fewer: one pipelined executemany)."""
COUNT_ACT = Prepared(
    update(trigger_state)
    .where(trigger_state.c.venture_id == bindparam("vid"), trigger_state.c.trigger_id == bindparam("tid"))
    .values(acted_count=trigger_state.c.acted_count + 1)
)


def _state(r: Any) -> TriggerState:
    return TriggerState(r.state, r.since, r.last_fired_at, r.fired_count, r.acted_count)


def read_states(conn: Connection, vid: int) -> TriggerStates:
    """A venture's trigger states (the rows that exist)."""
    return {r.trigger_id: (_state(r), True) for r in _STATES.all(conn, {"vid": vid})}


def _grouped(rows: Any) -> dict[int, tuple[VentureRow, TriggerStates]]:
    out: dict[int, tuple[VentureRow, TriggerStates]] = {}
    for r in rows:
        vid: int = r[0]
        found = out.get(vid)
        if found is None:
            found = out[vid] = (VentureRow._make(r[:_N]), {})
        if r.trigger_id is not None:
            found[1][r.trigger_id] = (_state(r), True)
    return out


def _locked(
    conn: Connection, lock: Prepared, params: Mapping[str, Any], ids: list[int]
) -> dict[int, tuple[VentureRow, TriggerStates]]:
    """PostgreSQL: lock the ventures (`lock` with `params`), then read the states of `ids`, in one round trip."""
    locked, states = run_together(conn, (lock, params), (_MANY_STATES, {"ids": ids}))
    out: dict[int, tuple[VentureRow, TriggerStates]] = {r.id: (r, {}) for r in locked}
    for r in states:
        found = out.get(r.venture_id)
        if found is not None:
            found[1][r.trigger_id] = (_state(r), True)
    return out


def venture_with_states(conn: Connection, vid: int, lock: bool) -> tuple[VentureRow, TriggerStates] | None:
    """One venture's row and trigger states (`lock`: PostgreSQL locks the venture row)."""
    if lock and conn.dialect.name == "postgresql":
        return _locked(conn, _ONE_LOCKED, {"vid": vid}, [vid]).get(vid)
    return _grouped(_ONE_WITH_STATES.all(conn, {"vid": vid})).get(vid)


def ventures_with_states(
    conn: Connection, vids: Collection[int], lock: bool
) -> dict[int, tuple[VentureRow, TriggerStates]]:
    """Many ventures' rows and trigger states (`lock`: PostgreSQL locks them in id order)."""
    if not vids:
        return {}
    if lock and conn.dialect.name == "postgresql":
        return _locked(conn, _MANY_LOCKED, {"ids": sorted(vids)}, sorted(vids))
    if conn.dialect.name != "postgresql":  # no round trips to save: the compiled one-venture read per venture
        return {vid: found for vid in vids if (found := venture_with_states(conn, vid, lock=False)) is not None}
    stmt = select(ventures, *_STATE_READ).select_from(_JOINED).where(ventures.c.id.in_(sorted(vids)))
    return _grouped(conn.execute(stmt))


def save_state(conn: Connection, values: Mapping[str, Any], exists: bool) -> None:
    """Write one trigger state (`values`: vid, tid and `STATE_COLUMNS`); `exists`: its row is there to update."""
    (_UPDATE if exists else _INSERT).run(conn, values)


@dataclass
class StateWrites:
    """Trigger-state writes held back until `flush`: a batch's quiet evaluations, saved in bulk.

    Flush before any other statement that reads or writes `trigger_state` in the same transaction.
    """

    updates: list[Mapping[str, Any]] = field(default_factory=list)
    inserts: list[Mapping[str, Any]] = field(default_factory=list)

    def add(self, values: Mapping[str, Any], exists: bool) -> None:
        """Hold one write back."""
        (self.updates if exists else self.inserts).append(values)

    def flush(self, conn: Connection) -> None:
        """Write what was held back: the updates in one statement over arrays (PostgreSQL, `ARRAY_UPDATE_FROM` or
        more) or one `executemany`, the inserts in one `executemany`."""
        updates, inserts, self.updates, self.inserts = self.updates, self.inserts, [], []
        if (
            len(updates) >= ARRAY_UPDATE_FROM
            and conn.dialect.name == "postgresql"
            and all(type(u["last_value"]) is RawJSON for u in updates)
            and len({(u["vid"], u["tid"]) for u in updates}) == len(updates)  # one row each: no order to keep
        ):
            arrays = {c: [u[c] for u in updates] for c in _ARRAY_TYPES if c != "last_value"}
            _UPDATE_ARRAYS.run(conn, arrays | {"last_value": [u["last_value"].text for u in updates]})
        else:
            _UPDATE.many(conn, updates)
        _INSERT.many(conn, inserts)


def end_episodes(conn: Connection, vid: int, trigger_ids: Collection[str]) -> None:
    """End the venture's episodes of these triggers (state inactive; counts and cooldowns stay)."""
    conn.execute(
        update(trigger_state)
        .where(trigger_state.c.venture_id == vid, trigger_state.c.trigger_id.in_(list(trigger_ids)))
        .values(state="inactive", since=None)
    )


def reset(conn: Connection, vid: int, trigger_id: str) -> None:
    """Restart a trigger's acted count and episode (an escalation about it was resolved)."""
    conn.execute(
        update(trigger_state)
        .where(trigger_state.c.venture_id == vid, trigger_state.c.trigger_id == trigger_id)
        .values(acted_count=0, state="inactive", since=None)
    )


class StateRow(NamedTuple):
    """A trigger's stored state with its last value (what `trigger status` shows)."""

    state: str
    since: datetime | None
    last_evaluated_at: datetime | None
    last_value: Any
    fired_count: int
    acted_count: int


_SHOWN = Prepared(
    select(
        trigger_state.c.trigger_id,
        trigger_state.c.state,
        trigger_state.c.since,
        trigger_state.c.last_evaluated_at,
        trigger_state.c.last_value,
        trigger_state.c.fired_count,
        trigger_state.c.acted_count,
    ).where(trigger_state.c.venture_id == bindparam("vid"))
)


def shown_states(conn: Connection, vid: int) -> dict[str, StateRow]:
    """A venture's stored trigger states with their last values, by trigger id."""
    return {r[0]: StateRow._make(r[1:]) for r in _SHOWN.all(conn, {"vid": vid})}


class RaisedRow(NamedTuple):
    """A pending or firing trigger state, with its venture's stage and pinned workflow."""

    venture_id: int
    stage: int
    workflow_digest: str
    trigger_id: str
    state: str
    since: datetime | None
    last_fired_at: datetime | None


def raised(conn: Connection) -> list[RaisedRow]:
    """Every pending or firing trigger state of an active or blocked venture, by venture and trigger."""
    query = (
        select(
            trigger_state.c.venture_id,
            ventures.c.stage,
            ventures.c.workflow_digest,
            trigger_state.c.trigger_id,
            trigger_state.c.state,
            trigger_state.c.since,
            trigger_state.c.last_fired_at,
        )
        .join(ventures, ventures.c.id == trigger_state.c.venture_id)
        .where(trigger_state.c.state.in_(("pending", "firing")), ventures.c.status.in_(("active", "blocked")))
        .order_by(trigger_state.c.venture_id, trigger_state.c.trigger_id)
    )
    return [RaisedRow._make(r) for r in conn.execute(query)]
