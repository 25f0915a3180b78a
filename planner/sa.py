"""SQLAlchemy expressions of db.queries as SQL text for a plan: the definitions the resolver path
runs (a status rule, the SLA-state filter) are the ones the planner embeds, never a copy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.util import ClauseAdapter

__all__ = ["embed"]

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def embed(expression: ColumnElement[Any], aliases: Mapping[Table, str]) -> str:
    """`expression` as SQL text with each table of `aliases` read from that alias.

    Values are inlined as literals; a value that is a request parameter is passed in as
    `literal_column("$n::type")` by the caller.
    """
    for table, name in aliases.items():
        expression = ClauseAdapter(table.alias(name)).traverse(expression)
    compiled = expression.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True})
    return f"({compiled})"
