"""The per-operation context handed to every resolver, and the process-wide resources it holds.

`Context` is the one implementation of schema.context.TypeContext (what the
GraphQL types may ask of it); mypy checks that below.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.permissions import Capability, has
from auth.principal import Principal
from db.events import EventFilter
from domain.calendar import utc_date
from records.events import Cursor, EventRow
from resolvers.loaders import Loaders
from resolvers.reads.nested import NestedReads
from schema.errors import Forbidden, Unauthenticated
from services.webhooks.config import WebhookConfig
from telemetry.outage import DatabaseOutage

if TYPE_CHECKING:
    from schema.context import TypeContext

__all__ = ["AppServices", "Context", "EventHubPort"]


class EventHubPort(Protocol):
    """What the resolvers use of the process's event hub (server.event_hub.EventHub).

    Subscriptions `subscribe` (registered at once; an async iterator with `aclose()`); the
    mutations' unit of work announces committed events through `publish` when NOTIFY inside
    the transaction is not the broadcast path (db.events.publish_after_commit).
    """

    def subscribe(
        self, *, after: Cursor | None = None, filter: EventFilter | None = None
    ) -> AsyncIterator[EventRow]: ...

    async def publish(self, channel: str, message: Any) -> None: ...


@dataclass(slots=True)
class AppServices:
    """Process-wide resources owned by the app lifespan."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    # The process's event hub, once server.workers started it (subscriptions need it).
    event_hub: EventHubPort | None = None
    # Whether the database is reachable, for one log line per outage (server.error_mapping).
    outage: DatabaseOutage = field(default_factory=DatabaseOutage)
    # Webhook destinations policy and secret vault (WEBHOOK_ALLOW_PRIVATE, OAUTH_KEY_ENCRYPTION_KEY).
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    # This process's webhook senders (server.workers): woken when a mutation queues deliveries
    # that no event announces (sendTestWebhook, redeliverWebhooks).
    webhook_wakeups: list[Callable[[], None]] = field(default_factory=list)


class _LoaderScope:
    """Loaders of one subscription event, created on first use (most events need none)."""

    __slots__ = ("context", "loaders")

    def __init__(self, context: Context) -> None:
        self.context = context
        self.loaders: Loaders | None = None


# Scopes started by `Context.fresh_loaders()`. Every operation on a WebSocket runs in an asyncio
# task of its own but shares the connection's Context; a ContextVar keeps each task's loaders
# (one subscription event) apart from its neighbours', and child tasks (sibling fields) share them.
_task_loaders: ContextVar[_LoaderScope | None] = ContextVar("casegraph_task_loaders", default=None)

# `has` rebuilds the roles' capability set on each call, and a page of 50 requests asks a few
# hundred times; principals are immutable (and reused for a few seconds by server.authn).
_has = functools.lru_cache(maxsize=4096)(has)


@dataclass(slots=True)
class Context:
    """One GraphQL operation (an HTTP request or a WebSocket connection)."""

    services: AppServices
    request: Any
    response: Any = None
    principal_or_none: Principal | None = None
    # Set by the graphql-transport-ws handler from the connection_init payload.
    connection_params: dict[str, object] | None = None
    _loaders: Loaders | None = None

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise Unauthenticated("authentication required")
        return self.principal_or_none

    def can(self, capability: Capability) -> bool:
        """Whether the caller's roles and token scopes grant `capability`."""
        return _has(self.principal, capability)

    def require(self, capability: Capability) -> Principal:
        """The caller, when their roles and token scopes grant `capability`; else FORBIDDEN."""
        if not self.can(capability):
            raise Forbidden(f"not allowed: {capability.value.lower().replace('_', ' ')}")
        return self.principal

    def sees_internal_comments(self) -> bool:
        """Whether INTERNAL comments (and events about them) exist for the caller."""
        return self.can(Capability.READ_INTERNAL_COMMENTS)

    @property
    def loaders(self) -> Loaders:
        """Request-scoped DataLoaders (created on first use, never shared between operations)."""
        scope = _task_loaders.get()
        if scope is not None and scope.context is self:
            if scope.loaders is None:
                scope.loaders = self._new_loaders()
            return scope.loaders
        if self._loaders is None:
            self._loaders = self._new_loaders()
        return self._loaders

    def _new_loaders(self) -> Loaders:
        return Loaders(self.services.engine, scope=self.principal.customer_ids)

    @property
    def connections(self) -> NestedReads:
        """The connections the types open under a parent (a customer's invoices, a request's events)."""
        return NestedReads(self)

    def reset_loaders(self) -> None:
        """Drop cached rows (after a write, and between subscription events)."""
        self._loaders = None
        scope = _task_loaders.get()
        if scope is not None and scope.context is self:
            scope.loaders = None

    def fresh_loaders(self) -> None:
        """New loaders (on first use) for the current task and the tasks it starts: one
        subscription event. Unlike `reset_loaders`, this leaves the loaders of other
        operations running concurrently on the same WebSocket connection alone.
        """
        _task_loaders.set(_LoaderScope(self))

    def now(self) -> datetime:
        return self.services.clock()

    def today(self) -> date:
        """The business date of the operation's clock (UTC)."""
        return utc_date(self.now())


if TYPE_CHECKING:
    # The GraphQL types see the context through schema.context.TypeContext: this is that context.
    _types_view: type[TypeContext] = Context
