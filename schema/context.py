"""The per-operation context handed to every resolver."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.principal import Principal
from schema.errors import Unauthenticated

if TYPE_CHECKING:
    from db.loaders import Loaders

__all__ = ["AppServices", "Context"]


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


@dataclass(frozen=True, slots=True)
class AppServices:
    """Process-wide resources owned by the app lifespan."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    # Anything the real-time side adds (event hub, SLA engine wake-up) lives here.
    extras: dict[str, Any] = field(default_factory=dict)


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

    @property
    def loaders(self) -> Loaders:
        """Request-scoped DataLoaders (created on first use, never shared between operations)."""
        scope = _task_loaders.get()
        if scope is not None and scope.context is self:
            if scope.loaders is None:
                from db.loaders import Loaders

                scope.loaders = Loaders(self.services.engine)
            return scope.loaders
        if self._loaders is None:
            from db.loaders import Loaders

            self._loaders = Loaders(self.services.engine)
        return self._loaders

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
