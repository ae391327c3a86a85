"""The database side of stage 28: slow queries from `pg_stat_statements`, N+1 patterns, plans, and index
advice proven with `hypopg` hypothetical indexes before anything is built (how Dexter and PoWA do it).

Queries in `pg_stat_statements` are normalised (`$1` for constants). Their plans are taken as
*generic* plans (`plan_cache_mode = force_generic_plan`, a prepared statement), so no constant has to
be guessed for planning; `EXPLAIN (ANALYZE, BUFFERS)` then executes that plan with placeholder
parameters (`1` for numbers, `''` for text), which walks the same scans (a sequential scan reads the
whole table whatever the value) but returns no meaningful rows. Nothing here changes the target
except `CREATE INDEX CONCURRENTLY` / `DROP INDEX CONCURRENTLY` in `build_index` / `drop_index`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

_PLACEHOLDER = re.compile(r"\$(\d+)")
_EQ = re.compile(r"\(?(?:\w+\.)?\"?([a-z_][a-z0-9_]*)\"? = \$\d+\)?")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class DatabaseSetupError(RuntimeError):
    """The database lacks what the profiler needs (pg_stat_statements, hypopg) or cannot be reached."""


@dataclass
class QueryStat:
    """One normalised statement from pg_stat_statements, over the measurement window."""

    queryid: int
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    calls_per_request: float = 0.0
    n_plus_one: bool = False
    seq_scans: list[dict[str, Any]] = field(default_factory=list)
    """Scans of large tables that read rows they then throw away (sequential, or index scans with a filter)."""
    plan_ms: float | None = None
    buffers_read: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "query": self.query,
            "calls": self.calls,
            "total_ms": round(self.total_ms, 3),
            "mean_ms": round(self.mean_ms, 3),
            "rows": self.rows,
            "calls_per_request": round(self.calls_per_request, 3),
            "n_plus_one": self.n_plus_one,
            "seq_scans_on_large_tables": self.seq_scans,
            "explain_analyze_ms": self.plan_ms,
            "shared_buffers_read_or_hit": self.buffers_read,
        }


@dataclass(frozen=True)
class IndexAdvice:
    """A candidate index and what the planner said about it with and without it (hypothetically)."""

    table: str
    columns: tuple[str, ...]
    cost_before: float
    cost_after: float
    queries: tuple[str, ...]

    @property
    def name(self) -> str:
        """A deterministic index name (identifiers only: the table and columns were checked)."""
        return f"vg28_{self.table}_{'_'.join(self.columns)}"[:63]

    @property
    def factor(self) -> float:
        """How many times cheaper the plan gets."""
        return self.cost_before / self.cost_after if self.cost_after > 0 else float("inf")

    @property
    def ddl(self) -> str:
        """The statement that builds it."""
        return f"CREATE INDEX CONCURRENTLY {self.name} ON {self.table} ({', '.join(self.columns)})"

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "table": self.table,
            "columns": list(self.columns),
            "ddl": self.ddl,
            "cost_before": round(self.cost_before, 2),
            "cost_after": round(self.cost_after, 2),
            "factor": round(self.factor, 2),
            "queries": list(self.queries),
        }


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection; unreachable is a `DatabaseSetupError` naming the host, not the password."""
    try:
        # prepare_threshold=None: the plan helpers PREPARE and DEALLOCATE their own statement.
        return psycopg.connect(url, autocommit=True, connect_timeout=5, prepare_threshold=None)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseSetupError(f"database unreachable: {first}") from None


def check_extensions(conn: psycopg.Connection[Any]) -> None:
    """Make sure pg_stat_statements is preloaded and both extensions exist (created when the role may)."""
    preload = conn.execute("SHOW shared_preload_libraries").fetchone()
    if preload is None or "pg_stat_statements" not in str(preload[0]):
        raise DatabaseSetupError(
            "pg_stat_statements is not in shared_preload_libraries: the profiler cannot see the database's queries"
        )
    for ext in ("pg_stat_statements", "hypopg"):
        available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (ext,)).fetchone()
        if available is None:
            raise DatabaseSetupError(f"the {ext} extension is not installed on the database server")
        try:
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
        except psycopg.Error as exc:
            raise DatabaseSetupError(f"cannot create extension {ext}: {exc}") from None


