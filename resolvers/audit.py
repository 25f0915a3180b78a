"""`verifyAuditChain`: recompute the hash chain of the audit trail (LIFECYCLE.md §6)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.permissions import Capability
from db.audit import verify_chain
from schema.context import Context
from schema.types.scope import require

__all__ = ["AuditVerification", "verify_audit_chain"]


@strawberry.type
class AuditVerification:
    valid: bool
    checked_entries: int
    first_invalid_sequence: int | None = strawberry.field(
        description="Sequence of the first entry whose hash does not verify; null when valid."
    )


async def verify_audit_chain(info: Info[Context, None]) -> AuditVerification:
    """ADMIN and AUDITOR only (FORBIDDEN otherwise). Reads one snapshot, so entries appended while
    it runs neither hide a fault nor look like a deleted tail."""
    ctx = info.context
    require(ctx, Capability.READ_AUDIT)
    engine = ctx.services.engine.execution_options(isolation_level="REPEATABLE READ")
    async with engine.connect() as conn:
        result = await verify_chain(conn)
        await conn.rollback()
    return AuditVerification(
        valid=result.valid,
        checked_entries=result.checked_entries,
        first_invalid_sequence=result.first_invalid_sequence,
    )
