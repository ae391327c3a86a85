"""Recording metric samples: validated against the metric's unit, idempotent by key, single or batched."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from venturegate.core.cadence import cadence_seconds, stale_grace
from venturegate.core.conditions import Sample
from venturegate.core.durations import format_time, parse_duration
from venturegate.core.units import plain, unit_error
from venturegate.definitions.model import Unit
from venturegate.engine.actors import Actor
from venturegate.engine.base import Batch, as_id
from venturegate.engine.exceptions import BadInput, Collision, Conflict, NotFound
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import Fired, SampleResult
from venturegate.engine.triggers import Triggers
from venturegate.store import timers as timer_store
from venturegate.store.samples import insert_samples
from venturegate.store.trigger_states import StateWrites, TriggerStates, VentureRow, ventures_with_states
from venturegate.store.ventures import ids_by_name
from venturegate.store.windows import WindowReads

FUTURE_SLACK = timedelta(minutes=5)
"""How far ahead of the clock a sample's time may be (clock skew between machines)."""
MAX_AGE_ENV = "VENTUREGATE_SAMPLE_MAX_AGE"
"""A duration (`1826d`): how far back a sample's time may lie; older times are refused as implausible."""
DEFAULT_MAX_AGE = timedelta(days=1826)
COLLISION_RETRIES = 3
"""Attempts at a batch that collides with a concurrent one in a deadlock or a serialization failure."""


@dataclass(frozen=True)
class ValueSpec:
    """What a metric admits: its unit and its declared range."""

    unit: Unit
    min: float | None = None
    max: float | None = None


def sample_error(spec: ValueSpec, value: object) -> str:
    """Why `value` cannot be a sample of a metric (its unit, its declared range), or '' when it can.

    The one check every way in (API, CLI, crews) goes through; a JSON `true` is not a number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} is not a number"
    err = unit_error(spec.unit, value)
    if err:
        return err
    if spec.min is not None and value < spec.min:
        return f"{plain(value)} is below the metric's range {_range(spec)}"
    if spec.max is not None and value > spec.max:
        return f"{plain(value)} is above the metric's range {_range(spec)}"
    return ""


def time_error(at: datetime, now: datetime, max_age: timedelta) -> str:
    """Why a sample time is implausible (in the future, or older than `max_age`), or ''."""
    if at > now + FUTURE_SLACK:
        return f"time {format_time(at)} is in the future"
    if at < now - max_age:
        return f"time {format_time(at)} is more than {max_age.days} days ago; set {MAX_AGE_ENV} to import older data"
    return ""


def _range(spec: ValueSpec) -> str:
    lo = "-∞" if spec.min is None else plain(spec.min)
    hi = "∞" if spec.max is None else plain(spec.max)
    return f"{lo}–{hi}"


def max_sample_age(env: Mapping[str, str] | None = None) -> timedelta:
    """The plausible window's length: `VENTUREGATE_SAMPLE_MAX_AGE` (a duration), else five years."""
    raw = (os.environ if env is None else env).get(MAX_AGE_ENV)
    if not raw:
        return DEFAULT_MAX_AGE
    try:
        return timedelta(seconds=parse_duration(raw.strip()))
    except ValueError:
        raise BadInput(f"{MAX_AGE_ENV}={raw!r} is not a duration", where=MAX_AGE_ENV, hint="e.g. 3650d") from None


_PAST = "a sample records a past measurement: check the time and its zone (Z is UTC)"


def _where(i: int, n: int) -> str:
    """How an error names the sample at index `i` of a batch of `n`."""
    return f"sample {i}" if n > 1 else "sample"


@dataclass(frozen=True)
class SampleIn:
    """One sample to record; `venture` is an id or a name."""

    venture: str | int
    metric: str
    value: float
    at: datetime | None = None
    key: str | None = None


@dataclass(frozen=True)
class Ingested:
    """What a sample or batch recorded, and the triggers that fired (or went pending) because of it."""

    samples: list[SampleResult]
    fired: list[Fired]

    def as_dict(self) -> dict[str, Any]:
        """JSON form: `samples` and `fired`."""
        return {"samples": [s.as_dict() for s in self.samples], "fired": [f.as_dict() for f in self.fired]}


