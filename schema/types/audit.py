"""The audit trail: AuditEntry and the result of verifying its hash chain."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from records.rows import AuditRow
from schema import ids
from schema.types.node import Node

__all__ = ["AuditEntry", "AuditVerification"]


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


@strawberry.type
class AuditVerification:
    valid: bool
    checked_entries: int
    first_invalid_sequence: int | None = strawberry.field(
        description="Sequence of the first entry whose hash does not verify; null when valid."
    )
