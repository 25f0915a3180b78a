"""The per-operation context handed to every resolver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.principal import Principal
from schema.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from db.loaders import Loaders

__all__ = ["AppServices", "Context"]


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
        if self._loaders is None:
            from db.loaders import Loaders

            self._loaders = Loaders(self.services.engine)
        return self._loaders

    def reset_loaders(self) -> None:
        """Drop cached rows (after a write, and between subscription events)."""
        self._loaders = None

    def now(self) -> datetime:
        return self.services.clock()

    def require(self, allowed: bool, what: str) -> None:
        if not allowed:
            raise Forbidden(f"not allowed: {what}")
