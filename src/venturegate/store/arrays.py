"""PostgreSQL: many rows as one statement, each column bound as one array and read back by `unnest`.

`unnest_arrays(types)` gives the `unnest(…)` of a statement's FROM clause (each parameter cast to its column's
array type, compiled from the SQLAlchemy type, so the SQL names no type by hand) and the typed bind
parameters; `Prepared` sends `ARRAY` parameters in psycopg's binary format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import BindParameter, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def unnest_arrays(types: Mapping[str, TypeEngine[Any]]) -> tuple[str, list[BindParameter[Any]]]:
    """`unnest(CAST(:a AS T[]), …)` over the parameters named by `types`, in their order, and their binds."""
    casts = ", ".join(f"CAST(:{name} AS {t.compile(dialect=_DIALECT)}[])" for name, t in types.items())
    return f"unnest({casts})", [bindparam(name, type_=postgresql.ARRAY(t)) for name, t in types.items()]
