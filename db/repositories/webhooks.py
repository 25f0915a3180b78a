"""Webhook endpoints and deliveries (WEBHOOKS.md): keyword-only functions over the caller's session.

Deliveries of events are inserted by the trigger of migration 0013 in the
event's transaction; here are the PINGs, redeliveries, the worker's claim
(`FOR UPDATE SKIP LOCKED`, a lease instead of a held transaction) and the
recording of an attempt. Nothing commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, bindparam, delete, func, insert, select, text, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.tables import WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, columns
from domain.enums import WebhookDeliveryStatus as Status
from records.webhooks import WebhookDeliveryRow, WebhookEndpointRow

__all__ = [
    "ClaimedDelivery",
    "EndpointSecrets",
    "claim_due",
    "delete_delivery",
    "delete_endpoint",
    "delivery_endpoint",
    "earliest_due",
    "endpoint_secrets",
    "healthy_endpoints_of",
    "insert_endpoint",
    "insert_ping",
    "lock_endpoint",
    "owned_by",
    "record_attempt",
    "record_deliveries",
    "requeue_events",
    "update_endpoint",
]

E = WEBHOOK_ENDPOINTS.c
D = WEBHOOK_DELIVERIES.c
UNFINISHED = (Status.PENDING.value, Status.RETRYING.value)


def owned_by(owner_partner_id: int | None) -> ColumnElement[bool]:
    """The endpoints a caller manages: a partner its own (`owner_partner_id`), None: all (ADMIN)."""
    return true() if owner_partner_id is None else E.owner_partner_id == owner_partner_id


async def insert_endpoint(session: AsyncSession, *, values: Mapping[str, Any]) -> WebhookEndpointRow:
    stmt = (
        insert(WEBHOOK_ENDPOINTS).values(**values).returning(*columns(WEBHOOK_ENDPOINTS, WebhookEndpointRow))
    )
    return WebhookEndpointRow.of((await session.execute(stmt)).mappings().one())


async def lock_endpoint(
    session: AsyncSession, *, endpoint_id: int, owner: ColumnElement[bool]
) -> WebhookEndpointRow | None:
    """The endpoint, locked FOR UPDATE, when `owner` (see `owned_by`) lets the caller manage it."""
    stmt = (
        select(*columns(WEBHOOK_ENDPOINTS, WebhookEndpointRow))
        .where(E.id == endpoint_id, owner)
        .with_for_update()
    )
    found = (await session.execute(stmt)).mappings().first()
    return None if found is None else WebhookEndpointRow.of(found)


async def update_endpoint(
    session: AsyncSession, *, endpoint_id: int, values: Mapping[str, Any]
) -> WebhookEndpointRow:
    stmt = (
        update(WEBHOOK_ENDPOINTS)
        .where(E.id == endpoint_id)
        .values(**values)
        .returning(*columns(WEBHOOK_ENDPOINTS, WebhookEndpointRow))
    )
    return WebhookEndpointRow.of((await session.execute(stmt)).mappings().one())


async def delete_endpoint(session: AsyncSession, *, endpoint_id: int) -> None:
    """The endpoint and its delivery log (ON DELETE CASCADE)."""
    await session.execute(delete(WEBHOOK_ENDPOINTS).where(E.id == endpoint_id))


@dataclass(frozen=True, slots=True)
class EndpointSecrets:
    """What the sender needs of an endpoint: where, and the sealed secrets that sign."""

    id: int
    url: str
    enabled: bool
    owner_partner_id: int | None
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None


async def endpoint_secrets(
    session: AsyncSession, *, endpoint_ids: Sequence[int]
) -> dict[int, EndpointSecrets]:
    stmt = select(
        E.id, E.url, E.enabled, E.owner_partner_id, E.secret, E.previous_secret, E.previous_secret_until
    ).where(E.id.in_(sorted(set(endpoint_ids))))
    return {r.id: EndpointSecrets(**r._mapping) for r in await session.execute(stmt)}


async def insert_ping(session: AsyncSession, *, endpoint_id: int, now: datetime) -> WebhookDeliveryRow:
    """A PING delivery (no event), due now; its webhook-id names the delivery itself."""
    next_id = (
        await session.execute(text("SELECT nextval(pg_get_serial_sequence('webhook_deliveries', 'id'))"))
    ).scalar_one()
    stmt = (
        insert(WEBHOOK_DELIVERIES)
        .values(
            id=next_id,
            endpoint_id=endpoint_id,
            webhook_id=f"msg_{endpoint_id}_ping_{next_id}",
            status=Status.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .returning(*columns(WEBHOOK_DELIVERIES, WebhookDeliveryRow))
    )
    return WebhookDeliveryRow.of((await session.execute(stmt)).mappings().one())


async def requeue_events(
    session: AsyncSession, *, endpoint_id: int, events: Sequence[tuple[int, int, int]], now: datetime
) -> int:
    """Queue these events (id, request id, txid) again for the endpoint, due now, with their
    original webhook-id: a new row, or the existing one reset (an attempt in flight then records
    nothing: `record_attempt` no longer recognises the row, which is sent again)."""
    if not events:
        return 0
    values = [
        {
            "endpoint_id": endpoint_id,
            "event_id": event_id,
            "request_id": request_id,
            "event_txid": txid,
            "webhook_id": f"msg_{endpoint_id}_{event_id}",
            "status": Status.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event_id, request_id, txid in events
    ]
    upsert = pg_insert(WEBHOOK_DELIVERIES).values(values)
    stmt = upsert.on_conflict_do_update(
        constraint="uq_webhook_deliveries_endpoint_event",
        set_={
            "status": Status.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "delivered_at": None,
        },
    ).returning(D.id)
    return len((await session.execute(stmt)).all())


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this worker may attempt now: `attempt` is its number (1-based)."""

    id: int
    endpoint_id: int
    event_id: int | None
    webhook_id: str
    attempt: int


