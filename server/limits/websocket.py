"""graphql-transport-ws with the limits (LIMITS.md): admission at `subscribe`, slots, message size.

Every `subscribe` message goes through `Limits.admit` (persisted queries, trusted
documents, cost, budget) before strawberry runs it; a subscription also takes one of
its principal's slots (200 across connections and processes) for as long as it
lives. Refusals, and more than 50 operations on one connection, answer with an
`error` message carrying the code (RATE_LIMITED, QUERY_TOO_COMPLEX, ...). Messages
larger than 1 MB close the socket with 4400.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from json import JSONDecodeError
from typing import TYPE_CHECKING, Any

from graphql import OperationType
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    NextMessagePayload,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult

from resolvers.context import Context
from server.limits.admission import OperationRequest
from server.limits.bodies import MAX_MESSAGE_BYTES, message_too_large
from server.limits.errors import RATE_LIMITED, Refusal

if TYPE_CHECKING:
    from server.limits.admission import Limits

__all__ = ["LimitedTransportWSHandler", "SizeLimitedWebSocket"]


class SizeLimitedWebSocket(ASGIWebSocketAdapter):
    """strawberry's ASGI socket adapter, closing with 4400 on a message past 1 MB."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    text = await self.ws.receive_text()
                except KeyError as exc:
                    raise NonTextMessageReceived from exc
                if message_too_large(text):
                    await self.close(4400, f"message larger than {MAX_MESSAGE_BYTES:,} bytes")
                    return
                try:
                    yield self.view.decode_json(text)
                except JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
        except WebSocketDisconnect:
            pass


class _LimitedOperation(Operation[Context, None]):
    """An operation with its `extensions.cost` (sent with every result) and subscription slot."""

    __slots__ = ("extensions", "lease")

    def __init__(self, *args: Any, extensions: dict[str, Any] | None, lease: str | None) -> None:
        super().__init__(*args)
        self.extensions = extensions
        self.lease = lease

    async def send_next(self, execution_result: ExecutionResult) -> None:
        payload: NextMessagePayload = {"data": execution_result.data}
        if execution_result.errors:
            payload["errors"] = [err.formatted for err in execution_result.errors]
        extensions = {**(execution_result.extensions or {}), **(self.extensions or {})}
        if extensions:
            payload["extensions"] = extensions
        await self.send_operation_message({"id": self.id, "type": "next", "payload": payload})


class LimitedTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """strawberry's graphql-transport-ws handler with admission before every operation."""

    @property
    def limits(self) -> Limits:
        return self.view.limits  # type: ignore[attr-defined,no-any-return]

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        principal = self.context.principal_or_none
        if not self.connection_acknowledged or principal is None or message["id"] in self.operations:
            await super().handle_subscribe(message)  # strawberry closes the socket (4401, 4409)
            return
        limit = self.max_subscriptions_per_connection
        if limit is not None and len(self.operations) >= limit:
            await self._refuse(
                message["id"],
                Refusal(
                    RATE_LIMITED,
                    f"subscription limit reached: at most {limit} operations per connection",
                    status=429,
                ),
            )
            return
        payload = message["payload"]
        lease = None
        try:
            admission = await self.limits.admit(
                OperationRequest(
                    payload.get("query"),
                    payload.get("variables"),
                    payload.get("operationName"),
                    payload.get("extensions"),  # type: ignore[typeddict-item]
                ),
                principal,
            )
            if (
                admission.operation is not None
                and admission.operation.operation is OperationType.SUBSCRIPTION
            ):
                lease = await self.limits.take_subscription_slot(principal)
        except Refusal as refusal:
            await self._refuse(message["id"], refusal)
            return
        if admission.query is None:
            await self.handle_invalid_message("a subscribe message needs a query or a persisted-query hash")
            return
        operation = _LimitedOperation(
            self,
            message["id"],
            admission.query,
            payload.get("variables"),
            payload.get("operationName"),
            extensions=admission.extensions(),
            lease=lease,
        )
        operation.task = asyncio.create_task(self.run_operation(operation))
        operation.task.add_done_callback(self._task_done)
        self.operations[message["id"]] = operation

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        try:
            await super().run_operation(operation)
        finally:
            if isinstance(operation, _LimitedOperation):
                await self.limits.give_back_subscription_slot(operation.lease)

    async def _refuse(self, operation_id: str, refusal: Refusal) -> None:
        message: ErrorMessage = {"id": operation_id, "type": "error", "payload": [refusal.error()]}  # type: ignore[list-item]
        await self.send_message(message)
