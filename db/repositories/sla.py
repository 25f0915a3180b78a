"""The SLA engine's queries: the earliest pending check, claiming due requests, writing alerts.

`next_sla_check_at` (partial index, WHERE NOT NULL) is the engine's whole
schedule: it reads the minimum to know how long to sleep, and claims due rows
with FOR UPDATE SKIP LOCKED so that several server processes share the work
and each row is handled by exactly one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Boolean, DateTime, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.tables import REQUESTS, columns
from records.rows import RequestRow

__all__ = [
    "SlaStamps",
    "claim_due",
    "defer_check",
    "earliest_check",
    "schedule_auto_closes",
    "write_sla_stamps",
]

R = REQUESTS.c
_TZ = DateTime(timezone=True)


async def earliest_check(conn: AsyncConnection | AsyncSession) -> datetime | None:
    """The earliest `next_sla_check_at` of any request (None: nothing is pending anywhere)."""
    stmt = select(R.next_sla_check_at).where(R.next_sla_check_at.is_not(None))
    stmt = stmt.order_by(R.next_sla_check_at).limit(1)
    return await conn.scalar(stmt)


async def claim_due(
    session: AsyncSession, *, now: datetime, limit: int, request_id: int | None = None
) -> list[RequestRow]:
    """Lock up to `limit` requests whose check is due, earliest first, skipping rows another
    transaction holds (a user's mutation or another engine): those are retried later.

    `request_id` restricts the claim to one request (isolating a request that failed).
    """
    stmt = select(*columns(REQUESTS, RequestRow)).where(R.next_sla_check_at <= now)
    if request_id is not None:
        stmt = stmt.where(R.id == request_id)
    stmt = stmt.order_by(R.next_sla_check_at).limit(limit).with_for_update(skip_locked=True)
    # `columns` selects the fields in declaration order: positional construction is exact and
    # skips the per-row name lookups of `RequestRow.of` (a batch holds up to `limit` rows).
    return [RequestRow(*row) for row in await session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class SlaStamps:
    """What one engine pass writes to one claimed request.

    A None stamp keeps the stored value. `changed` is True when alerts were
    emitted (version + 1, updated_at); rescheduling alone is no change to the
    request and leaves both alone.
    """

    request_id: int
    next_check_at: datetime | None
    changed: bool
    first_response_at_risk_at: datetime | None = None
    resolution_at_risk_at: datetime | None = None
    first_response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None


_WRITE = text(
    """
    UPDATE service_requests AS r SET
        first_response_at_risk_at = coalesce(r.first_response_at_risk_at, v.fr_risk),
        resolution_at_risk_at = coalesce(r.resolution_at_risk_at, v.res_risk),
        first_response_breached_at = coalesce(r.first_response_breached_at, v.fr_breach),
        resolution_breached_at = coalesce(r.resolution_breached_at, v.res_breach),
        next_sla_check_at = v.next_check,
        version = r.version + CASE WHEN v.changed THEN 1 ELSE 0 END,
        updated_at = CASE WHEN v.changed THEN :now ELSE r.updated_at END
    FROM unnest(:ids, :fr_risk, :res_risk, :fr_breach, :res_breach, :next_check, :changed)
         AS v(id, fr_risk, res_risk, fr_breach, res_breach, next_check, changed)
    WHERE r.id = v.id
    """
).bindparams(
    bindparam("ids", type_=ARRAY(BigInteger)),
    bindparam("fr_risk", type_=ARRAY(_TZ)),
    bindparam("res_risk", type_=ARRAY(_TZ)),
    bindparam("fr_breach", type_=ARRAY(_TZ)),
    bindparam("res_breach", type_=ARRAY(_TZ)),
    bindparam("next_check", type_=ARRAY(_TZ)),
    bindparam("changed", type_=ARRAY(Boolean)),
    bindparam("now", type_=_TZ),
)


async def write_sla_stamps(session: AsyncSession, *, stamps: Sequence[SlaStamps], now: datetime) -> None:
    """Write the stamps of a whole batch in one statement (the rows are locked by `claim_due`)."""
    if not stamps:
        return
    await session.execute(
        _WRITE,
        {
            "ids": [s.request_id for s in stamps],
            "fr_risk": [s.first_response_at_risk_at for s in stamps],
            "res_risk": [s.resolution_at_risk_at for s in stamps],
            "fr_breach": [s.first_response_breached_at for s in stamps],
            "res_breach": [s.resolution_breached_at for s in stamps],
            "next_check": [s.next_check_at for s in stamps],
            "changed": [s.changed for s in stamps],
            "now": now,
        },
    )


async def defer_check(session: AsyncSession, *, request_id: int, until: datetime) -> None:
    """Move a request's check to `until` (a request the engine failed on must not block the rest)."""
    await session.execute(
        text("UPDATE service_requests SET next_sla_check_at = :until WHERE id = :id"),
        {"until": until, "id": request_id},
    )


async def schedule_auto_closes(session: AsyncSession, *, auto_close_after: timedelta) -> int:
    """Give every RESOLVED request its auto-close instant as its check (resolved_at + the delay)
    where it has none or a later one (rows written before the rule existed, or with a longer
    delay than configured); the number of rows scheduled."""
    result = await session.execute(
        text(
            """
            UPDATE service_requests SET next_sla_check_at = resolved_at + :delay
            WHERE status = 'RESOLVED' AND resolved_at IS NOT NULL
              AND (next_sla_check_at IS NULL OR next_sla_check_at > resolved_at + :delay)
            """
        ),
        {"delay": auto_close_after},
    )
    return int(getattr(result, "rowcount", 0) or 0)
