"""The append-only, hash-chained audit trail (LIFECYCLE.md §6).

hash = SHA-256 hex of (previous hash + canonical JSON of the entry's content).
A change writes its entries to `audit_pending` with the canonical text up to
the sequence number (`canonical_prefix`); a deferred trigger (migration 0007)
chains them at COMMIT inside PostgreSQL: it locks the single `audit_head`
row, so concurrent writers queue behind each other only for the instant of
their commits and the chain never forks; entries are never updated.
`verify_chain` recomputes every hash here, from the stored columns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.models import AuditEntry, AuditPending

__all__ = [
    "AuditRecord",
    "AuditVerification",
    "append_audit",
    "canonical",
    "canonical_prefix",
    "entry_hash",
    "pending_rows",
    "verify_chain",
]

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


def canonical_prefix(
    *,
    occurred_at: datetime,
    actor_subject: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: Any,
    after: Any,
) -> str:
    """`canonical(...)` up to its sequence number: the chain trigger appends `<sequence>}`.

    "sequence" sorts after every other key, so it is the last member of the canonical text.
    """
    text_ = canonical(
        sequence=0,
        occurred_at=occurred_at,
        actor_subject=actor_subject,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
    )
    suffix = '"sequence":0}'
    if not text_.endswith(suffix):  # pragma: no cover - guards the key order the trigger relies on
        raise AssertionError("the sequence must be the last member of the canonical text")
    return text_[: -len("0}")]


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
                "canonical_prefix": canonical_prefix(
                    occurred_at=now,
                    actor_subject=record.actor_subject,
                    action=record.action,
                    entity_type=record.entity_type,
                    entity_id=record.entity_id,
                    before=before,
                    after=after,
                ),
            }
        )
    return rows


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
