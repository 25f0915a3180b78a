"""The webhook mutations (WEBHOOKS.md): a partner manages its own endpoints, an ADMIN all of them.

Each reads: authorize (`MANAGE_WEBHOOKS`), decode the IDs, `run` one service
(services.webhooks.endpoints), answer the endpoint as now read (with the secret
once, where one was made), or the broken rule as `userErrors`.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.permissions import Capability
from db.uow import UnitOfWork
from domain.enums import RequestEventKind
from domain.errors import DomainError
from records.webhooks import WebhookDeliveryRow, WebhookEndpointRow
from resolvers.context import Context
from resolvers.mutations.common import run
from resolvers.reads.webhooks import webhook_endpoint
from resolvers.subscriptions.stream import parse_after
from schema import ids
from schema.inputs_webhooks import (
    CreateWebhookEndpointInput,
    DeleteWebhookEndpointInput,
    RedeliverWebhooksInput,
    RotateWebhookSecretInput,
    SendTestWebhookInput,
    UpdateWebhookEndpointInput,
)
from schema.payloads import user_error
from schema.payloads_webhooks import (
    CreateWebhookEndpointPayload,
    DeleteWebhookEndpointPayload,
    RedeliverWebhooksPayload,
    RotateWebhookSecretPayload,
    SendTestWebhookPayload,
    UpdateWebhookEndpointPayload,
)
from schema.types.webhook import WebhookDelivery
from services.author import Author
from services.webhooks import endpoints as svc
from services.webhooks.config import WebhookConfig

__all__ = ["WebhookMutations"]

Ctx = Info[Context, None]


def _author(ctx: Context) -> Author:
    return Author.of(ctx.require(Capability.MANAGE_WEBHOOKS))


def _config(ctx: Context) -> WebhookConfig:
    return ctx.services.webhooks


def _kinds(kinds: list[RequestEventKind] | None) -> list[RequestEventKind] | None:
    return None if kinds is None else [RequestEventKind(k) for k in kinds]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation
    async def create_webhook_endpoint(
        self, info: Ctx, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointPayload:
        ctx = info.context
        author = _author(ctx)
        spec = svc.EndpointSpec(
            url=input.url, event_kinds=_kinds(input.event_kinds) or [], description=input.description
        )

        async def work(uow: UnitOfWork) -> tuple[WebhookEndpointRow, str]:
            return await svc.create_endpoint(uow, author=author, config=_config(ctx), spec=spec)

        outcome = await run(ctx, work)
        if isinstance(outcome, DomainError):
            return CreateWebhookEndpointPayload(user_errors=[user_error(outcome)])
        row, secret = outcome
        _wake_senders(ctx)
        return CreateWebhookEndpointPayload(endpoint=await webhook_endpoint(ctx, row.id), secret=secret)

    @strawberry.mutation
    async def update_webhook_endpoint(
        self, info: Ctx, input: UpdateWebhookEndpointInput
    ) -> UpdateWebhookEndpointPayload:
        ctx = info.context
        author = _author(ctx)
        endpoint_id = ids.row_id(input.id, "WebhookEndpoint")
        change = svc.EndpointChange(
            url=input.url, event_kinds=_kinds(input.event_kinds), enabled=input.enabled
        )

        async def work(uow: UnitOfWork) -> WebhookEndpointRow:
            return await svc.update_endpoint(
                uow, author=author, config=_config(ctx), endpoint_id=endpoint_id, change=change
            )

        outcome = await run(ctx, work)
        if isinstance(outcome, DomainError):
            return UpdateWebhookEndpointPayload(user_errors=[user_error(outcome)])
        _wake_senders(ctx)
        return UpdateWebhookEndpointPayload(endpoint=await webhook_endpoint(ctx, outcome.id))

    @strawberry.mutation
    async def rotate_webhook_secret(
        self, info: Ctx, input: RotateWebhookSecretInput
    ) -> RotateWebhookSecretPayload:
        ctx = info.context
        author = _author(ctx)
        endpoint_id = ids.row_id(input.id, "WebhookEndpoint")

        async def work(uow: UnitOfWork) -> tuple[WebhookEndpointRow, str]:
            return await svc.rotate_secret(uow, author=author, config=_config(ctx), endpoint_id=endpoint_id)

        outcome = await run(ctx, work)
        if isinstance(outcome, DomainError):
            return RotateWebhookSecretPayload(user_errors=[user_error(outcome)])
        row, secret = outcome
        return RotateWebhookSecretPayload(endpoint=await webhook_endpoint(ctx, row.id), secret=secret)

    @strawberry.mutation
    async def delete_webhook_endpoint(
        self, info: Ctx, input: DeleteWebhookEndpointInput
    ) -> DeleteWebhookEndpointPayload:
        ctx = info.context
        author = _author(ctx)
        endpoint_id = ids.row_id(input.id, "WebhookEndpoint")

        async def work(uow: UnitOfWork) -> int:
            return await svc.delete_endpoint(uow, author=author, endpoint_id=endpoint_id)

        outcome = await run(ctx, work)
        if isinstance(outcome, DomainError):
            return DeleteWebhookEndpointPayload(user_errors=[user_error(outcome)])
        return DeleteWebhookEndpointPayload(deleted_id=strawberry.ID(ids.encode("WebhookEndpoint", outcome)))

    @strawberry.mutation(description='Queue a signed `{"type": "PING"}` delivery to the endpoint now.')
    async def send_test_webhook(self, info: Ctx, input: SendTestWebhookInput) -> SendTestWebhookPayload:
        ctx = info.context
        author = _author(ctx)
        endpoint_id = ids.row_id(input.id, "WebhookEndpoint")

        async def work(uow: UnitOfWork) -> WebhookDeliveryRow:
            return await svc.send_test(uow, author=author, endpoint_id=endpoint_id)

        outcome = await run(ctx, work)
        if isinstance(outcome, DomainError):
            return SendTestWebhookPayload(user_errors=[user_error(outcome)])
        _wake_senders(ctx)
        endpoint = await webhook_endpoint(ctx, endpoint_id)
        if endpoint is None:  # deleted meanwhile
            return SendTestWebhookPayload()
        return SendTestWebhookPayload(
            delivery=WebhookDelivery.from_row(outcome, endpoint=endpoint, event=None)
        )

    @strawberry.mutation(
        description=(
            "Re-send, with their original webhook-id, every event after `after` (a stream cursor), or "
            "since the endpoint was created, that the endpoint would have received."
        )
    )
    async def redeliver_webhooks(self, info: Ctx, input: RedeliverWebhooksInput) -> RedeliverWebhooksPayload:
        ctx = info.context
        author = _author(ctx)
        endpoint_id = ids.row_id(input.endpoint_id, "WebhookEndpoint")
        after = parse_after(input.after)  # not a cursor we handed out: BAD_USER_INPUT

        async def work(uow: UnitOfWork) -> int:
            return await svc.redeliver(uow, author=author, endpoint_id=endpoint_id, after=after)

        outcome = await run(ctx, work)
        if isinstance(outcome, DomainError):
            return RedeliverWebhooksPayload(user_errors=[user_error(outcome)])
        _wake_senders(ctx)
        return RedeliverWebhooksPayload(queued=outcome)


def _wake_senders(ctx: Context) -> None:
    """Deliveries no event announces were committed, or an endpoint was registered or re-enabled:
    this process's senders look now."""
    for wake in ctx.services.webhook_wakeups:
        wake()
