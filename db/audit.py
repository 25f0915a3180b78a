"""The append-only, hash-chained audit trail (LIFECYCLE.md §6).

hash = SHA-256 hex of (previous hash + canonical JSON of the entry's content).
Appenders lock the single `audit_head` row, so concurrent writers queue
behind each other and the chain never forks; entries are never updated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.models import AuditEntry, AuditHead

__all__ = ["AuditRecord", "AuditVerification", "append_audit", "canonical", "entry_hash", "verify_chain"]

GENESIS = "0" * 64


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


def canonical(
    *,
    sequence: int,
    occurred_at: datetime,
    actor_subject: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: Any,
    after: Any,
) -> str:
    """The exact bytes (as text) that an entry's hash covers."""
    body = {
        "sequence": sequence,
        "occurredAt": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actorSubject": actor_subject,
        "action": action,
        "entityType": entity_type,
        "entityId": entity_id,
        "before": before,
        "after": after,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(previous_hash: str, content: str) -> str:
    return hashlib.sha256((previous_hash + content).encode("utf-8")).hexdigest()


async def append_audit(session: AsyncSession, records: Sequence[AuditRecord], *, now: datetime) -> None:
    """Append `records` to the chain inside the caller's transaction (call it last, just before commit)."""
    if not records:
        return
    head = (
        await session.execute(
            select(AuditHead.sequence, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
        )
    ).one()
    sequence, previous = int(head.sequence), str(head.hash)
    rows = []
    for record in records:
        sequence += 1
        before, after = _plain(record.before), _plain(record.after)
        digest = entry_hash(
            previous,
            canonical(
                sequence=sequence,
                occurred_at=now,
                actor_subject=record.actor_subject,
                action=record.action,
                entity_type=record.entity_type,
                entity_id=record.entity_id,
                before=before,
                after=after,
            ),
        )
        rows.append(
            {
                "sequence": sequence,
                "occurred_at": now,
                "actor_subject": record.actor_subject,
                "action": record.action,
                "entity_type": record.entity_type,
                "entity_id": record.entity_id,
                "before": before,
                "after": after,
                "previous_hash": previous,
                "hash": digest,
            }
        )
        previous = digest
    await session.execute(insert(AuditEntry), rows)
    await session.execute(update(AuditHead).where(AuditHead.id == 1).values(sequence=sequence, hash=previous))


async def verify_chain(conn: AsyncConnection, *, batch: int = 5000) -> AuditVerification:
    """Recompute every hash in sequence order; report the first entry that does not verify."""
    previous = GENESIS
    expected_sequence = 1
    checked = 0
    last = 0
    while True:
        result = await conn.execute(
            select(AuditEntry).where(AuditEntry.sequence > last).order_by(AuditEntry.sequence).limit(batch)
        )
        rows = result.all()
        if not rows:
            break
        for row in rows:
            entry = row[0] if not hasattr(row, "sequence") else row
            content = canonical(
                sequence=entry.sequence,
                occurred_at=entry.occurred_at,
                actor_subject=entry.actor_subject,
                action=entry.action,
                entity_type=entry.entity_type,
                entity_id=entry.entity_id,
                before=entry.before,
                after=entry.after,
            )
            ok = (
                entry.sequence == expected_sequence
                and entry.previous_hash == previous
                and entry.hash == entry_hash(previous, content)
            )
            if not ok:
                return AuditVerification(False, checked + 1, entry.sequence)
            previous = entry.hash
            expected_sequence += 1
            checked += 1
            last = entry.sequence
    head = (await conn.execute(text("SELECT sequence, hash FROM audit_head WHERE id = 1"))).one()
    if int(head.sequence) != last or (last and head.hash != previous):
        # Entries deleted from the tail: the head remembers more than the table holds.
        return AuditVerification(False, checked, last + 1)
    return AuditVerification(True, checked, None)
