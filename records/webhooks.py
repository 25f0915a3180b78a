"""Plain records of partner webhook endpoints and deliveries (WEBHOOKS.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from records.rows import Row

__all__ = ["WebhookDeliveryRow", "WebhookEndpointRow"]


@dataclass(frozen=True, slots=True)
class WebhookEndpointRow(Row):
    """An endpoint as the API shows it (its sealed secrets are read only by the sender)."""

    id: int
    url: str
    description: str | None
    event_kinds: list[str]
    enabled: bool
    disabled_reason: str | None
    owner_partner_id: int | None
    created_at: datetime
    created_txid: int
    last_success_at: datetime | None
    failing_since: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRow(Row):
    id: int
    endpoint_id: int
    event_id: int | None
    request_id: int | None
    event_txid: int | None
    webhook_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_response_body: str | None
    created_at: datetime
    delivered_at: datetime | None
