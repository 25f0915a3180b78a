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
from domain.webhooks import MAX_RESPONSE_BODY, RETRY_SCHEDULE, AttemptResult, Outcome, outcome
from records.webhooks import WebhookEndpointRow

__all__ = ["AttemptReport", "record_attempts", "record_successes"]


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
    """Write attempts' results in the caller's transaction; the endpoints this disabled.

    Each report's endpoint is locked (so concurrent results build one failure record), every
    delivery written by one statement, and each endpoint's record (its failing streak, last
    success, disabling: audited) updated once, as the results in delivery order make it.
    Nothing is written for a delivery that is no longer the attempt's (its lease ran out and
    another worker took it, or it was redelivered meanwhile), nor does it count for its endpoint.
    """
    if not reports:
        return []
    ordered = sorted(reports, key=lambda r: r.delivery_id)
    endpoints = await repo.lock_endpoints_of(uow.session, delivery_ids=[r.delivery_id for r in ordered])
    ordered = [r for r in ordered if r.delivery_id in endpoints]
    rows = []
    for endpoint_id, mine in _by_endpoint(ordered, endpoints).items():
        failing_since = endpoints[mine[0].delivery_id].failing_since
        for report in mine:
            result = _outcome(report, uow, failing_since, schedule, random)
            failing_since = result.failing_since
            body = None if report.response_body is None else report.response_body[:MAX_RESPONSE_BODY]
            rows.append(
                {
                    "delivery_id": report.delivery_id,
                    "attempt": report.attempt,
                    "endpoint_id": endpoint_id,
                    "status": result.status.value,
                    "next_attempt_at": result.next_attempt_at,
                    "delivered_at": result.delivered_at,
                    "last_status_code": report.status_code,
                    "last_error": report.error,
                    "last_response_body": body,
                }
            )
    written = await repo.record_attempts(uow.session, rows=rows, now=uow.now)
    disabled = []
    for mine in _by_endpoint([r for r in ordered if r.delivery_id in written], endpoints).values():
        endpoint = endpoints[mine[0].delivery_id]
        row = await _update_endpoint(uow, endpoint, mine, schedule, random)
        if row is not None:
            disabled.append(row)
    return disabled


def _by_endpoint(
    reports: Sequence[AttemptReport], endpoints: dict[int, WebhookEndpointRow]
) -> dict[int, list[AttemptReport]]:
    grouped: dict[int, list[AttemptReport]] = {}
    for report in reports:
        grouped.setdefault(endpoints[report.delivery_id].id, []).append(report)
    return grouped


def _outcome(
    report: AttemptReport,
    uow: UnitOfWork,
    failing_since: datetime | None,
    schedule: Sequence[timedelta],
    random: Callable[[], float],
) -> Outcome:
    return outcome(
        result=report.result,
        attempts=report.attempt,
        now=uow.now,
        failing_since=failing_since,
        random=random,
        schedule=schedule,
    )


async def _update_endpoint(
    uow: UnitOfWork,
    endpoint: WebhookEndpointRow,
    reports: Sequence[AttemptReport],
    schedule: Sequence[timedelta],
    random: Callable[[], float],
) -> WebhookEndpointRow | None:
    """The endpoint's record after these (written) results; the endpoint when they disabled it."""
    failing_since = endpoint.failing_since
    values: dict[str, object] = {}
    reason = None
    for report in reports:
        result = _outcome(report, uow, failing_since, schedule, random)
        failing_since = result.failing_since
        if result.delivered_at is not None:
            values["last_success_at"] = result.delivered_at
        reason = reason or result.disable_reason
    if failing_since != endpoint.failing_since:
        values["failing_since"] = failing_since
    disable = reason is not None and endpoint.enabled
    if disable:
        values["enabled"] = False
        values["disabled_reason"] = reason
    if not values:
        return None
    row = await repo.update_endpoint(uow.session, endpoint_id=endpoint.id, values=values)
    if not disable:
        return None
    uow.audit(
        "webhook_endpoint.disable",
        "WebhookEndpoint",
        endpoint.id,
        {"enabled": True},
        {"enabled": False, "disabledReason": reason},
    )
    return row
