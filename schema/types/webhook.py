"""Partner webhooks (WEBHOOKS.md): an endpoint and one delivery of its log."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.enums import RequestEventKind, WebhookDeliveryStatus
from records.events import EventRow
from records.webhooks import WebhookDeliveryRow, WebhookEndpointRow
from schema import ids
from schema.types.node import Node
from schema.types.timeline import RequestEvent

__all__ = ["WebhookDelivery", "WebhookEndpoint"]


@strawberry.type(description="An HTTPS destination receiving signed request events (Standard Webhooks).")
class WebhookEndpoint(Node):
    url: str
    description: str | None
    event_kinds: list[RequestEventKind]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    owner_client_id: str | None = strawberry.field(
        description="The partner owning it; null for an endpoint an ADMIN registered for everything."
    )

    @classmethod
    def from_row(cls, row: WebhookEndpointRow, owner_client_id: str | None) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(ids.encode("WebhookEndpoint", row.id)),
            url=row.url,
            description=row.description,
            event_kinds=[RequestEventKind(k) for k in row.event_kinds],
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            created_at=row.created_at,
            owner_client_id=owner_client_id,
        )


@strawberry.type(description="One event (or PING) for one endpoint, with its attempts so far.")
class WebhookDelivery(Node):
    endpoint: WebhookEndpoint
    event: RequestEvent | None = strawberry.field(description="Null for PING.")
    webhook_id: str
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_response_body: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_row(
        cls, row: WebhookDeliveryRow, *, endpoint: WebhookEndpoint, event: EventRow | None
    ) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(ids.encode("WebhookDelivery", row.id)),
            endpoint=endpoint,
            event=None if event is None else RequestEvent.from_row(event),
            webhook_id=row.webhook_id,
            status=WebhookDeliveryStatus(row.status),
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            last_response_body=row.last_response_body,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )
