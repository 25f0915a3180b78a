"""Webhook endpoints and deliveries (WEBHOOKS.md): keyword-only functions over the caller's session.

Deliveries of events are inserted by the trigger of migration 0013 in the
event's transaction; here are the PINGs, redeliveries, the worker's claim
(`FOR UPDATE SKIP LOCKED`, a lease instead of a held transaction) and the
recording of an attempt. Nothing commits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select, text, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.tables import WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, columns
from domain.enums import WebhookDeliveryStatus as Status
from records.webhooks import WebhookDeliveryRow, WebhookEndpointRow

__all__ = [
    "ClaimedDelivery",
    "EndpointSecrets",
    "claim_due",
    "delete_deliveries",
    "delete_endpoint",
    "earliest_due",
    "endpoint_secrets",
    "insert_endpoint",
    "insert_ping",
    "lock_endpoint",
    "lock_endpoints_of",
    "owned_by",
    "record_attempts",
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


# Rows looked at beyond what is free, per endpoint: deliveries held back by an earlier event of
# their request are moved out of the way (see `claim_due`), so a few more are enough.
_SCAN_MARGIN = 8

# Per enabled endpoint with a free slot in this process, its earliest due deliveries (the
# (endpoint_id, next_attempt_at, id) index; a dead endpoint's backlog is never scanned for the
# others). A delivery behind an unfinished earlier event of the same request at the same endpoint
# (per-request order) is not taken: it is parked until that earlier one is due again (its
# `next_attempt_at`), and released when it finishes (`_RELEASE`), so it is not looked at on every
# claim meanwhile. Not when the earlier one is this process's own attempt whose result is not
# written yet: that write releases it, possibly between this statement's snapshot and its locks,
# and would miss the parking. The rest, up to each endpoint's free slots and `free` overall,
# earliest first, are claimed: their attempt counted, their next attempt moved one lease ahead.
_CLAIM = text(f"""
    WITH slots AS (
        SELECT w.id AS endpoint_id, coalesce(f.free, :per_endpoint) AS free
        FROM webhook_endpoints w
        LEFT JOIN unnest(CAST(:busy_ids AS bigint[]), CAST(:busy_free AS int[])) AS f(endpoint_id, free)
               ON f.endpoint_id = w.id
        WHERE w.enabled AND coalesce(f.free, :per_endpoint) > 0
    ),
    scanned AS (
        SELECT s.free, c.*
        FROM slots s
        CROSS JOIN LATERAL (
            SELECT d.id, d.endpoint_id, d.request_id, d.event_txid, d.event_id, d.next_attempt_at
            FROM webhook_deliveries d
            WHERE d.endpoint_id = s.endpoint_id AND d.status IN {UNFINISHED!r}
              AND d.next_attempt_at <= :now
            ORDER BY d.next_attempt_at, d.id
            LIMIT s.free + {_SCAN_MARGIN}
            FOR UPDATE SKIP LOCKED
        ) c
    ),
    judged AS (
        SELECT sc.*, head.id AS head_id, head.next_attempt_at AS head_due
        FROM scanned sc
        LEFT JOIN LATERAL (
            SELECT p.id, p.next_attempt_at
            FROM webhook_deliveries p
            WHERE p.endpoint_id = sc.endpoint_id AND p.request_id = sc.request_id
              AND p.status IN {UNFINISHED!r}
              AND (p.event_txid, p.event_id) < (sc.event_txid, sc.event_id)
            ORDER BY p.event_txid, p.event_id
            LIMIT 1
        ) head ON true
    ),
    ranked AS (
        SELECT j.id, j.next_attempt_at, j.free,
               row_number() OVER (PARTITION BY j.endpoint_id ORDER BY j.next_attempt_at, j.id) AS n
        FROM judged j
        WHERE j.head_due IS NULL
    ),
    picked AS (
        SELECT r.id FROM ranked r WHERE r.n <= r.free ORDER BY r.next_attempt_at, r.id LIMIT :free
    ),
    changes AS (
        SELECT id, true AS claimed, CAST(:lease_until AS timestamptz) AS next_at FROM picked
        UNION ALL
        SELECT id, false, head_due FROM judged
        WHERE head_due > :now AND head_id <> ALL (CAST(:unrecorded AS bigint[]))
    )
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + CASE WHEN c.claimed THEN 1 ELSE 0 END, next_attempt_at = c.next_at
    FROM changes c
    WHERE d.id = c.id
    RETURNING d.id, d.endpoint_id, d.event_id, d.webhook_id, d.attempts, c.claimed
