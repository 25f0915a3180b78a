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
import contextlib
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
from server.audiences import (
    SEND_QUEUE_LIMIT,
    SLOW_CONSUMER_CLOSE,
    Audience,
    Member,
    SocketSender,
    audience_key,
)
from server.limits.admission import OperationRequest
from server.limits.bodies import MAX_MESSAGE_BYTES, message_too_large
from server.limits.errors import RATE_LIMITED, Refusal
from server.socket_frames import PROTOCOL_KEY, DirectFrames

if TYPE_CHECKING:
    from server.limits.admission import Limits

__all__ = ["LimitedTransportWSHandler", "SizeLimitedWebSocket"]

# Tasks started from synchronous callbacks, kept alive until they finish.
_background: set[asyncio.Task[Any]] = set()


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


class _AudienceOperation(Operation[Context, None]):
    """A subscription served by its audience (server.audiences): no task of its own."""

    __slots__ = ("audience", "lease", "member")

    def __init__(self, *args: Any, lease: str | None, member: Member) -> None:
        super().__init__(*args)
        self.lease = lease
        self.member = member
        self.audience: Audience | None = None


class LimitedTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """strawberry's graphql-transport-ws handler with admission before every operation.

    Live `requestEvents`/`slaAlerts` subscriptions join their audience
    (server.audiences) instead of running on their own.
    """

    _sender: SocketSender | None = None

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
        audiences = getattr(self.view, "audiences", None)
        variables = payload.get("variables")
        key = None
        if audiences is not None and isinstance(variables, dict | None):
            key = audience_key(admission.query, payload.get("operationName"), variables, principal)
        if audiences is not None and key is not None:
            member = Member(
                operation_id=message["id"],
                sender=self._socket_sender(),
                expires_at=principal.expires_at,
                extensions=admission.extensions(),
                on_end=self._member_ended,
            )
            shared = _AudienceOperation(
                self,
                message["id"],
                admission.query,
                variables,
                payload.get("operationName"),
                lease=lease,
                member=member,
            )
            self.operations[message["id"]] = shared
            shared.audience = audiences.join(
                key,
                member,
                query=admission.query,
                variables=variables,
                operation_name=payload.get("operationName"),
                principal=principal,
            )
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

    async def cleanup_operation(self, operation_id: str) -> None:
        operation = self.operations.get(operation_id)
        if not isinstance(operation, _AudienceOperation):
            await super().cleanup_operation(operation_id)
            return
        del self.operations[operation_id]
        operation.member.active = False
        if operation.audience is not None:
            operation.audience.remove(operation.member)
        await self.limits.give_back_subscription_slot(operation.lease)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if self._sender is not None:
                self._sender.cancel()

    def _socket_sender(self) -> SocketSender:
        if self._sender is None:
            ws = self.websocket.ws  # type: ignore[attr-defined]
            direct = DirectFrames.of(ws.scope.get(PROTOCOL_KEY))
            self._sender = SocketSender(ws.send_text, self._overflowed, direct=direct)
        return self._sender

    def _member_ended(self, member: Member) -> None:
        """Its audience ended the operation (complete or error): forget it, give its slot back."""
        operation = self.operations.get(member.operation_id)
        if isinstance(operation, _AudienceOperation) and operation.member is member:
            del self.operations[member.operation_id]
            task = asyncio.get_running_loop().create_task(
                self.limits.give_back_subscription_slot(operation.lease)
            )
            _background.add(task)
            task.add_done_callback(_background.discard)

    def _overflowed(self) -> None:
        """Too many frames pending on this socket: leave every audience and close it."""
        task = asyncio.get_running_loop().create_task(self._close_slow())
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _close_slow(self) -> None:
        for operation_id, operation in list(self.operations.items()):
            if isinstance(operation, _AudienceOperation):
                await self.cleanup_operation(operation_id)
        reason = f"too slow: more than {SEND_QUEUE_LIMIT} messages pending; reconnect and resume with after"
        with contextlib.suppress(Exception):
            await self.websocket.close(SLOW_CONSUMER_CLOSE, reason)

    async def _refuse(self, operation_id: str, refusal: Refusal) -> None:
        message: ErrorMessage = {"id": operation_id, "type": "error", "payload": [refusal.error()]}  # type: ignore[list-item]
        await self.send_message(message)
