"""Fan-out by audience: one execution per event for every socket that asked the same thing.

Subscribers whose operation is the same (document, operation name, variables)
and whose access is the same (roles, token scopes, approval level, customer
scope, and the caller's identity only when the document asks an
identity-dependent field) form one *audience*. The audience runs the
subscription once, in a task of its own, with a context of that access: every
event is filtered, checked (`visible_event`), resolved and serialised once,
and the same bytes go to every socket of the audience, framed with each
operation's id and `extensions.cost`.

What stays per socket:
- the operation id, its subscription slot, its cost report;
- the token's expiry: a member whose token has expired gets `complete` and
  nothing more (the view closes the socket with 4403 at that instant);
- sending. Each connection has a `SocketSender`: a frame is written inline
  when the socket accepts it at once, else queued behind the pending write;
  a connection with more than `SEND_QUEUE_LIMIT` frames pending is closed
  with `SLOW_CONSUMER_CLOSE` (1013, try again later: reconnect and resume
  with `after`), never delaying the others.

Pushing one event to thousands of sockets yields to the event loop every
`FAN_OUT_SLICE` sockets, so requests served by the same process keep their
latency during a burst.

Only live subscriptions share: `requestEvents` and `slaAlerts` without an
`after` cursor. A subscription that resumes (`after`) replays its own history
and keeps its own execution, as does `approvalRequests` (decided per approver).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
)
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from auth.principal import Principal
from resolvers.context import AppServices, Context
from server.socket_frames import DirectFrames, text_frame

__all__ = [
    "FAN_OUT_SLICE",
    "SEND_QUEUE_LIMIT",
    "SLOW_CONSUMER_CLOSE",
    "Audiences",
    "Member",
    "SocketSender",
    "audience_key",
]

log = logging.getLogger(__name__)

SHARED_FIELDS = frozenset({"requestEvents", "slaAlerts"})
# Fields whose value depends on who asks beyond the access class (the viewer's own transitions).
IDENTITY_FIELDS = ("availableTransitions", "viewer")
FAN_OUT_SLICE = 256
SEND_QUEUE_LIMIT = 1000
SLOW_CONSUMER_CLOSE = 1013
_NEVER = datetime.max.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------ keys ----


@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> DocumentNode | None:
    try:
        return parse(query)
    except GraphQLError:
        return None


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def _shareable(query: str, operation_name: str | None, variables: dict[str, Any] | None) -> bool:
    """A live requestEvents/slaAlerts subscription (no `after`): its events are everyone's from now."""
    document = _parsed(query)
    if document is None:
        return False
    operation = _operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return False
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return False
    field = selections[0]
    if field.name.value not in SHARED_FIELDS:
        return False
    for argument in field.arguments or ():
        if argument.name.value != "after":
            continue
        value = argument.value
        if isinstance(value, NullValueNode):
            continue
        if isinstance(value, VariableNode) and (variables or {}).get(value.name.value) is None:
            continue
        return False  # resumes from a cursor: its own replay
    return True


def audience_key(
    query: str, operation_name: str | None, variables: dict[str, Any] | None, principal: Principal
) -> tuple[Any, ...] | None:
    """What makes two subscriptions one audience, or None when this one runs on its own."""
    if not _shareable(query, operation_name, variables):
        return None
    identity = principal.subject if any(f in query for f in IDENTITY_FIELDS) else None
    return (
        query,
        operation_name,
        orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS),
        principal.roles,
        principal.scopes,
        principal.approval_level,
        principal.customer_ids,
        principal.customer_id,
        principal.partner_id,
        identity,
    )


# ---------------------------------------------------------------------------- sending ----


