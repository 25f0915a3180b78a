"""SQLAlchemy expressions of db.queries as SQL text for a plan: the definitions the resolver path
runs (a status rule, the SLA-state filter) are the ones the planner embeds, never a copy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.util import ClauseAdapter

__all__ = ["embed"]

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def embed(expression: ColumnElement[Any], aliases: Mapping[Table, str]) -> str:
    """`expression` as SQL text with each table of `aliases` read from that alias.

    Values are inlined as literals; a value that is a request parameter is passed in as
    `literal_column("$n::type")` by the caller. The expression is compiled as the WHERE clause of
    a statement over the aliases, so that its subqueries correlate to them.
    """
    adapted = expression
    tables = []
    for table, name in aliases.items():
        alias = table.alias(name)
        tables.append(alias)
        adapted = ClauseAdapter(alias).traverse(adapted)
    statement: Select[Any] = select(literal_column("1")).select_from(*tables).where(adapted)
    compiled = str(statement.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))
    _, found, condition = compiled.partition("\nWHERE ")
    assert found, compiled
    return f"({condition})"
