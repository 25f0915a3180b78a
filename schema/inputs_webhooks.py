"""Inputs of the webhook mutations (WEBHOOKS.md; named after their mutation)."""

from __future__ import annotations

import strawberry

import schema.enums  # noqa: F401  (registers the domain enums with strawberry)
from domain.enums import RequestEventKind

__all__ = [
    "CreateWebhookEndpointInput",
    "DeleteWebhookEndpointInput",
    "RedeliverWebhooksInput",
    "RotateWebhookSecretInput",
    "SendTestWebhookInput",
    "UpdateWebhookEndpointInput",
]


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    event_kinds: list[RequestEventKind]
    description: str | None = None


@strawberry.input
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    event_kinds: list[RequestEventKind] | None = None
    enabled: bool | None = None


@strawberry.input
class RotateWebhookSecretInput:
    id: strawberry.ID


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID


@strawberry.input
class SendTestWebhookInput:
    id: strawberry.ID


@strawberry.input
class RedeliverWebhooksInput:
    endpoint_id: strawberry.ID
    after: str | None = strawberry.field(
        default=None,
        description="A stream cursor (RequestEvent.cursor); omitted: since the endpoint was created.",
    )
