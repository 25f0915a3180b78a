"""The audit log, newest first, optionally for one entity."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries import keyset
from db.queries.keyset import KeyPart, Ordering, Page, PageRequest
from db.tables import AUDIT, columns
from records.rows import AuditRow

__all__ = ["AUDIT_ORDER", "count_audit", "entity_type_names", "fetch_audit_page"]

AUDIT_ORDER = Ordering("AuditEntry:SEQUENCE:DESC", (KeyPart(AUDIT.c.sequence, "int"),), descending=True)


def entity_type_names(type_name: str) -> list[str]:
    """Spellings an entity type may be recorded under: "ServiceRequest" and "service_request"."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).lower()
    return sorted({type_name, snake})


def _base(cols: Any, entity: tuple[str, int] | None) -> Select[Any]:
    cond: ColumnElement[bool] = true()
    if entity is not None:
        type_name, pk = entity
        cond = and_(AUDIT.c.entity_type.in_(entity_type_names(type_name)), AUDIT.c.entity_id == str(pk))
    return select(*cols).where(cond)


async def fetch_audit_page(
    conn: AsyncConnection, *, entity: tuple[str, int] | None, page: PageRequest
) -> tuple[Page, list[AuditRow]]:
    """Audit entries newest first, optionally of one (entity type, pk)."""
    result = await keyset.fetch_page(conn, _base(columns(AUDIT, AuditRow), entity), AUDIT_ORDER, page)
    return result, [AuditRow.of(r) for r in result.rows]


async def count_audit(conn: AsyncConnection, *, entity: tuple[str, int] | None) -> int:
    """totalCount of the same audit selection."""
    return await keyset.count(conn, _base([AUDIT.c.sequence], entity))
