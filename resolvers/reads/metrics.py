"""The `metrics` query: authorize, read the filter, run the one metrics statement, shape the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import Capability
from reporting.metrics import DEFAULT_WINDOW, DurationRow, MetricsRow, metrics_window, service_metrics
from schema import ids
from schema.errors import BadUserInput
from schema.types.metrics import AgingBucket, CountByKey, DurationStats, MetricsFilter, ServiceMetrics
from schema.types.money import money

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["DEFAULT_WINDOW", "resolve_metrics"]


def _duration(row: DurationRow) -> DurationStats:
    return DurationStats(
        count=row.count,
        average_seconds=row.average_seconds,
        p50_seconds=row.p50_seconds,
        p90_seconds=row.p90_seconds,
    )


def _graphql(row: MetricsRow) -> ServiceMetrics:
    return ServiceMetrics(
        from_=row.start,
        to=row.end,
        created_count=row.created_count,
        resolved_count=row.resolved_count,
        open_count=row.open_count,
        by_status=[CountByKey(key=c.key, count=c.count) for c in row.by_status],
        by_type=[CountByKey(key=c.key, count=c.count) for c in row.by_type],
        by_channel=[CountByKey(key=c.key, count=c.count) for c in row.by_channel],
        by_priority=[CountByKey(key=c.key, count=c.count) for c in row.by_priority],
        first_response_time=_duration(row.first_response_time),
        resolution_time=_duration(row.resolution_time),
        sla_compliance=row.sla_compliance,
        breached_count=row.breached_count,
        at_risk_count=row.at_risk_count,
        backlog_aging=[AgingBucket(label=b.label, count=b.count) for b in row.backlog_aging],
        disputed_amount_open=[money(m.amount, m.currency) for m in row.disputed_amount_open],
        adjustments_posted=[money(m.amount, m.currency) for m in row.adjustments_posted],
        approval_turnaround=_duration(row.approval_turnaround),
        reopen_rate=row.reopen_rate,
    )


async def resolve_metrics(ctx: Context, filter: MetricsFilter | None) -> ServiceMetrics:
    """ServiceMetrics for staff and auditors with scope metrics:read (FORBIDDEN otherwise).

    `to` defaults to now, `from` to 30 days before `to`; from >= to, or an
    unparsable ID, is BAD_USER_INPUT. A well-formed ID of another type than
    Team / Customer, like an empty `type` list, matches no request (schema.ids).
    """
    ctx.require(Capability.READ_METRICS)
    principal = ctx.principal
    given = filter or MetricsFilter()
    now = ctx.now()
    window = metrics_window(given.from_, given.to, now)
    if window is None:
        raise BadUserInput("filter: `from` must be before `to`")
    start, end = window
    team_id, team_possible = ids.decode_optional_as(given.team_id, "Team")
    customer_id, customer_possible = ids.decode_optional_as(given.customer_id, "Customer")
    types = None if given.type is None else sorted({str(t) for t in given.type})
    # Staff see every customer (None). An impossible filter sees none: every figure is empty.
    visible = principal.customer_ids if team_possible and customer_possible else frozenset()
    async with ctx.services.engine.connect() as conn:
        row = await service_metrics(
            conn,
            start=start,
            end=end,
            now=now,
            team_id=team_id,
            customer_id=customer_id,
            types=types,
            customer_ids=visible,
        )
    return _graphql(row)
