"""SQLAlchemy expressions of db.queries as SQL text for a plan: the definitions the resolver path
runs (a status rule, the SLA-state filter) are the ones the planner embeds, never a copy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.util import ClauseAdapter

__all__ = ["embed", "embed_bound"]

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


def embed_bound(
    expression: ColumnElement[Any], aliases: Mapping[Table, str], bind: Callable[[Any], str]
) -> str:
    """`embed` for expressions whose values do not all render as literals (a REGCONFIG, a value
    derived from the request): `bind(value)` writes each value's SQL (a literal or a parameter);
    the compiler's casts follow it."""
    tables = []
    adapted = expression
    for table, name in aliases.items():
        alias = table.alias(name)
        tables.append(alias)
        adapted = ClauseAdapter(alias).traverse(adapted)
    statement: Select[Any] = select(literal_column("1")).select_from(*tables).where(adapted)
    compiled = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    text = str(compiled).replace("%%", "%")
    for name, value in compiled.params.items():
        text = text.replace(f"%({name})s", bind(value))
    _, found, condition = text.partition("\nWHERE ")
    assert found, text
    return f"({condition})"
