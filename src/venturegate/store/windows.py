"""Window reads for many ventures at once: what a batch of samples needs to judge every venture it touched.

A batch judges the triggers of up to a thousand ventures at one `now`. Read one venture at a time, each
condition costs a statement per venture, and on PostgreSQL a statement is a round trip. `WindowReads` reads
each (kind, metric, window) for every venture of the batch in one statement the first time any venture asks
for it, and answers the other ventures from memory, so the statements grow with the workflow's conditions,
never with the ventures in the batch.

The one-venture statements live here too (`engine/facts.py` reads through these functions). Each venture's
ends are index probes (`ix_samples_venture_metric_at`), its aggregates one range scan of that index and its
newest samples a bounded read, so the cost does not grow with a venture's history (docs/decisions.md, "Window
functions read only what they need"). On PostgreSQL several ventures are read by one statement (correlated
`LIMIT 1` probes, a grouped aggregate, a LATERAL join); SQLite has no round trips to save and runs the
one-venture statement per venture (compiled once, run on the driver: a few microseconds each).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, bindparam, func, literal, select, true
from sqlalchemy.sql.elements import ColumnElement

from venturegate.store.prepared import Prepared
from venturegate.store.schema import Id, samples, ventures

_Key = tuple[str, str, datetime | None, datetime]


@dataclass(frozen=True, slots=True)
class SamplePoint:
    """A stored sample's id, time and value."""

    id: int
    at: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Ends:
    """The oldest and the newest sample of one venture's window (both None when it is empty)."""

    first: SamplePoint | None
    last: SamplePoint | None


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Count, sum, min and max of one venture's window."""

    count: int
    total: float
    low: float | None
    high: float | None


class PointRow(NamedTuple):
    """A sample's id, time and value as read (no object built: the one-venture reads on the hot path)."""

    id: int
    at: datetime
    value: float


class _StatsRow(NamedTuple):
    n: int
    total: float | None  # SUM, MIN and MAX are NULL only over no rows
    low: float | None
    high: float | None


EMPTY_ENDS = Ends(None, None)
EMPTY_AGGREGATE = Aggregate(0, 0.0, None, None)

_VENTURE_METRIC = (samples.c.venture_id == bindparam("vid"), samples.c.metric == bindparam("metric"))
_RANGE = (*_VENTURE_METRIC, samples.c.at > bindparam("start"), samples.c.at <= bindparam("end"))
_POINT = (samples.c.id, samples.c.at, samples.c.value)
_NEWEST_FIRST = (samples.c.at.desc(), samples.c.id.desc())
_LATEST_ONE = Prepared(
    select(*_POINT).where(*_VENTURE_METRIC, samples.c.at <= bindparam("end")).order_by(*_NEWEST_FIRST).limit(1),
    PointRow,
)
_FIRST_ONE = Prepared(select(*_POINT).where(*_RANGE).order_by(samples.c.at, samples.c.id).limit(1), PointRow)
_LAST_ONE = Prepared(select(*_POINT).where(*_RANGE).order_by(*_NEWEST_FIRST).limit(1), PointRow)
_STATS_ONE = Prepared(
    select(
        func.count().label("n"),
        func.sum(samples.c.value).label("total"),
        func.min(samples.c.value).label("low"),
        func.max(samples.c.value).label("high"),
    ).where(*_RANGE),
    _StatsRow,
)
_NEWEST_ONE = Prepared(select(*_POINT).where(*_RANGE).order_by(*_NEWEST_FIRST).limit(bindparam("limit")), PointRow)
_WINDOW_ONE = Prepared(select(*_POINT).where(*_RANGE).order_by(samples.c.at, samples.c.id), PointRow)


def _point(r: PointRow) -> SamplePoint:
    return SamplePoint(r.id, r.at, r.value)


def latest_of(conn: Connection, vid: int, metric: str, end: datetime) -> PointRow | None:
    """One venture's newest sample of `metric` at or before `end`, or None."""
    found: PointRow | None = _LATEST_ONE.first(conn, {"vid": vid, "metric": metric, "end": end})
    return found


def ends_of(conn: Connection, vid: int, metric: str, start: datetime, end: datetime, first: bool = True) -> Ends:
    """One venture's oldest and newest sample of `metric` with start < at <= end: one index probe each."""
    params = {"vid": vid, "metric": metric, "start": start, "end": end}
    found = _LAST_ONE.first(conn, params)
    if found is None:
        return EMPTY_ENDS
    # A sample deleted in between (retention): the window holds `last`.
    oldest = (_FIRST_ONE.first(conn, params) or found) if first else found
    return Ends(_point(oldest), _point(found))


