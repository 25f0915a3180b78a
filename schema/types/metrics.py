"""GraphQL vocabulary of the `metrics` query: ServiceMetrics and its parts, the MetricsFilter input."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.enums import RequestType
from schema.types.money import Money

__all__ = ["AgingBucket", "CountByKey", "DurationStats", "MetricsFilter", "ServiceMetrics"]


@strawberry.type
class DurationStats:
    count: int
    average_seconds: float | None
    p50_seconds: float | None
    p90_seconds: float | None


@strawberry.type
class CountByKey:
    key: str
    count: int


@strawberry.type
class AgingBucket:
    label: str = strawberry.field(description="e.g. '0-1d', '1-3d', '3-7d', '7d+'")
    count: int


@strawberry.type(
    description="Service and financial metrics over requests created in [from, to) that match the filter."
)
class ServiceMetrics:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    created_count: int
    resolved_count: int
    open_count: int
    by_status: list[CountByKey]
    by_type: list[CountByKey]
    by_channel: list[CountByKey]
    by_priority: list[CountByKey]
    first_response_time: DurationStats
    resolution_time: DurationStats
    sla_compliance: float | None = strawberry.field(
        description="Share of requests with a resolution due in the window that met it (0..1); "
        "null when none was due."
    )
    breached_count: int
    at_risk_count: int
    backlog_aging: list[AgingBucket]
    disputed_amount_open: list[Money] = strawberry.field(
        description="Open financial impact of open billing disputes, per currency."
    )
    adjustments_posted: list[Money] = strawberry.field(
        description="Net adjustments posted in the window, per currency: credit memos and write-offs "
        "count positive, debit memos negative."
    )
    approval_turnaround: DurationStats
    reopen_rate: float | None = strawberry.field(
        description="Share of resolved requests that were reopened (0..1); null when none resolved."
    )


@strawberry.input
class MetricsFilter:
    from_: datetime | None = strawberry.field(name="from", default=None)
    to: datetime | None = None
    team_id: strawberry.ID | None = None
    customer_id: strawberry.ID | None = None
    type: list[RequestType] | None = None
