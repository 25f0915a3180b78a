"""Request bodies and WebSocket messages within bounds (LIMITS.md).

A POST body is read up to MAX_BODY_BYTES and refused (413) as soon as it goes past,
before the rest is read; a declared Content-Length past it is refused unread. A
batched body (a JSON array) is refused with a message that says so. WebSocket
messages past MAX_MESSAGE_BYTES close the socket with 4400.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_MESSAGE_BYTES",
    "BodyTooLarge",
    "batch_refused",
    "declared_too_large",
    "is_batch",
    "message_too_large",
    "read_body",
    "replay",
    "too_large",
]

MAX_BODY_BYTES = 1_000_000
MAX_MESSAGE_BYTES = 1_000_000


class BodyTooLarge(Exception):
    """The body goes past the limit; what was read so far is dropped."""


def declared_too_large(headers: Mapping[str, str], limit: int = MAX_BODY_BYTES) -> bool:
    length = headers.get("content-length")
    return length is not None and length.strip().isdigit() and int(length) > limit


async def read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or BodyTooLarge as soon as more than `limit` bytes arrived."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: what arrived is all there is
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body larger than {limit:,} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out `body` once, then waits on the connection as before."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def is_batch(body: bytes) -> bool:
    return body.lstrip()[:1] == b"["


def too_large(limit: int = MAX_BODY_BYTES) -> Response:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": f"request body larger than {limit:,} bytes",
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ]
        },
        status_code=413,
    )


def batch_refused() -> Response:
    message = "batched operations (a JSON array body) are not supported: send one operation per request"
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}, status_code=400
    )


def message_too_large(text: str, limit: int = MAX_MESSAGE_BYTES) -> bool:
    """Past `limit` bytes as UTF-8 (encoded only when its length in characters leaves a doubt)."""
    return len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit)