def aggregate_of(conn: Connection, vid: int, metric: str, start: datetime, end: datetime) -> Aggregate:
    """One venture's count, sum, min and max of `metric` with start < at <= end: one range scan."""
    r: _StatsRow | None = _STATS_ONE.first(conn, {"vid": vid, "metric": metric, "start": start, "end": end})
    if r is None or not r.n or r.total is None:
        return EMPTY_AGGREGATE
    return Aggregate(r.n, r.total, r.low, r.high)


def newest_of(conn: Connection, vid: int, metric: str, start: datetime, end: datetime, limit: int) -> list[SamplePoint]:
    """One venture's newest `limit` samples of `metric` with start < at <= end, newest first: a bounded read."""
    params = {"vid": vid, "metric": metric, "start": start, "end": end, "limit": limit}
    return [_point(r) for r in _NEWEST_ONE.all(conn, params)]


def _one_at_a_time(conn: Connection, vids: Collection[int]) -> bool:
    """Whether to read venture by venture: SQLite (no round trips), or a single venture."""
    return conn.dialect.name != "postgresql" or len(vids) == 1


def _probe(vid: Any, metric: str, start: datetime | None, end: datetime, newest: bool) -> Any:
    """The id of one venture's newest (or oldest) sample of `metric` with start < at <= end: an index probe."""
    s = samples.alias("probe")
    where: list[ColumnElement[bool]] = [s.c.venture_id == vid, s.c.metric == metric, s.c.at <= end]
    if start is not None:
        where.append(s.c.at > start)
    order = (s.c.at.desc(), s.c.id.desc()) if newest else (s.c.at, s.c.id)
    return select(s.c.id).where(*where).order_by(*order).limit(1).scalar_subquery()


def _ends_statement(
    vids: Collection[int], metric: str, start: datetime | None, end: datetime, first: bool
) -> Select[Any]:
    """Per venture, its newest (and, with `first`, its oldest) sample in the window; ventures with none left out."""
    v = ventures.alias("v")
    first_id = _probe(v.c.id, metric, start, end, newest=False) if first else literal(None, Id)
    probes = (
        select(
            v.c.id.label("vid"),
            first_id.label("first_id"),
            _probe(v.c.id, metric, start, end, newest=True).label("last_id"),
        )
        .where(v.c.id.in_(bindparam("vids", expanding=True)))
        .subquery("probes")
    )
    f, last = samples.alias("f"), samples.alias("l")
    return (
        select(probes.c.vid, f.c.id, f.c.at, f.c.value, last.c.id, last.c.at, last.c.value)
        .select_from(probes.join(last, last.c.id == probes.c.last_id).outerjoin(f, f.c.id == probes.c.first_id))
        .params(vids=sorted(vids))
    )


def _stats_statement(vids: Collection[int], metric: str, start: datetime | None, end: datetime) -> Select[Any]:
    where: list[ColumnElement[bool]] = [
        samples.c.venture_id.in_(bindparam("vids", expanding=True)),
        samples.c.metric == metric,
        samples.c.at <= end,
    ]
    if start is not None:
        where.append(samples.c.at > start)
    return (
        select(
            samples.c.venture_id,
            func.count(),
            func.sum(samples.c.value),
            func.min(samples.c.value),
            func.max(samples.c.value),
        )
        .where(*where)
        .group_by(samples.c.venture_id)
        .params(vids=sorted(vids))
    )


def read_ends(
    conn: Connection, vids: Collection[int], metric: str, start: datetime | None, end: datetime, first: bool = True
) -> dict[int, Ends]:
    """Each venture's oldest and newest sample of `metric` with start < at <= end (no start: all up to `end`),
    in one statement; ventures without one are left out. Without `first`, `first` is the newest too."""
    if not vids:
        return {}
    out: dict[int, Ends] = {}
    if _one_at_a_time(conn, vids):
        for vid in vids:
            if start is None:
                found = latest_of(conn, vid, metric, end)
                if found is not None:
                    out[vid] = Ends(_point(found), _point(found))
            elif (ends := ends_of(conn, vid, metric, start, end, first)).last is not None:
                out[vid] = ends
        return out
    for vid, fid, fat, fval, lid, lat, lval in conn.execute(_ends_statement(vids, metric, start, end, first)):
        last = SamplePoint(lid, lat, lval)
        # A first sample deleted between the probes and the join (retention): the window holds `last`.
        out[vid] = Ends(SamplePoint(fid, fat, fval) if fid is not None else last, last)
    return out


