"""The per-operation context handed to every resolver."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.principal import Principal
from schema.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from db.loaders import Loaders

__all__ = ["AppServices", "Context"]

# Loaders started by `Context.fresh_loaders()`. Every operation on a WebSocket runs in an asyncio
# task of its own but shares the connection's Context; a ContextVar keeps each task's loaders
# (one subscription event) apart from its neighbours', and child tasks (sibling fields) inherit them.
_task_loaders: ContextVar[tuple[Context, Loaders] | None] = ContextVar("casegraph_task_loaders", default=None)


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
        scoped = _task_loaders.get()
        if scoped is not None and scoped[0] is self:
            return scoped[1]
        if self._loaders is None:
            from db.loaders import Loaders

            self._loaders = Loaders(self.services.engine)
        return self._loaders

    def reset_loaders(self) -> None:
        """Drop cached rows (after a write, and between subscription events)."""
        self._loaders = None
        scoped = _task_loaders.get()
        if scoped is not None and scoped[0] is self:
            self.fresh_loaders()

    def fresh_loaders(self) -> Loaders:
        """New loaders for the current task and the tasks it starts (one subscription event).

        Unlike `reset_loaders`, this does not touch the loaders of other
        operations running concurrently on the same WebSocket connection.
        """
        from db.loaders import Loaders

        loaders = Loaders(self.services.engine)
        _task_loaders.set((self, loaders))
        return loaders

    def now(self) -> datetime:
        return self.services.clock()

    def require(self, allowed: bool, what: str) -> None:
        if not allowed:
            raise Forbidden(f"not allowed: {what}")
