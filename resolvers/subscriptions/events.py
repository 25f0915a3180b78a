"""`requestEvents` and `slaAlerts`: the event stream, resumable with `after`, scoped per event."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from auth.permissions import Capability
from domain.enums import RequestEventKind, SlaTarget
from records.events import EventRow
from resolvers.context import Context
from resolvers.subscriptions.stream import (
    open_stream,
    optional_pk,
    parse_after,
    scoped_filter,
    stream,
    visible_event,
)
from schema.inputs import RequestEventFilter
from schema.types.timeline import RequestEvent, SlaAlert

__all__ = ["request_events", "sla_alerts"]

SLA_KINDS = frozenset({RequestEventKind.SLA_AT_RISK.value, RequestEventKind.SLA_BREACHED.value})


async def request_events(
    ctx: Context, flt: RequestEventFilter | None, after: str | None
) -> AsyncGenerator[RequestEvent, None]:
    """Check the arguments now (errors before the stream starts), then stream the visible events."""
    ctx.require(Capability.SUBSCRIBE_EVENTS)
    f = flt or RequestEventFilter()
    cursor = parse_after(after)
    request_id, request_ok = optional_pk(f.service_request_id, "ServiceRequest")
    customer_id, customer_ok = optional_pk(f.customer_id, "Customer")
    team_id, team_ok = optional_pk(f.team_id, "Team")
    hub_filter = scoped_filter(
        ctx,
        kinds=None if f.kinds is None else frozenset(RequestEventKind(k).value for k in f.kinds),
        request_id=request_id,
        customer_id=customer_id,
        team_id=team_id,
        matches_something=request_ok and customer_ok and team_ok,
    )

    async def build(row: EventRow) -> RequestEvent | None:
        if not await visible_event(ctx, row):
            return None
        return RequestEvent.from_row(row)

    return stream(ctx, open_stream(ctx, after=cursor, flt=hub_filter), build)


async def sla_alerts(
    ctx: Context, team_id: strawberry.ID | None, after: str | None
) -> AsyncGenerator[SlaAlert, None]:
    """SLA_AT_RISK / SLA_BREACHED events (written by the SLA engine) as alerts, staff only."""
    ctx.require(Capability.SUBSCRIBE_SLA_ALERTS)
    cursor = parse_after(after)
    team_pk, team_ok = optional_pk(team_id, "Team")
    hub_filter = scoped_filter(ctx, kinds=SLA_KINDS, team_id=team_pk, matches_something=team_ok)

    async def build(row: EventRow) -> SlaAlert | None:
        # An alert names its target and due time; a row without them is not one (never written so).
        if row.sla_target is None or row.due_at is None or not await visible_event(ctx, row):
            return None
        return SlaAlert(
            request_id=row.request_id,
            kind=RequestEventKind(row.kind),
            target=SlaTarget(row.sla_target),
            due_at=row.due_at,
            occurred_at=row.occurred_at,
            cursor=row.cursor_token,
        )

    return stream(ctx, open_stream(ctx, after=cursor, flt=hub_filter), build)