def read_aggregates(
    conn: Connection, vids: Collection[int], metric: str, start: datetime, end: datetime
) -> dict[int, Aggregate]:
    """Each venture's count, sum, min and max of `metric` with start < at <= end, in one statement."""
    if not vids:
        return {}
    if _one_at_a_time(conn, vids):
        return {vid: a for vid in vids if (a := aggregate_of(conn, vid, metric, start, end)).count}
    return {
        vid: Aggregate(n, total, low, high)
        for vid, n, total, low, high in conn.execute(_stats_statement(vids, metric, start, end))
        if n
    }


def _newest_statement(metric: str, start: datetime, end: datetime, limit: int) -> Select[Any]:
    """PostgreSQL: per venture, its newest `limit` samples in the window (a LATERAL join: a bounded index scan each)."""
    v, s = ventures.alias("v"), samples.alias("s")
    newest = (
        select(s.c.id, s.c.at, s.c.value)
        .where(s.c.venture_id == v.c.id, s.c.metric == metric, s.c.at > start, s.c.at <= end)
        .order_by(s.c.at.desc(), s.c.id.desc())
        .limit(limit)
        .lateral("newest")
    )
    return (
        select(v.c.id.label("vid"), newest.c.id, newest.c.at, newest.c.value)
        .select_from(v.join(newest, true()))
        .where(v.c.id.in_(bindparam("vids", expanding=True)))
    )


def read_newest(
    conn: Connection, vids: Collection[int], metric: str, start: datetime, end: datetime, limit: int
) -> dict[int, list[SamplePoint]]:
    """Each venture's newest `limit` samples of `metric` with start < at <= end, newest first."""
    out: dict[int, list[SamplePoint]] = {}
    if not _one_at_a_time(conn, vids):
        stmt = _newest_statement(metric, start, end, limit).params(vids=sorted(vids))
        for vid, sid, at, value in conn.execute(stmt):
            out.setdefault(vid, []).append(SamplePoint(sid, at, value))
        for got in out.values():
            got.sort(key=lambda p: (p.at, p.id), reverse=True)
        return out
    for vid in vids:
        rows = newest_of(conn, vid, metric, start, end, limit)
        if rows:
            out[vid] = rows
    return out


def read_window(conn: Connection, vid: int, metric: str, start: datetime, end: datetime) -> list[SamplePoint]:
    """One venture's samples of `metric` with start < at <= end, oldest first."""
    return [_point(r) for r in _WINDOW_ONE.all(conn, {"vid": vid, "metric": metric, "start": start, "end": end})]


@dataclass
class WindowReads:
    """The window reads of one batch: each (kind, metric, window) read for all `ventures` at once, then cached.

    Valid for one transaction in which no samples of these ventures are written after the first read (the batch
    inserts its samples first, then judges).
    """

    conn: Connection
    ventures: frozenset[int]
    _cache: dict[_Key, Mapping[int, Any]] = field(default_factory=dict)
    statements: int = 0
    """How many statements it ran (tests check it stays bounded)."""

    def latest(self, vid: int, metric: str, now: datetime) -> SamplePoint | None:
        """The venture's newest sample of `metric` at or before `now`."""
        key: _Key = ("latest", metric, None, now)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = read_ends(self.conn, self.ventures, metric, None, now, first=False)
            self.statements += 1
        ends: Ends = found.get(vid, EMPTY_ENDS)
        return ends.last

    def ends(self, vid: int, metric: str, start: datetime, end: datetime) -> Ends:
        """The venture's oldest and newest sample of `metric` with start < at <= end."""
        key: _Key = ("ends", metric, start, end)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = read_ends(self.conn, self.ventures, metric, start, end)
            self.statements += 1
        return found.get(vid, EMPTY_ENDS)

    def newest(self, vid: int, metric: str, start: datetime, end: datetime, limit: int) -> list[SamplePoint]:
        """The venture's newest `limit` samples of `metric` with start < at <= end, newest first."""
        key: _Key = (f"newest{limit}", metric, start, end)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = read_newest(self.conn, self.ventures, metric, start, end, limit)
            self.statements += 1
        points: list[SamplePoint] = found.get(vid, [])
        return points

    def aggregate(self, vid: int, metric: str, start: datetime, end: datetime) -> Aggregate:
        """The venture's count, sum, min and max of `metric` with start < at <= end."""
        key: _Key = ("stats", metric, start, end)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = read_aggregates(self.conn, self.ventures, metric, start, end)
            self.statements += 1
        return found.get(vid, EMPTY_AGGREGATE)