class SocketSender:
    """One connection's outgoing frames: inline when the socket takes them, else queued (bounded).

    A frame is its UTF-8 payload and, when the connection has a `DirectFrames`
    writer, the whole framed bytes to write as they are (server.socket_frames).
    """

    __slots__ = ("_direct", "_on_overflow", "_queue", "_send_text", "_task", "closed", "limit")

    def __init__(
        self,
        send_text: Callable[[str], Coroutine[Any, Any, None]],
        on_overflow: Callable[[], None],
        limit: int = SEND_QUEUE_LIMIT,
        direct: DirectFrames | None = None,
    ) -> None:
        self._send_text = send_text
        self._on_overflow = on_overflow
        self._direct = direct
        self._queue: deque[bytes] | None = None  # made when a write first has to wait
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.limit = limit

    @property
    def pending(self) -> int:
        """Frames queued behind a write the socket could not take at once."""
        return 0 if self._queue is None else len(self._queue)

    @property
    def waiting(self) -> bool:
        """Whether a write is waiting for the socket (flow control)."""
        return self._task is not None

    def push(self, payload: bytes, wire: bytes | None = None) -> None:
        """Send a frame now if the socket accepts it without waiting, else queue it (never blocks).

        `wire`: the payload already framed (`text_frame(payload)`), shared by every socket
        sending the same bytes; written straight to the transport when it can take it.
        """
        if self.closed:
            return
        if self._task is not None:
            if self._queue is None:
                self._queue = deque()
            if len(self._queue) >= self.limit:
                self.closed = True
                self._queue.clear()
                self._on_overflow()
                return
            self._queue.append(payload)
            return
        if self._direct is not None:
            try:
                if self._direct.write(text_frame(payload) if wire is None else wire):
                    return
            except Exception:
                self.closed = True  # the socket is gone; its handler cleans up
                return
        coro = self._send_text(payload.decode())
        try:
            waiting = coro.send(None)
        except StopIteration:
            return  # written at once (the common case)
        except Exception:
            self.closed = True  # the socket is gone; its handler cleans up
            return
        # The socket cannot take it now (flow control): finish this write and the queue in a task.
        self._task = asyncio.get_running_loop().create_task(self._finish(coro, waiting))

    async def _finish(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        try:
            await _resume(coro, waiting)
            while self._queue and not self.closed:
                await self._send_text(self._queue.popleft().decode())
        except Exception:
            self.closed = True
            self._queue = None
        finally:
            self._task = None

    def cancel(self) -> None:
        self.closed = True
        self._queue = None
        if self._task is not None:
            self._task.cancel()


async def _resume(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive a coroutine that was started by hand and suspended on `waiting` to its end.

    A Future the coroutine yielded is waited for with a callback (`asyncio.wait`), not
    awaited again: the coroutine's own `await` already marked it as being waited for.
    """
    try:
        while True:
            if waiting is None:
                await asyncio.sleep(0)  # a bare yield
            else:
                await asyncio.wait((waiting,))
            waiting = coro.send(None)
    except StopIteration:
        return
    except BaseException:
        coro.close()
        raise


# ---------------------------------------------------------------------------- members ----


class Member:
    """One subscription operation in an audience."""

    __slots__ = ("active", "expires_at", "extensions", "head", "on_end", "operation_id", "sender", "tail")

    def __init__(
        self,
        *,
        operation_id: str,
        sender: SocketSender,
        expires_at: datetime,
        extensions: dict[str, Any] | None,
        on_end: Callable[[Member], None],
    ) -> None:
        self.operation_id = operation_id
        self.sender = sender
        self.expires_at = expires_at
        self.on_end = on_end
        self.active = True
        self.extensions = extensions
        self.head = b'{"id":' + orjson.dumps(operation_id) + b',"type":"next","payload":{'
        self.tail = b"}}" if not extensions else b',"extensions":' + orjson.dumps(extensions) + b"}}"

    def end(self, frame: bytes) -> None:
        """The last frame of this operation (`complete` or `error`); the handler forgets it."""
        if not self.active:
            return
        self.active = False
        self.on_end(self)
        self.sender.push(frame)


def _final(operation_id: str, kind: str, payload: Any = None) -> bytes:
    message: dict[str, Any] = {"id": operation_id, "type": kind}
    if payload is not None:
        message["payload"] = payload
    return orjson.dumps(message)


class Audience:
    """The members sharing one key, and the task executing their subscription once."""

    def __init__(
        self,
        registry: Audiences,
        key: tuple[Any, ...],
        *,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        principal: Principal,
    ) -> None:
        self.registry = registry
        self.key = key
        self.members: dict[int, Member] = {}
        # The audience's own access: the members' class, with no expiry (each member has its own).
        self.context = Context(
            services=registry.services,
            request=None,
            principal_or_none=dataclasses.replace(principal, expires_at=_NEVER),
        )
        self.task = asyncio.get_running_loop().create_task(
            self._run(query, variables, operation_name), name="audience"
        )
        self.events = 0

    def add(self, member: Member) -> None:
        self.members[id(member)] = member

    def remove(self, member: Member) -> None:
        self.members.pop(id(member), None)
        if not self.members:
            self.registry._drop(self)
            self.task.cancel()

    async def _run(self, query: str, variables: dict[str, Any] | None, operation_name: str | None) -> None:
        kind, payload = "complete", None
        try:
            source = await self.registry.schema.stream(
                query,
                variable_values=variables,
                context_value=self.context,
                operation_name=operation_name,
            )
            async with contextlib.aclosing(source):  # type: ignore[type-var]
                first = True
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        kind, payload = "error", [e.formatted for e in result.errors or ()]
                        break
                    first = False
                    if not isinstance(result, ExecutionResult):
                        message = "Incremental delivery is not supported over graphql-transport-ws"
                        kind, payload = "error", [GraphQLError(message).formatted]
                        break
                    await self._fan_out(result)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("audience execution failed")
        self._end_all(kind, payload)

    async def _fan_out(self, result: ExecutionResult) -> None:
        body = b'"data":' + orjson.dumps(result.data)
        if result.errors:
            body += b',"errors":' + orjson.dumps([e.formatted for e in result.errors])
        self.events += 1
        now = self.context.now()
        members = list(self.members.values())
        # Members with the same operation id and cost send the same bytes: framed once for all.
        frames: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}
        for index, member in enumerate(members):
            if index and index % FAN_OUT_SLICE == 0:
                await asyncio.sleep(0)  # let requests on this process run between slices
            if not member.active:
                continue
            if now >= member.expires_at:
                # As a stream of its own would: nothing after the token's expiry, then complete.
                member.end(_final(member.operation_id, "complete"))
                continue
            if result.extensions:
                payload = member.head + body + _merged_tail(member, result.extensions)
                member.sender.push(payload)
                continue
            shared = frames.get((member.head, member.tail))
            if shared is None:
                payload = member.head + body + member.tail
                shared = frames[member.head, member.tail] = (payload, text_frame(payload))
            member.sender.push(*shared)

    def _end_all(self, kind: str, payload: Any) -> None:
        self.registry._drop(self)
        for member in list(self.members.values()):
            member.end(_final(member.operation_id, kind, payload))
        self.members.clear()


def _merged_tail(member: Member, extensions: dict[str, Any]) -> bytes:
    """The execution's own extensions with the operation's (`cost`) over them, as strawberry merges."""
    merged = {**extensions, **(member.extensions or {})}
    return b',"extensions":' + orjson.dumps(merged) + b"}}"


class Audiences:
    """This process's audiences, by key."""

    def __init__(self, schema: BaseSchema, services: AppServices) -> None:
        self.schema = schema
        self.services = services
        self._by_key: dict[tuple[Any, ...], Audience] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Audience]:
        return iter(list(self._by_key.values()))

    @property
    def members(self) -> int:
        return sum(len(a.members) for a in self._by_key.values())

    def join(
        self,
        key: tuple[Any, ...],
        member: Member,
        *,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        principal: Principal,
    ) -> Audience:
        """Add `member` to its audience (started now if it is the first); live from this call on."""
        audience = self._by_key.get(key)
        if audience is None:
            audience = Audience(
                self,
                key,
                query=query,
                variables=variables,
                operation_name=operation_name,
                principal=principal,
            )
            self._by_key[key] = audience
        audience.add(member)
        return audience

    def _drop(self, audience: Audience) -> None:
        if self._by_key.get(audience.key) is audience:
            del self._by_key[audience.key]

    async def close(self) -> None:
        audiences = list(self._by_key.values())
        self._by_key.clear()
        for audience in audiences:
            audience.task.cancel()
        for audience in audiences:
            with contextlib.suppress(BaseException):
                await audience.task
