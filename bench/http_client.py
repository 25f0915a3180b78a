"""A lean HTTP/1.1 keep-alive client for the benchmarks: one asyncio Protocol per connection.

The benchmarks' clients share the two cores with the server they measure, so what a
client costs per request is added to every latency they report and taken from the
server's CPU. httpx cost about 2 ms of CPU per lifecycle transition here (as much as
the server): its pool, h11's parser, a Request and a Response object per call. This
one writes the request bytes itself and parses the one response it waits for in
`data_received` (status line, `Content-Length` body; chunked bodies are decoded too),
one request at a time per connection, as a client without pipelining does. A
connection the server closed while idle (uvicorn's keep-alive timeout, 5 s) is opened
again before the next request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HttpConnection", "LeanClient", "open_connection"]


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection: `post_json` sends a request and returns (status, parsed JSON)."""

    def __init__(self, host: str, headers: dict[str, str]) -> None:
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._head = f"Host: {host}\r\n{extra}Content-Type: application/json\r\n".encode()
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._response: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._response is not None and not self._response.done():
            self._response.set_exception(exc or ConnectionError("connection closed by the server"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        parsed = _parse(self._buffer)
        if parsed is None:
            return
        status, body, used = parsed
        del self._buffer[:used]
        if self._response is not None and not self._response.done():
            self._response.set_result((status, body))

    @property
    def closed(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    async def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("connection closed")
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._response = asyncio.get_running_loop().create_future()
        self._transport.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + self._head
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip
        status, answer = await self._response
        self._response = None
        return status, json.loads(answer)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _parse(buffer: bytearray) -> tuple[int, bytes, int] | None:
    """(status, body, bytes used) of the complete response at the start of `buffer`, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buffer[:end]).split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    start = end + 4
    if b"content-length" in fields:
        stop = start + int(fields[b"content-length"])
        return None if len(buffer) < stop else (status, bytes(buffer[start:stop]), stop)
    if fields.get(b"transfer-encoding", b"").lower() != b"chunked":
        raise ValueError("response without Content-Length or chunked body")
    body, at = bytearray(), start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        chunk_start = line_end + 2
        if len(buffer) < chunk_start + size + 2:
            return None
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)  # no trailers: the CRLF right after
            return None if trailer_end < 0 else (status, bytes(body), trailer_end + 4)
        body += buffer[chunk_start : chunk_start + size]
        at = chunk_start + size + 2


class LeanClient:
    """One client: its keep-alive connection to `base_url`, opened again when the server closed it."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self._base_url = base_url
        self._headers = headers
        self._connection: HttpConnection | None = None

    async def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        if self._connection is None or self._connection.closed:
            self._connection = await open_connection(self._base_url, self._headers)
        return await self._connection.post_json(path, payload)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


async def open_connection(base_url: str, headers: dict[str, str]) -> HttpConnection:
    """A connection to `base_url` (http://host:port) sending `headers` with every request."""
    parts = urlsplit(base_url)
    assert parts.scheme == "http" and parts.hostname is not None and parts.port is not None
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: HttpConnection(parts.netloc, headers), parts.hostname, parts.port
    )
    return protocol