# Rows locked beyond what is free, for endpoints that turn out to have fewer slots left: every
# row locked is a tuple written, so the margin stays small.
_SCAN_MARGIN = 16

# Due, on an enabled endpoint, not behind an unfinished earlier event of the same request at the
# same endpoint (per-request order), and not on an endpoint this process has no free slot for.
_CLAIM = text(f"""
    SELECT d.id, d.endpoint_id, d.event_id, d.webhook_id, d.attempts
    FROM webhook_deliveries d
    JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled
    WHERE d.status IN {UNFINISHED!r} AND d.next_attempt_at <= :now
      AND d.endpoint_id <> ALL (:saturated)
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries p
          WHERE p.endpoint_id = d.endpoint_id AND p.request_id = d.request_id
            AND p.status IN {UNFINISHED!r}
            AND (p.event_txid, p.event_id) < (d.event_txid, d.event_id)
      )
    ORDER BY d.next_attempt_at, d.id
    LIMIT :scan
    FOR UPDATE OF d SKIP LOCKED
""").bindparams(bindparam("saturated", type_=ARRAY(BigInteger)))


async def earliest_due(session: AsyncSession) -> tuple[datetime | None, bool]:
    """When the next unfinished delivery falls due (None: nothing waits), and whether any endpoint
    is enabled at all (none: only a new event can call for a delivery)."""
    row = (
        await session.execute(
            select(
                select(func.min(D.next_attempt_at))
                .where(D.status.in_(("PENDING", "RETRYING")))
                .scalar_subquery(),
                select(E.id).where(E.enabled).limit(1).exists(),
            )
        )
    ).one()
    return row[0], bool(row[1])


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    lease: timedelta,
    free: int,
    free_per_endpoint: Mapping[int, int],
    per_endpoint: int,
) -> list[ClaimedDelivery]:
    """Claim up to `free` due deliveries, at most `per_endpoint` (or what `free_per_endpoint`
    says is left) per endpoint, for one attempt each.

    Rows locked by another worker are skipped; a claimed row's next attempt moves to
    `now + lease`, so nobody else takes it while it is sent, and another worker retries it if
    this process dies before recording the result. Commit right after.
    """
    if free < 1:
        return []
    saturated = sorted(ep for ep, left in free_per_endpoint.items() if left < 1)
    rows = (
        await session.execute(_CLAIM, {"now": now, "saturated": saturated, "scan": free + _SCAN_MARGIN})
    ).all()
    picked: list[ClaimedDelivery] = []
    taken: dict[int, int] = {}
    for row in rows:
        left = free_per_endpoint.get(row.endpoint_id, per_endpoint) - taken.get(row.endpoint_id, 0)
        if left < 1:
            continue
        taken[row.endpoint_id] = taken.get(row.endpoint_id, 0) + 1
        picked.append(
            ClaimedDelivery(row.id, row.endpoint_id, row.event_id, row.webhook_id, row.attempts + 1)
        )
        if len(picked) >= free:
            break
    if picked:
        await session.execute(
            update(WEBHOOK_DELIVERIES)
            .where(D.id.in_([c.id for c in picked]))
            .values(attempts=D.attempts + 1, next_attempt_at=now + lease)
        )
    return picked


