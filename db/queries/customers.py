"""Customer list: search, filters, name order, within the caller's scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries import keyset
from db.queries.keyset import KeyPart, Ordering, Page, PageRequest
from db.queries.scope import CustomerScope, in_scope
from db.tables import CUSTOMERS, columns
from records.rows import CustomerRow

__all__ = ["CUSTOMER_ORDER", "CustomerFilter", "count_customers", "fetch_customer_page", "like_pattern"]

C = CUSTOMERS.c
CUSTOMER_ORDER = Ordering("Customer:NAME:ASC", (KeyPart(C.name, "str"), KeyPart(C.id, "int")))


@dataclass(frozen=True)
class CustomerFilter:
    """CustomerFilter; `risk_visible` False makes a riskRating filter match nothing (hidden data)."""

    search: str | None = None
    kyc_statuses: Sequence[str] | None = None
    risk_ratings: Sequence[str] | None = None
    segments: Sequence[str] | None = None
    risk_visible: bool = True


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(flt: CustomerFilter, scope: CustomerScope) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [in_scope(C.id, scope)]
    if flt.search is not None and flt.search.strip():
        q = flt.search.strip()
        pattern = like_pattern(q.lower())
        conds.append(
            or_(
                func.lower(C.name).like(pattern, escape="\\"),
                func.lower(C.external_ref).like(pattern, escape="\\"),
            )
        )
    for column, values in ((C.kyc_status, flt.kyc_statuses), (C.segment, flt.segments)):
        if values is not None:
            conds.append(column.in_([str(v) for v in values]))
    if flt.risk_ratings is not None:
        visible = flt.risk_visible
        conds.append(C.risk_rating.in_([str(v) for v in flt.risk_ratings]) if visible else false())
    return conds


def _base(flt: CustomerFilter, scope: CustomerScope) -> Select[Any]:
    return select(*columns(CUSTOMERS, CustomerRow)).where(*_conditions(flt, scope))


async def fetch_customer_page(
    conn: AsyncConnection, *, flt: CustomerFilter, scope: CustomerScope, page: PageRequest
) -> tuple[Page, list[CustomerRow]]:
    """One page of customers by name."""
    result = await keyset.fetch_page(conn, _base(flt, scope), CUSTOMER_ORDER, page)
    return result, [CustomerRow.of(r) for r in result.rows]


async def count_customers(conn: AsyncConnection, *, flt: CustomerFilter, scope: CustomerScope) -> int:
    """totalCount of the same customer filter and scope."""
    return await keyset.count(conn, select(C.id).where(*_conditions(flt, scope)))
