"""Payloads of the webhook mutations (WEBHOOKS.md)."""

from __future__ import annotations

import strawberry

from schema.payloads import UserError
from schema.types.webhook import WebhookDelivery, WebhookEndpoint

__all__ = [
    "CreateWebhookEndpointPayload",
    "DeleteWebhookEndpointPayload",
    "RedeliverWebhooksPayload",
    "RotateWebhookSecretPayload",
    "SendTestWebhookPayload",
    "UpdateWebhookEndpointPayload",
]


@strawberry.type
class CreateWebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(default=None, description="Shown once: store it now.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateWebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RotateWebhookSecretPayload:
    endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(
        default=None, description="Shown once; the previous secret keeps signing too for 24 hours."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SendTestWebhookPayload:
    delivery: WebhookDelivery | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RedeliverWebhooksPayload:
    queued: int = 0
    user_errors: list[UserError] = strawberry.field(default_factory=list)
