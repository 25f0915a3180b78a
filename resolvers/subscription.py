"""Subscription root (graphql-transport-ws only; the token comes in connection_init).

Each field is a plain `async def` that checks the caller and the arguments
first and only then returns its event stream: a FORBIDDEN or BAD_USER_INPUT
therefore arrives as the protocol's `error` message, before any event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from resolvers.context import Context
from resolvers.subscriptions.approvals import approval_requests
from resolvers.subscriptions.events import request_events, sla_alerts
from schema.inputs import RequestEventFilter
from schema.types.approval import Approval
from schema.types.timeline import RequestEvent, SlaAlert

__all__ = ["Subscription"]

Ctx = Info[Context, None]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Live events the viewer may see. With `after`, first replays every event\n"
            "after that cursor (in order, none missed, none twice), then continues live."
        )
    )
    async def request_events(
        self, info: Ctx, filter: RequestEventFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[RequestEvent, None]:
        return await request_events(info.context, filter, after)

    @strawberry.subscription(
        description="SLA_AT_RISK and SLA_BREACHED alerts for staff, optionally for one team."
    )
    async def sla_alerts(
        self, info: Ctx, team_id: strawberry.ID | None = None, after: str | None = None
    ) -> AsyncGenerator[SlaAlert, None]:
        return await sla_alerts(info.context, team_id, after)

    @strawberry.subscription(description="New PENDING approvals the viewer may decide.")
    async def approval_requests(self, info: Ctx) -> AsyncGenerator[Approval, None]:
        return await approval_requests(info.context)