def reset_statements(conn: psycopg.Connection[Any]) -> None:
    """Start a measurement window (this database's statements only: others may be measured at the same time)."""
    conn.execute(
        "SELECT pg_stat_statements_reset(0::oid, (SELECT oid FROM pg_database WHERE datname = current_database()),"
        " 0::bigint)"
    )


def connection_usage(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """(connections to this database now, max_connections)."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),"
        " current_setting('max_connections')::int"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def top_statements(conn: psycopg.Connection[Any], *, requests: int, limit: int = 10) -> list[QueryStat]:
    """The window's statements of this database ranked by total time, with calls per request."""
    rows = conn.execute(
        "SELECT s.queryid, s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.rows"
        " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
        " WHERE d.datname = current_database() AND s.query !~* '^\\s*(explain|prepare|deallocate|set|show|select pg_|"
        "create|drop|analyze|begin|commit|rollback)'"
        " AND s.query NOT LIKE '%%pg_stat_statements%%' AND s.query NOT LIKE '%%hypopg%%'"
        " ORDER BY s.total_exec_time DESC LIMIT %s",
        (limit,),
    ).fetchall()
    out = []
    for r in rows:
        stat = QueryStat(int(r[0]), str(r[1]), int(r[2]), float(r[3]), float(r[4]), int(r[5]))
        stat.calls_per_request = stat.calls / requests if requests else 0.0
        out.append(stat)
    return out


def flag_n_plus_one(stats: list[QueryStat], *, requests_of_endpoint: dict[str, int], min_per_request: float) -> None:
    """Mark statements called many times per request: a single-row lookup in a loop (N+1).

    A statement is an N+1 suspect when it is called at least `min_per_request` times per request of
    the busiest endpoint mix and each call is cheap and returns about one row.
    """
    busiest = max(requests_of_endpoint.values(), default=0)
    for s in stats:
        per = s.calls / busiest if busiest else 0.0
        s.n_plus_one = per >= min_per_request and s.rows <= s.calls * 2 and _is_select(s.query)


def _is_select(query: str) -> bool:
    return query.lstrip().lower().startswith("select")


def _params(query: str) -> int:
    return max((int(m) for m in _PLACEHOLDER.findall(query)), default=0)


def _generic_plan(conn: psycopg.Connection[Any], query: str, *, analyze: bool) -> dict[str, Any]:
    """The generic plan (JSON) of a normalised statement; with `analyze`, executed with placeholder values."""
    n = _params(query)
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute("DEALLOCATE ALL")
    try:
        conn.execute(sql.SQL("PREPARE vg28_q AS {}").format(sql.SQL(query)))
        types = conn.execute(
            "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'vg28_q'"
        ).fetchone()
        kinds = list(types[0]) if types and types[0] else []
        values = [sql.Literal(_placeholder(kinds[i] if i < len(kinds) else "integer")) for i in range(n)]
        options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
        stmt = sql.SQL("EXPLAIN ({}) EXECUTE vg28_q").format(sql.SQL(options))
        if values:
            stmt = sql.SQL("{} ({})").format(stmt, sql.SQL(", ").join(values))
        row = conn.execute(stmt).fetchone()
        assert row is not None
        plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
        return dict(plan[0])
    finally:
        conn.execute("DEALLOCATE ALL")
        conn.execute("RESET plan_cache_mode")


def _placeholder(kind: str) -> object:
    kind = kind.lower()
    if any(k in kind for k in ("int", "numeric", "double", "real", "bigint", "smallint")):
        return 1
    if "bool" in kind:
        return False
    return ""


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", []) or []:
        out += _nodes(child)
    return out


def explain(conn: psycopg.Connection[Any], stat: QueryStat, *, large_table_rows: int) -> None:
    """Fill `stat` with its EXPLAIN (ANALYZE, BUFFERS) time, buffers, and sequential scans on large tables."""
    if not _is_select(stat.query):
        return  # only reads are executed (and writes are rarely what a missing index slows)
    try:
        plan = _generic_plan(conn, stat.query, analyze=True)
    except psycopg.Error:
        return
    root = plan.get("Plan", {})
    stat.plan_ms = round(float(plan.get("Execution Time", 0.0)), 3)
    stat.buffers_read = int(root.get("Shared Hit Blocks", 0)) + int(root.get("Shared Read Blocks", 0))
    for node in _nodes(root):
        # A sequential scan, or an index scan that filters rows out instead of finding them (e.g. walking the
        # primary key backwards for ORDER BY id DESC LIMIT n while testing customer_id on every row).
        kind = str(node.get("Node Type", ""))
        if "Relation Name" not in node or not (kind == "Seq Scan" or (kind.endswith("Scan") and "Filter" in node)):
            continue
        table = str(node.get("Relation Name", ""))
        rows = _table_rows(conn, table)
        if rows >= large_table_rows:
            stat.seq_scans.append({"table": table, "rows": rows, "scan": kind, "filter": str(node.get("Filter", ""))})


def _table_rows(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(
        "SELECT greatest(c.reltuples, 0)::bigint FROM pg_class c WHERE c.relname = %s AND c.relkind = 'r'", (table,)
    ).fetchone()
    return int(row[0]) if row else 0


def _cost(conn: psycopg.Connection[Any], query: str) -> float:
    return float(_generic_plan(conn, query, analyze=False)["Plan"]["Total Cost"])


def advise_indexes(conn: psycopg.Connection[Any], stats: list[QueryStat], *, min_factor: float) -> list[IndexAdvice]:
    """Candidate indexes from the equality filters of sequential scans, kept when hypopg shows the plan's cost
    falls by at least `min_factor` (before/after planner costs, each with the queries it serves)."""
    candidates: dict[tuple[str, tuple[str, ...]], list[QueryStat]] = {}
    for s in stats:
        for scan in s.seq_scans:
            cols: tuple[str, ...] = tuple(dict.fromkeys(_EQ.findall(str(scan["filter"]))))
            table = str(scan["table"])
            if not cols or not _IDENT.match(table) or not all(_IDENT.match(c) for c in cols):
                continue
            for cand in {(table, cols[:1]), (table, cols)}:
                candidates.setdefault(cand, []).append(s)
    advice: list[IndexAdvice] = []
    for (table, cols), served in sorted(candidates.items()):
        before = sum(_cost(conn, s.query) for s in served)
        conn.execute("SELECT hypopg_reset()")
        ddl = sql.SQL("CREATE INDEX ON {} ({})").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in cols)
        )
        conn.execute("SELECT * FROM hypopg_create_index(%s)", (ddl.as_string(conn),))
        try:
            after = sum(_cost(conn, s.query) for s in served)
        finally:
            conn.execute("SELECT hypopg_reset()")
        if after > 0 and before / after >= min_factor:
            advice.append(IndexAdvice(table, cols, before, after, tuple(s.query for s in served)))
    # One index per table and leading column: the cheapest wins.
    best: dict[tuple[str, str], IndexAdvice] = {}
    for a in advice:
        key = (a.table, a.columns[0])
        if (
            key not in best
            or a.cost_after < best[key].cost_after
            or (a.cost_after == best[key].cost_after and len(a.columns) < len(best[key].columns))
        ):
            best[key] = a
    return sorted(best.values(), key=lambda a: -a.factor)


def build_index(conn: psycopg.Connection[Any], advice: IndexAdvice) -> None:
    """Build the advised index without locking writes (CREATE INDEX CONCURRENTLY)."""
    stmt = sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({})").format(
        sql.Identifier(advice.name),
        sql.Identifier(advice.table),
        sql.SQL(", ").join(sql.Identifier(c) for c in advice.columns),
    )
    conn.execute(stmt)
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(advice.table)))


def drop_index(conn: psycopg.Connection[Any], name: str) -> None:
    """Drop an index the crew built (DROP INDEX CONCURRENTLY IF EXISTS)."""
    if not _IDENT.match(name):
        raise ValueError(f"not an index name the crew builds: {name!r}")
    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name)))
