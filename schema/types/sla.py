"""SLA view of a request (domain.sla.evaluate over its stored due times), policies and calendars."""

from __future__ import annotations

import functools
from datetime import datetime

import strawberry
from strawberry.types import Info

from domain.enums import Priority, SlaState, SlaTier
from domain.enums import RequestStatus as DomainStatus
from domain.sla import evaluate, paused_business_seconds
from records.rows import CalendarRow, PolicyRow, RequestRecord
from schema import ids
from schema.context import TypeContext
from schema.types.node import Node
from schema.types.ready import optional

__all__ = ["BusinessCalendar", "Sla", "SlaPolicy", "sla_of"]

Ctx = Info[TypeContext, None]


@strawberry.type
class BusinessCalendar(Node):
    row: strawberry.Private[CalendarRow]
    name: str
    time_zone: str = strawberry.field(description="IANA time zone, e.g. Europe/Berlin")

    @classmethod
    def from_row(cls, row: CalendarRow) -> BusinessCalendar:
        return cls(
            id=strawberry.ID(ids.encode("BusinessCalendar", row.id)),
            row=row,
            name=row.name,
            time_zone=row.time_zone,
        )


@strawberry.type
class SlaPolicy(Node):
    row: strawberry.Private[PolicyRow]
    name: str
    tier: SlaTier
    priority: Priority
    first_response_minutes: int
    resolution_minutes: int

    @classmethod
    def from_row(cls, row: PolicyRow) -> SlaPolicy:
        return cls(
            id=strawberry.ID(ids.encode("SlaPolicy", row.id)),
            row=row,
            name=row.name,
            tier=SlaTier(row.tier),
            priority=Priority(row.priority),
            first_response_minutes=_whole_minutes(row.first_response_seconds),
            resolution_minutes=_whole_minutes(row.resolution_seconds),
        )

    @strawberry.field(description="Business-hours calendar the targets are counted in; null means 24x7.")
    def calendar(self, info: Ctx) -> BusinessCalendar | None:
        # Synchronous when the loader holds the row (pages prime it): see schema.types.ready.
        if self.row.calendar_id is None:
            return None
        return optional(info.context.loaders.calendar, self.row.calendar_id, BusinessCalendar.from_row)


@strawberry.type
class Sla:
    policy: SlaPolicy
    state: SlaState
    first_response_due_at: datetime
    first_responded_at: datetime | None
    resolution_due_at: datetime
    remaining_seconds: int | None = strawberry.field(
        description=(
            "Seconds until the earliest due time among the unmet targets; "
            "negative once breached; null while PAUSED or once MET."
        )
    )
    paused_seconds: int
    breached_at: datetime | None


@functools.lru_cache(maxsize=256)
def _policy_view(row: PolicyRow) -> SlaPolicy:
    """`SlaPolicy.from_row`, shared by the requests (and operations) that see the same row.

    A page of 50 requests has a handful of policies; the rows are immutable and compare by
    value, so an edited policy is a new key, and the objects are only ever read.
    """
    return SlaPolicy.from_row(row)


def sla_of(ctx: TypeContext, record: RequestRecord) -> Sla:
    """The request's SLA at the operation's clock, from the record alone (it carries its policy).

    Synchronous on purpose: an async field costs a task per request in the page.
    """
    r = record.request
    policy = ctx.loaders.sla_policy_of(record)
    status = DomainStatus(r.status)
    now = ctx.now()
    view = evaluate(r.sla_snapshot(policy), now)
    paused = r.paused_seconds
    if status is DomainStatus.WAITING_ON_CUSTOMER and r.paused_at is not None:
        # The running pause counts like the stored ones: in the policy's business time.
        paused += paused_business_seconds(calendar=policy.calendar, paused_at=r.paused_at, resumed_at=now)
    return Sla(
        policy=_policy_view(record.policy),
        state=SlaState(view.state),
        first_response_due_at=r.first_response_due_at,
        first_responded_at=r.first_responded_at,
        resolution_due_at=r.resolution_due_at,
        remaining_seconds=view.remaining_seconds,
        paused_seconds=paused,
        breached_at=view.breached_at,
    )


def _whole_minutes(seconds: int) -> int:
    """A target in whole minutes, rounded up (IMPORT.md): PT10S is 1 minute, not 0."""
    return -(-seconds // 60)
