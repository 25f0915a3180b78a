"""Pushed frames written straight to the socket: one framing per audience, one write per socket.

An event fanned out to an audience is the same text for every member that
shares an operation id (and `extensions.cost`), and a server's WebSocket frame
is never masked: the bytes on the wire are the same for all of them. Through
ASGI each socket would pay for them again (every middleware's `send` wrapper,
Starlette's state checks, uvicorn's `send`, the websockets library framing the
text and gathering its output) before the one `transport.write` that matters.

`DirectFrames` writes the framed bytes to the transport of uvicorn's
websockets-sansio connection itself, when, and only when, the ASGI path would
write them at once too: the connection is open, no close is sent, no
extension (compression) is negotiated, and the transport is not paused by flow
control. Otherwise the caller sends through ASGI as before (and queues behind
a paused socket), so ordering, back-pressure and closing stay uvicorn's.

`CaptureSocketProtocol` is the outermost middleware: for a WebSocket scope it
records the server's protocol object (the `send` callable's owner) under
`PROTOCOL_KEY`. With any other server, or another uvicorn WebSocket
implementation, there is nothing to record and every frame goes through ASGI.
"""

from __future__ import annotations

import struct
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["PROTOCOL_KEY", "CaptureSocketProtocol", "DirectFrames", "forget_handshake", "text_frame"]

PROTOCOL_KEY = "casegraph.socket_protocol"

_FIN_TEXT = 0x81  # FIN + opcode 1 (text)


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented text frame (RFC 6455 §5.2) carrying `payload` (UTF-8)."""
    size = len(payload)
    if size < 126:
        return bytes((_FIN_TEXT, size)) + payload
    if size < 65_536:
        return struct.pack("!BBH", _FIN_TEXT, 126, size) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, size) + payload


class CaptureSocketProtocol:
    """Records the server's WebSocket protocol object in the scope (see the module's doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            owner = getattr(send, "__self__", None)
            if owner is not None:
                scope[PROTOCOL_KEY] = owner
        await self.app(scope, receive, send)


class DirectFrames:
    """Writes framed bytes to one uvicorn websockets-sansio connection's transport."""

    __slots__ = ("_conn", "_open", "_protocol", "_transport", "_writable")

    def __init__(self, protocol: Any) -> None:
        from websockets.protocol import State

        self._protocol = protocol
        self._conn = protocol.conn
        self._transport = protocol.transport
        self._writable = protocol.writable
        self._open = State.OPEN

    @classmethod
    def of(cls, protocol: Any) -> DirectFrames | None:
        """A writer for `protocol`, or None when it is not a connection this can write to."""
        if protocol is None or type(protocol).__name__ != "WebSocketsSansIOProtocol":
            return None
        conn = getattr(protocol, "conn", None)
        needed = ("transport", "writable", "close_sent", "disconnected")
        if conn is None or not all(hasattr(protocol, name) for name in needed):
            return None
        if getattr(conn, "extensions", None) or getattr(conn, "side", None) is None:
            return None  # compressed frames differ per socket; only the plain framing is written here
        return cls(protocol)

    def write(self, wire: bytes) -> bool:
        """Write one whole frame now if ASGI would write it at once too; False: send it through ASGI."""
        protocol = self._protocol
        if (
            protocol.close_sent
            or protocol.disconnected
            or not self._writable.is_set()
            or self._conn.state is not self._open
            or self._conn.expect_continuation_frame
            or self._transport.is_closing()
        ):
            return False
        self._transport.write(wire)
        return True


def forget_handshake(scope: Scope) -> None:
    """Let an accepted connection drop its opening handshake (request and response, ~2 KiB).

    uvicorn's websockets-sansio connection keeps both for its life, though it reads them only
    until the handshake is complete.
    """
    protocol: Any = scope.get(PROTOCOL_KEY)
    if (
        type(protocol).__name__ == "WebSocketsSansIOProtocol"
        and getattr(protocol, "handshake_complete", False)
        and hasattr(protocol, "request")
        and hasattr(protocol, "response")
    ):
        protocol.request = None
        protocol.response = None
