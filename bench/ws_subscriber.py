"""A lean graphql-transport-ws subscriber for the fan-out bench: one asyncio Protocol per socket.

The bench's subscribers share the two cores with the server they measure, so
what a subscriber costs per received event is added to every latency the bench
reports. The `websockets` client costs about 20 µs of CPU per message (its
frame parser, a task woken per message, the JSON); this one parses the frames
in `data_received` itself, timestamps each text message on arrival and hands
it to a callback: no task per socket, no queue.

It speaks just enough RFC 6455 for the bench: the opening handshake (with
`Sec-WebSocket-Accept` checked), masked client frames, unfragmented server
frames (uvicorn never fragments), answers to pings, and close.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["Subscriber", "open_subscriber"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (always masked, RFC 6455 §5.3)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65_536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    repeated = (mask * (size // 4 + 1))[:size]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(size, "big")
    return header + mask + body


class Subscriber(asyncio.Protocol):
    """One WebSocket: `next_text()` during set-up, then every text message to `on_text(data, at)`."""

    def __init__(self, host: str, path: str) -> None:
        self._key = base64.b64encode(os.urandom(16))
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self._key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
        self._buffer = bytearray()
        self._open = False
        self._texts: asyncio.Queue[bytes] | None = asyncio.Queue()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_text: Callable[[bytes, float], None] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.opened, self.closed):
            if not future.done():
                future.set_exception(exc or ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        at = time.time()
        buffer = self._buffer
        buffer += data
        if not self._open and not self._handshake():
            return
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            size, start = second & 0x7F, 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size, start = struct.unpack_from("!H", buffer, 2)[0], 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size, start = struct.unpack_from("!Q", buffer, 2)[0], 10
            if len(buffer) < start + size:
                return
            if second & 0x80 or not first & 0x80:
                raise ConnectionError("a server frame is never masked nor fragmented here")
            payload = bytes(buffer[start : start + size])
            del buffer[: start + size]
            opcode = first & 0x0F
            if opcode == _TEXT:
                if self.on_text is not None:
                    self.on_text(payload, at)
                elif self._texts is not None:
                    self._texts.put_nowait(payload)
            elif opcode == _PING:
                self.send(_PONG, payload)
            elif opcode == _CLOSE:
                self.send(_CLOSE, payload[:2])
                assert self.transport is not None
                self.transport.close()
                if not self.closed.done():
                    self.closed.set_result(None)

    def _handshake(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        accept = base64.b64encode(hashlib.sha1(self._key + _GUID).digest()).decode()
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
        if " 101 " not in head[0] + " " or headers.get("sec-websocket-accept") != accept:
            self.opened.set_exception(ConnectionError(f"handshake refused: {head[0]}"))
            assert self.transport is not None
            self.transport.close()
            return False
        self._open = True
        self.opened.set_result(None)
        return True

    def send(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(_masked(opcode, payload))

    def send_text(self, text: str) -> None:
        self.send(_TEXT, text.encode())

    async def next_text(self) -> bytes:
        """The next text message, while no `on_text` callback is set."""
        assert self._texts is not None
        return await self._texts.get()

    def listen(self, on_text: Callable[[bytes, float], None]) -> None:
        """From now on, every text message goes to `on_text` as it arrives."""
        assert self._texts is not None
        while not self._texts.empty():
            on_text(self._texts.get_nowait(), time.time())
        self._texts = None
        self.on_text = on_text

    def close(self) -> None:
        self.send(_CLOSE, struct.pack("!H", 1000))


async def open_subscriber(url: str) -> Subscriber:
    """Connect and finish the opening handshake of a `ws://host:port/path` URL."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: Subscriber(parts.netloc, parts.path or "/"), parts.hostname or "localhost", parts.port or 80
    )
    await protocol.opened
    return protocol
