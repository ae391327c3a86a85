"""SQL expressions that differ between SQLite and PostgreSQL, written once for both."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, cast, extract, func


def seconds_between(start: ColumnElement[Any], end: ColumnElement[Any], dialect: str) -> ColumnElement[float]:
    """`end - start` in seconds, as a number the database can sum.

    SQLite stores datetimes as text, so the difference goes through `julianday` (days, about 10 µs
    precision at today's dates); PostgreSQL subtracts timestamps and takes the interval's epoch.
    """
    if dialect == "sqlite":
        return cast((func.julianday(end) - func.julianday(start)) * 86400.0, Float)
    return cast(extract("epoch", end - start), Float)
