"""The audit trail: `auditLog` and `verifyAuditChain` (LIFECYCLE.md §6); ADMIN and AUDITOR only."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from auth.permissions import Capability
from db.audit import verify_chain
from db.queries.audit import AUDIT_ORDER, count_audit, fetch_audit_page
from records.rows import AuditRow
from resolvers.connections import Listing, paginate
from schema import ids
from schema.pagination import Connection, PageArgs
from schema.types.audit import AuditEntry, AuditVerification

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["audit_connection", "verify_audit_chain"]


async def audit_connection(ctx: Context, args: PageArgs, *, entity_id: str | None) -> Connection[AuditEntry]:
    """`auditLog`: newest first, optionally of one entity (FORBIDDEN without audit:read)."""
    ctx.require(Capability.READ_AUDIT)
    entity = ids.decode(entity_id) if entity_id is not None else None
    listing: Listing[AuditRow] = Listing(
        fetch=partial(fetch_audit_page, entity=entity), count=partial(count_audit, entity=entity)
    )
    return await paginate(ctx, AUDIT_ORDER, args, listing, AuditEntry.from_row)


async def verify_audit_chain(ctx: Context) -> AuditVerification:
    """Recompute the hash chain in one statement (one snapshot, so entries appended while it runs
    neither hide a fault nor look like a deleted tail); the read planner runs the same function."""
    ctx.require(Capability.READ_AUDIT)
    async with ctx.services.engine.connect() as conn:
        result = await verify_chain(conn)
        await conn.rollback()
    return AuditVerification(
        valid=result.valid,
        checked_entries=result.checked_entries,
        first_invalid_sequence=result.first_invalid_sequence,
    )
