"""What an attempt's answer does (WEBHOOKS.md): the delivery's next state by the retry schedule,
and its endpoint's failure record, disabled (an audited change) on 410 or after 5 days of failing.

The delivery worker (server.webhook_sender) sends; this records: successes at healthy endpoints
many at once (`record_successes`), everything else in a unit of work (`record_attempts`).
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories import webhooks as repo
from db.uow import UnitOfWork
from domain.enums import WebhookDeliveryStatus as DeliveryStatus
from domain.webhooks import MAX_RESPONSE_BODY, RETRY_SCHEDULE, AttemptResult, outcome
from records.webhooks import WebhookEndpointRow

__all__ = ["AttemptReport", "record_attempt", "record_attempts", "record_successes"]


@dataclass(frozen=True, slots=True)
class AttemptReport:
    """One attempt as the sender saw it."""

    delivery_id: int
    attempt: int
    result: AttemptResult
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None


async def record_successes(
    session: AsyncSession, *, reports: Sequence[AttemptReport], now: datetime
) -> set[int]:
    """The hot path: successes at endpoints that are not failing change nothing but their delivery,
    all written by one statement (autocommit will do); the delivery ids written. Every report not
    written (a failing endpoint's, or one no longer that attempt's) goes to `record_attempts`."""
    return await repo.record_deliveries(
        session,
        rows=[
            {
                "delivery_id": r.delivery_id,
                "attempt": r.attempt,
                "status_code": r.status_code,
                "response_body": None if r.response_body is None else r.response_body[:MAX_RESPONSE_BODY],
            }
            for r in reports
            if r.result is AttemptResult.SUCCESS
        ],
        now=now,
    )


async def record_attempts(
    uow: UnitOfWork,
    *,
    reports: Sequence[AttemptReport],
    schedule: Sequence[timedelta] = RETRY_SCHEDULE,
    random: Callable[[], float] = _random.random,
) -> list[WebhookEndpointRow]:
    """Write many attempts' results in the caller's transaction, one by one (`record_attempt`);
    the endpoints this disabled."""
    disabled = []
    for report in reports:
        endpoint = await record_attempt(uow, report=report, schedule=schedule, random=random)
        if endpoint is not None:
            disabled.append(endpoint)
    return disabled


async def record_attempt(
    uow: UnitOfWork,
    *,
    report: AttemptReport,
    schedule: Sequence[timedelta] = RETRY_SCHEDULE,
    random: Callable[[], float] = _random.random,
) -> WebhookEndpointRow | None:
    """Write the attempt's result; the endpoint when this disabled it, else None.

    Nothing is written when the delivery is no longer this attempt's (its lease ran out and
    another worker took it, or it was redelivered meanwhile).
    """
    # A success on a healthy endpoint changes nothing of the endpoint: no lock (the hot path).
    # Anything else locks it, so concurrent results build one failure record.
    quiet = report.result is AttemptResult.SUCCESS
    endpoint = await repo.delivery_endpoint(uow.session, delivery_id=report.delivery_id, lock=False)
    if endpoint is None:
        return None
    quiet = quiet and endpoint.failing_since is None and endpoint.last_success_at is not None
    if not quiet:
        endpoint = await repo.delivery_endpoint(uow.session, delivery_id=report.delivery_id, lock=True)
        if endpoint is None:
            return None
    result = outcome(
        result=report.result,
        attempts=report.attempt,
        now=uow.now,
        failing_since=endpoint.failing_since,
        random=random,
        schedule=schedule,
    )
    body = None if report.response_body is None else report.response_body[:MAX_RESPONSE_BODY]
    written = await repo.record_attempt(
        uow.session,
        delivery_id=report.delivery_id,
        attempt=report.attempt,
        values={
            "status": result.status.value,
            "next_attempt_at": result.next_attempt_at,
            "delivered_at": result.delivered_at,
            "last_status_code": report.status_code,
            "last_error": report.error,
            "last_response_body": body,
        },
    )
    if written is None:
        return None
    if result.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        await repo.release_after(uow.session, delivery_id=report.delivery_id, now=uow.now)
    if quiet:
        return None
    values: dict[str, object] = {"failing_since": result.failing_since}
    if result.delivered_at is not None:
        values["last_success_at"] = result.delivered_at
    disable = result.disable_reason is not None and endpoint.enabled
    if disable:
        values["enabled"] = False
        values["disabled_reason"] = result.disable_reason
    if values == {"failing_since": endpoint.failing_since}:
        return None
    row = await repo.update_endpoint(uow.session, endpoint_id=endpoint.id, values=values)
    if not disable:
        return None
    uow.audit(
        "webhook_endpoint.disable",
        "WebhookEndpoint",
        endpoint.id,
        {"enabled": True},
        {"enabled": False, "disabledReason": result.disable_reason},
    )
    return row