""")

# When a delivery finishes (delivered, finally failed, dropped), the later unattempted deliveries of
# its request at its endpoint are due at once (they may have been parked behind it). Not narrowed
# to parked rows: it waits for a claim that is parking one of them right now, then releases it.
_RELEASE = f"""
    UPDATE webhook_deliveries s SET next_attempt_at = LEAST(s.next_attempt_at, :now)
    FROM finished f
    WHERE s.endpoint_id = f.endpoint_id AND s.request_id = f.request_id
      AND s.status IN {UNFINISHED!r} AND s.attempts = 0
      AND (s.event_txid, s.event_id) > (f.event_txid, f.event_id)
"""


async def earliest_due(session: AsyncSession) -> tuple[datetime | None, bool]:
    """When the next unfinished delivery of an enabled endpoint falls due (None: nothing waits),
    and whether any endpoint is enabled at all (none: only a new event can call for a delivery)."""
    row = (
        await session.execute(
            text(f"""
                SELECT min(n.next_attempt_at), count(*) > 0
                FROM webhook_endpoints w
                LEFT JOIN LATERAL (
                    SELECT d.next_attempt_at FROM webhook_deliveries d
                    WHERE d.endpoint_id = w.id AND d.status IN {UNFINISHED!r}
                    ORDER BY d.next_attempt_at LIMIT 1
                ) n ON true
                WHERE w.enabled
            """)
        )
    ).one()
    return row[0], bool(row[1])


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    lease: timedelta,
    free: int,
    in_flight: Mapping[int, int],
    per_endpoint: int,
    unrecorded: Collection[int] = (),
) -> list[ClaimedDelivery]:
    """Claim up to `free` due deliveries, at most `per_endpoint` per endpoint less what this
    process has `in_flight` there, for one attempt each, in one statement (commit right after, or
    run it in autocommit).

    Rows locked by another worker are skipped; a claimed row's next attempt moves to
    `now + lease`, so nobody else takes it while it is sent, and another worker retries it if
    this process dies before recording the result. `unrecorded`: the deliveries this process
    claimed and has not recorded the result of yet.
    """
    if free < 1:
        return []
    busy = sorted((ep, n) for ep, n in in_flight.items() if n > 0)
    rows = await session.execute(
        _CLAIM,
        {
            "now": now,
            "lease_until": now + lease,
            "free": free,
            "per_endpoint": per_endpoint,
            "busy_ids": [ep for ep, _ in busy],
            "busy_free": [max(per_endpoint - n, 0) for _, n in busy],
            "unrecorded": sorted(unrecorded),
        },
    )
    picked = [
        ClaimedDelivery(row.id, row.endpoint_id, row.event_id, row.webhook_id, row.attempts)
        for row in rows
        if row.claimed
    ]
    picked.sort(key=lambda c: c.id)
    return picked


_RECORD = text(f"""
    WITH reports AS (
        SELECT * FROM unnest(
            CAST(:ids AS bigint[]), CAST(:attempts AS int[]), CAST(:statuses AS text[]),
            CAST(:next_attempts AS timestamptz[]), CAST(:delivered AS timestamptz[]), CAST(:codes AS int[]),
            CAST(:errors AS text[]), CAST(:bodies AS text[])
        ) AS r(delivery_id, attempt, status, next_attempt_at, delivered_at, status_code, error, body)
    ),
    written AS (
        UPDATE webhook_deliveries d
        SET status = r.status, next_attempt_at = r.next_attempt_at, delivered_at = r.delivered_at,
            last_status_code = r.status_code, last_error = r.error, last_response_body = r.body
        FROM reports r
        WHERE d.id = r.delivery_id AND d.attempts = r.attempt AND d.status IN {UNFINISHED!r}
        RETURNING d.id, d.status, d.endpoint_id, d.request_id, d.event_txid, d.event_id
    ),
    finished AS (SELECT * FROM written WHERE status NOT IN {UNFINISHED!r}),
    released AS ({_RELEASE} RETURNING s.id)
    SELECT id FROM written
