"""The append-only, hash-chained audit trail (LIFECYCLE.md §6).

hash = SHA-256 hex of (previous hash + canonical JSON of the entry's content).
A change writes its entries to `audit_pending`; a deferred trigger (migrations
0007, 0016) chains them at COMMIT inside PostgreSQL: it locks the single
`audit_head` row, so concurrent writers queue behind each other only for the
instant of their commits and the chain never forks; entries are never updated.
The canonical text and the verification are defined once, in SQL (migration
0016: `cg_audit_canonical`, `cg_audit_verify`), for the trigger and for both
read paths; `verify_chain` runs the verification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.models import AuditPending

__all__ = [
    "AuditRecord",
    "AuditVerification",
    "append_audit",
    "pending_rows",
    "verify_chain",
]

GENESIS = "0" * 64  # the previous hash of the first entry


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One change to record: who did what to which entity, before and after."""

    actor_subject: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditVerification:
    valid: bool
    checked_entries: int
    first_invalid_sequence: int | None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


async def append_audit(session: AsyncSession, records: Sequence[AuditRecord], *, now: datetime) -> None:
    """Queue `records` for the chain; the trigger numbers and hashes them when the transaction commits."""
    if not records:
        return
    await session.execute(insert(AuditPending), pending_rows(records, now=now))


def pending_rows(records: Sequence[AuditRecord], *, now: datetime) -> list[dict[str, Any]]:
    """The `audit_pending` rows of `records` (what `append_audit` inserts)."""
    rows = []
    for record in records:
        before, after = _plain(record.before), _plain(record.after)
        rows.append(
            {
                "occurred_at": now,
                "actor_subject": record.actor_subject,
                "action": record.action,
                "entity_type": record.entity_type,
                "entity_id": record.entity_id,
                "before": before,
                "after": after,
            }
        )
    return rows


async def verify_chain(conn: AsyncConnection) -> AuditVerification:
    """Recompute every hash in sequence order (one statement, one snapshot); report the first entry
    that does not verify, or the first missing one when the tail was deleted."""
    row = (await conn.execute(text("SELECT * FROM cg_audit_verify()"))).one()
    return AuditVerification(bool(row.valid), int(row.checked_entries), row.first_invalid_sequence)
