"""The audit log: AuditEntry and its connection."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from db.queries.audit import AUDIT_ORDER, count_audit, fetch_audit_page
from records.rows import AuditRow
from schema import ids
from schema.context import Context
from schema.pagination import Connection, connection, page_request
from schema.types.node import Node
from schema.types.scope import Capability, require

__all__ = ["AuditEntry", "audit_connection"]


def _entity_gid(entity_type: str, entity_id: str) -> str:
    """The entity's global ID when it is one of our node types keyed by a number, else the raw id."""
    name = (
        "".join(part.capitalize() for part in entity_type.split("_")) if "_" in entity_type else entity_type
    )
    if entity_id.isdigit() and name[:1].isupper():
        return ids.encode(name, int(entity_id))
    return entity_id


@strawberry.type(description="One append-only, hash-chained audit record.")
class AuditEntry(Node):
    row: strawberry.Private[AuditRow]
    sequence: int
    occurred_at: datetime
    actor_subject: str
    action: str
    entity_type: str
    entity_id: strawberry.ID
    before: JSON | None
    after: JSON | None
    hash: str = strawberry.field(
        description="Hex SHA-256 of the previous entry's hash plus this entry's content."
    )
    previous_hash: str

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEntry:
        return cls(
            id=strawberry.ID(ids.encode("AuditEntry", row.sequence)),
            row=row,
            sequence=row.sequence,
            occurred_at=row.occurred_at,
            actor_subject=row.actor_subject,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=strawberry.ID(_entity_gid(row.entity_type, row.entity_id)),
            before=row.before,
            after=row.after,
            hash=row.hash,
            previous_hash=row.previous_hash,
        )


async def audit_connection(
    ctx: Context, *, first: int | None, after: str | None, entity_id: str | None
) -> Connection[AuditEntry]:
    """`auditLog`: newest first; ADMIN and AUDITOR only (FORBIDDEN otherwise)."""
    require(ctx, Capability.READ_AUDIT)
    page = page_request(AUDIT_ORDER, first=first, after=after)
    entity = ids.decode(entity_id) if entity_id is not None else None
    engine = ctx.services.engine
    async with engine.connect() as conn:
        result, rows = await fetch_audit_page(conn, entity=entity, page=page)

    async def total() -> int:
        async with engine.connect() as conn:
            return await count_audit(conn, entity=entity)

    return connection(AUDIT_ORDER, result, [AuditEntry.from_row(r) for r in rows], total)