""")


async def record_attempts(
    session: AsyncSession, *, rows: Sequence[Mapping[str, Any]], now: datetime
) -> set[int]:
    """Write attempts' results (delivery_id, attempt, status, next_attempt_at, delivered_at,
    last_status_code, last_error, last_response_body) in one statement, each only when the row is
    still that attempt's (not re-claimed after its lease ran out, nor reset by a redelivery); the
    ids written. What waited behind a delivery that finished is released."""
    if not rows:
        return set()
    result = await session.execute(
        _RECORD,
        {
            "ids": [r["delivery_id"] for r in rows],
            "attempts": [r["attempt"] for r in rows],
            "statuses": [r["status"] for r in rows],
            "next_attempts": [r["next_attempt_at"] for r in rows],
            "delivered": [r["delivered_at"] for r in rows],
            "codes": [r["last_status_code"] for r in rows],
            "errors": [r["last_error"] for r in rows],
            "bodies": [r["last_response_body"] for r in rows],
            "now": now,
        },
    )
    return set(result.scalars())


async def lock_endpoints_of(
    session: AsyncSession, *, delivery_ids: Sequence[int]
) -> dict[int, WebhookEndpointRow]:
    """The endpoint of each delivery (by delivery id), locked FOR NO KEY UPDATE (in id order).

    Not FOR UPDATE: inserting a delivery (the events' trigger) takes FOR KEY SHARE on its
    endpoint, which NO KEY UPDATE does not block.
    """
    if not delivery_ids:
        return {}
    locked = (
        select(*columns(WEBHOOK_ENDPOINTS, WebhookEndpointRow))
        .where(E.id.in_(select(D.endpoint_id).where(D.id.in_(sorted(set(delivery_ids))))))
        .order_by(E.id)
        .with_for_update(key_share=True)
    )
    endpoints = {r["id"]: WebhookEndpointRow.of(r) for r in (await session.execute(locked)).mappings()}
    owners = select(D.id, D.endpoint_id).where(D.id.in_(sorted(set(delivery_ids))))
    return {
        row.id: endpoints[row.endpoint_id]
        for row in await session.execute(owners)
        if row.endpoint_id in endpoints
    }


# Successes at endpoints that have succeeded before and are not failing change nothing but their
# delivery (no endpoint lock): many in one statement. A row no longer that attempt's (re-claimed
# after its lease ran out, reset by a redelivery) is left as it is.
_DELIVERED = text(f"""
    WITH reports AS (
        SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[]), CAST(:codes AS int[]),
                             CAST(:bodies AS text[])) AS r(delivery_id, attempt, status_code, response_body)
    ),
    finished AS (
        UPDATE webhook_deliveries d
        SET status = 'DELIVERED', next_attempt_at = NULL, delivered_at = :now,
            last_status_code = r.status_code, last_error = NULL, last_response_body = r.response_body
        FROM reports r, webhook_endpoints w
        WHERE d.id = r.delivery_id AND d.attempts = r.attempt AND d.status IN {UNFINISHED!r}
          AND w.id = d.endpoint_id AND w.failing_since IS NULL AND w.last_success_at IS NOT NULL
        RETURNING d.id, d.endpoint_id, d.request_id, d.event_txid, d.event_id
    ),
    released AS ({_RELEASE} RETURNING s.id)
    SELECT id FROM finished
""")


async def record_deliveries(
    session: AsyncSession, *, rows: Sequence[Mapping[str, Any]], now: datetime
) -> set[int]:
    """Successful attempts (delivery_id, attempt, status_code, response_body) at healthy endpoints,
    in one statement; the ids written. The others (an endpoint failing or never successful, or a
    row no longer that attempt's) are left for `record_attempt`."""
    if not rows:
        return set()
    result = await session.execute(
        _DELIVERED,
        {
            "ids": [r["delivery_id"] for r in rows],
            "attempts": [r["attempt"] for r in rows],
            "codes": [r["status_code"] for r in rows],
            "bodies": [r["response_body"] for r in rows],
            "now": now,
        },
    )
    return set(result.scalars())


async def delete_deliveries(session: AsyncSession, *, delivery_ids: Sequence[int], now: datetime) -> None:
    """Drop deliveries their endpoint's owner may not see (the sender's check found it so), and
    release what waited behind them."""
    if delivery_ids:
        await session.execute(
            text(f"""
                WITH finished AS (
                    DELETE FROM webhook_deliveries WHERE id = ANY (CAST(:ids AS bigint[]))
                    RETURNING endpoint_id, request_id, event_txid, event_id
                )
                {_RELEASE}
            """),
            {"ids": sorted(delivery_ids), "now": now},
        )
