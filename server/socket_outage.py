"""A WebSocket refused during a database outage closes with 1013 (try again later)."""

from __future__ import annotations

from typing import Any

from server.limits.websocket import SizeLimitedWebSocket
from telemetry.outage import DatabaseOutage

__all__ = ["TRY_AGAIN_LATER", "OutageAwareWebSocket", "refuse_socket_unavailable"]


class OutageAwareWebSocket(SizeLimitedWebSocket):
    """The socket adapter; a connection refused during an outage closes with 1013 (try again
    later) instead of strawberry's 4403 (forbidden), so clients retry rather than give up."""

    async def close(self, code: int, reason: str) -> None:
        override = self.ws.scope.get("state", {}).pop(_CLOSE_WITH, None)
        if override is not None:
            code, reason = override
        await super().close(code, reason)


_CLOSE_WITH = "casegraph_close_with"
TRY_AGAIN_LATER = 1013


def refuse_socket_unavailable(websocket: Any, outage: DatabaseOutage | None, exc: BaseException) -> None:
    """Mark the socket to close with 1013 when its connection_init is refused (an outage)."""
    if outage is not None:
        outage.failed(exc)
    websocket.scope.setdefault("state", {})[_CLOSE_WITH] = (
        TRY_AGAIN_LATER,
        "database unavailable, retry later",
    )