async def record_attempt(
    session: AsyncSession, *, delivery_id: int, attempt: int, values: Mapping[str, Any]
) -> int | None:
    """Write an attempt's result when the row is still this attempt's (not re-claimed after its
    lease ran out, nor reset by a redelivery); the endpoint id, None when it was not."""
    stmt = (
        update(WEBHOOK_DELIVERIES)
        .where(D.id == delivery_id, D.attempts == attempt, D.status.in_(UNFINISHED))
        .values(**values)
        .returning(D.endpoint_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def delivery_endpoint(
    session: AsyncSession, *, delivery_id: int, lock: bool
) -> WebhookEndpointRow | None:
    """The endpoint of a delivery (locked FOR UPDATE when `lock`)."""
    stmt = select(*columns(WEBHOOK_ENDPOINTS, WebhookEndpointRow)).where(
        E.id == select(D.endpoint_id).where(D.id == delivery_id).scalar_subquery()
    )
    if lock:
        # Not FOR UPDATE: inserting a delivery (the events' trigger) takes FOR KEY SHARE on its
        # endpoint, which NO KEY UPDATE does not block.
        stmt = stmt.with_for_update(key_share=True)  # FOR NO KEY UPDATE
    found = (await session.execute(stmt)).mappings().first()
    return None if found is None else WebhookEndpointRow.of(found)


async def healthy_endpoints_of(session: AsyncSession, *, delivery_ids: Sequence[int]) -> set[int]:
    """Which of these deliveries belong to an endpoint that has succeeded and is not failing."""
    if not delivery_ids:
        return set()
    stmt = (
        select(D.id)
        .join(WEBHOOK_ENDPOINTS, E.id == D.endpoint_id)
        .where(D.id.in_(sorted(delivery_ids)), E.failing_since.is_(None), E.last_success_at.is_not(None))
    )
    return set((await session.execute(stmt)).scalars())


_DELIVERED = text(f"""
    UPDATE webhook_deliveries d
    SET status = 'DELIVERED', next_attempt_at = NULL, delivered_at = :now, last_status_code = :status_code,
        last_error = NULL, last_response_body = :response_body
    WHERE d.id = :delivery_id AND d.attempts = :attempt AND d.status IN {UNFINISHED!r}
""")


async def record_deliveries(
    session: AsyncSession, *, rows: Sequence[Mapping[str, Any]], now: datetime
) -> None:
    """Successful attempts (delivery_id, attempt, status_code, response_body) in one round trip;
    a row that is no longer that attempt's is left as it is (see `record_attempt`)."""
    if rows:
        await session.execute(_DELIVERED, [{**row, "now": now} for row in rows])


async def delete_delivery(session: AsyncSession, *, delivery_id: int) -> None:
    """Drop a delivery its endpoint's owner may not see (the sender's check found it so)."""
    await session.execute(delete(WEBHOOK_DELIVERIES).where(D.id == delivery_id))