class Samples:
    """Metric sample ingestion (the engine's `sample_intake` component).

    Depends on the plumbing and the triggers (the triggers that read a recorded metric are judged before the
    transaction ends). Holds its caches per pinned workflow version (immutable by digest): each metric's unit
    and range at a stage, and its stale limit.
    """

    def __init__(self, plumbing: Plumbing, triggers: Triggers) -> None:
        self.plumbing = plumbing
        self.triggers = triggers
        self._max_age: timedelta | None = None
        # (digest, metric, stage) → unit and range; (digest, metric) → stale limit.
        self._units: dict[tuple[str, str, int], ValueSpec] = {}
        self._stale_limits: dict[tuple[str, str], timedelta | None] = {}

    @property
    def max_age(self) -> timedelta:
        """How far back a sample's time may lie (read once from `VENTUREGATE_SAMPLE_MAX_AGE`; settable)."""
        if self._max_age is None:
            self._max_age = max_sample_age()
        return self._max_age

    @max_age.setter
    def max_age(self, value: timedelta) -> None:
        self._max_age = value

    def record_one(
        self,
        ref: str | int,
        metric: str,
        value: float,
        *,
        actor: Actor,
        at: datetime | None = None,
        key: str | None = None,
        now: datetime | None = None,
    ) -> Ingested:
        """Record one sample (a retry with the same key is harmless) and judge the triggers that read it."""
        return self.record([SampleIn(ref, metric, value, at, key)], actor=actor, now=now)

    def record(self, batch: Sequence[SampleIn], *, actor: Actor, now: datetime | None = None) -> Ingested:
        """Record a batch in one transaction, then judge, before returning, the triggers that read those metrics.

        Any invalid sample rejects the whole batch, naming its index. A transient collision with another
        transaction (a deadlock, a serialization failure: nothing was changed) is retried at once, up to
        `COLLISION_RETRIES` times: the batch is all or nothing, so recording it again is safe.
        """
        now = self.plumbing.when(now)
        if not batch:
            return Ingested([], [])
        for attempt in range(COLLISION_RETRIES):
            try:
                return self._record(batch, actor, now)
            except Collision as exc:
                if not exc.transient or attempt == COLLISION_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _record(self, batch: Sequence[SampleIn], actor: Actor, now: datetime) -> Ingested:
        """`record`, one attempt."""
        with self.plumbing.tx() as conn:
            states: dict[int, TriggerStates] = {}
            rows, results, by_id = self._validate(conn, batch, now, actor, states)
            rows = self._insert(conn, rows, results)
            touched: dict[int, set[str]] = {}
            newest: dict[int, dict[str, Sample]] = {}
            for r in rows:
                touched.setdefault(r["venture_id"], set()).add(r["metric"])
                # A row stored at `now` is the newest at or before `now` (a tie goes to the highest id, the row
                # inserted last), so trigger conditions need not read it back. Zero is read back: SQLite
                # stores -0.0 as 0.0.
                if r["at"] == now and r["value"]:
                    newest.setdefault(r["venture_id"], {})[r["metric"]] = Sample(r["at"].astimezone(UTC), r["value"])
            self._schedule_staleness(conn, rows, {vid: row.workflow_digest for vid, row in by_id.items()})
            fired: list[Fired] = []
            # Several ventures share their window reads and state writes; one venture reads and writes directly.
            shared = Batch(WindowReads(conn, frozenset(touched)), StateWrites()) if len(touched) > 1 else None
            for vid, metrics in touched.items():
                row = by_id[vid]
                if row.status == "blocked":
                    self.plumbing._recheck_entry(conn, row, actor, now)
                    row = self.plumbing._row(conn, vid)
                fired += self.triggers.evaluate(
                    conn, row, now, metrics, latest=newest.get(vid), states=states.get(vid), batch=shared
                )
            if shared is not None:
                shared.writes.flush(conn)
            return Ingested(results, fired)

    def _schedule_staleness(self, conn: Connection, rows: list[dict[str, Any]], digests: dict[int, str]) -> None:
        """Move each (venture, metric)'s stale timer to its newest sample + cadence + grace, in a few statements."""
        due: dict[tuple[int, str], datetime] = {}
        grace = self._stale_limits  # (digest, metric) → cadence + grace, or None
        for r in rows:
            vid, metric = r["venture_id"], r["metric"]
            gk = (digests[vid], metric)
            limit = grace[gk] if gk in grace else self._stale_limit(conn, *gk)
            if limit is None:
                continue
            k = (vid, metric)
            at = r["at"] + limit
            if k not in due or at > due[k]:
                due[k] = at
        if not due:
            return
        existing = timer_store.pending_stale(conn, {vid for vid, _ in due})
        timer_store.insert_stale(conn, [(v, m, at) for (v, m), at in due.items() if (v, m) not in existing])
        timer_store.move(
            conn,
            [(old.id, at) for k, at in sorted(due.items()) if (old := existing.get(k)) is not None and at > old.due_at],
        )

    def _validate(
        self,
        conn: Connection,
        batch: Sequence[SampleIn],
        now: datetime,
        actor: Actor,
        states: dict[int, TriggerStates],
    ) -> tuple[list[dict[str, Any]], list[SampleResult], dict[int, VentureRow]]:
        """The rows to insert, each sample's result and the ventures by id; fills `states` where read with a venture."""
        vrows = self._batch_ventures(conn, batch, states)
        rows: list[dict[str, Any]] = []
        results: list[SampleResult] = []
        keys: dict[tuple[int, str], int] = {}
        latest_allowed = now + FUTURE_SLACK
        max_age = self.max_age
        earliest_allowed = now - max_age
        name = actor.name
        n = len(batch)
        for i, s in enumerate(batch):
            ref = str(s.venture)
            row = vrows.get(ref)
            if row is None:
                raise NotFound(
                    f"no venture '{ref}'",
                    where=f"{_where(i, n)}.venture",
                    hint="`venturegate venture list` shows them",
                )
            if row.status == "killed":
                raise Conflict(
                    f"venture '{row.name}' is killed; it takes no more samples", where=f"{_where(i, n)}.venture"
                )
            metric = s.metric
            value = s.value
            err = sample_error(self._unit(conn, row, metric, _where(i, n)), value)
            if err:
                raise BadInput(err, where=f"{_where(i, n)}.value ({metric})")
            at = s.at
            at = now if at is None else at if at.tzinfo is UTC else self.plumbing.when(at)
            if at > latest_allowed or at < earliest_allowed:
                raise BadInput(time_error(at, now, max_age), where=f"{_where(i, n)}.at", hint=_PAST)
            key = s.key
            vid = row.id
            dup = False
            if key is not None:
                if not (0 < len(key) <= 200):
                    raise BadInput("an idempotency key needs 1–200 characters", where=f"{_where(i, n)}.key")
                dup = (vid, key) in keys
                if not dup:
                    keys[(vid, key)] = len(rows)
            value = float(value)
            results.append(SampleResult(vid, metric, value, at, key, dup))
            if not dup:
                rows.append(
                    {
                        "venture_id": vid,
                        "metric": metric,
                        "value": value,
                        "at": at,
                        "sample_key": key,
                        "actor": name,
                        "recorded_at": now,
                    }
                )
        return rows, results, {r.id: r for r in vrows.values()}

    @staticmethod
    def _batch_ventures(
        conn: Connection, batch: Sequence[SampleIn], states: dict[int, TriggerStates]
    ) -> dict[str, VentureRow]:
        """The batch's ventures by the reference each sample gives (id or name) with their trigger states, in one
        statement (and one more when names are given); PostgreSQL locks them in id order. Unknown refs are left
        out."""
        ids: dict[str, int] = {}
        names: dict[str, str] = {}
        for ref in {str(s.venture) for s in batch}:
            ident = as_id(ref)
            if ident is None:
                names[ref] = ref.strip()
            else:
                ids[ref] = ident
        if names:
            found = ids_by_name(conn, names.values())
            ids |= {ref: found[name] for ref, name in names.items() if name in found}
        read = ventures_with_states(conn, set(ids.values()), lock=True)
        out: dict[str, VentureRow] = {}
        for ref, vid in ids.items():
            got = read.get(vid)
            if got is not None:
                out[ref], states[vid] = got
        return out

    def _stale_limit(self, conn: Connection, digest: str, metric: str) -> timedelta | None:
        """How long after a sample of `metric` it goes stale (cadence + grace), None if never (cached per version)."""
        m = self.plumbing.pinned(conn, digest).workflow.metric(metric)
        cadence = cadence_seconds(m.frequency) if m else None
        limit = None if cadence is None else timedelta(seconds=cadence + stale_grace(cadence))
        self._stale_limits[(digest, metric)] = limit
        return limit

    def _unit(self, conn: Connection, row: VentureRow, metric: str, where: str) -> ValueSpec:
        """The unit and range of a metric as the venture's pinned workflow declares it at its stage (cached)."""
        ck = (row.workflow_digest, metric, row.stage)
        found = self._units.get(ck)
        if found is not None:
            return found
        wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
        m = wf.metric(metric, row.stage)
        if m is None:
            names = sorted({n for st in wf.stages for n in st.metrics})
            close = difflib.get_close_matches(metric, names, n=1)
            raise NotFound(
                f"unknown metric '{metric}'",
                where=f"{where}.metric",
                hint=f"did you mean '{close[0]}'?" if close else "`venturegate workflow show` lists metrics",
            )
        spec = self._units[ck] = ValueSpec(m.unit, m.min, m.max)
        return spec

    def _insert(
        self, conn: Connection, rows: list[dict[str, Any]], results: list[SampleResult]
    ) -> list[dict[str, Any]]:
        """Insert the rows whose key is new; mark the others' results duplicate. Returns the rows inserted."""
        rows, existing = insert_samples(conn, rows)
        if existing:
            for res in results:
                if res.key is not None and (res.venture_id, res.key) in existing:
                    object.__setattr__(res, "duplicate", True)
        return rows
