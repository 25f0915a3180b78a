"""Row-level scope in SQL: the caller's customers (None = all, i.e. staff)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, literal, true
from sqlalchemy.dialects.postgresql import ARRAY

__all__ = ["CustomerScope", "id_in", "in_scope"]

# The customers whose data exists for the caller; None means every customer.
CustomerScope = frozenset[int] | None


def id_in(column: ColumnElement[Any], ids: Iterable[int]) -> ColumnElement[bool]:
    """`column = ANY(:ids)` with one array parameter (one cached plan whatever the count)."""
    return column == any_(literal(sorted(set(ids)), ARRAY(BigInteger)))


def in_scope(customer_column: ColumnElement[Any], scope: CustomerScope) -> ColumnElement[bool]:
    """The scope predicate on a customer id column."""
    return true() if scope is None else id_in(customer_column, scope)
