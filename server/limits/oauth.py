"""`POST /oauth/token`: at most 10 failed client authentications per client and minute (LIMITS.md).

Wraps the token endpoint (ASGI): a client with 10 failures in the last minute is
answered 429 with Retry-After before its secret is even checked (scrypt is costly),
whatever it presents; each answer `invalid_client` (401) counts one failure. Counted
in the same shared store as the budgets, so the limit holds across processes.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import parse_qs

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from limits import RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.limits.bodies import BodyTooLarge, read_body, replay, too_large
from server.limits.rate import seconds_until_available

__all__ = ["MAX_FAILED_CLIENT_AUTHENTICATIONS", "guard_token_endpoint"]

log = logging.getLogger("casegraph.limits")

MAX_FAILED_CLIENT_AUTHENTICATIONS = 10
_FAILURES = RateLimitItemPerMinute(MAX_FAILED_CLIENT_AUTHENTICATIONS, namespace="CLIENT-AUTH-FAILURES")


def _client_id(headers: Headers, body: bytes) -> str | None:
    basic_id, _ = extract_basic_authorization(headers)
    if basic_id:
        return str(basic_id)
    values = parse_qs(body.decode("latin-1")).get("client_id")
    return values[0] if values else None


def guard_token_endpoint(endpoint: ASGIApp, limiter: SlidingWindowCounterRateLimiter) -> ASGIApp:
    """The token endpoint, answering 429 to a client past its failed authentications."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive)
        except BodyTooLarge:
            await too_large()(scope, receive, send)
            return
        client_id = _client_id(Headers(scope=scope), body)
        if client_id is not None:
            try:
                allowed = await limiter.test(_FAILURES, client_id)
            except StorageError:
                log.warning("rate-limit store unreachable; client authentication not limited", exc_info=True)
                allowed = True
            if not allowed:
                response = await _locked_out(limiter, client_id)
                await response(scope, receive, send)
                return

        async def counting_failures(message: Message) -> None:
            # Counted before the client hears of it: its next attempt, on any process, sees the count.
            if (
                message["type"] == "http.response.start"
                and message["status"] == 401
                and client_id is not None
            ):
                try:
                    await limiter.hit(_FAILURES, client_id)
                except StorageError:
                    log.warning(
                        "rate-limit store unreachable; failed authentication not counted", exc_info=True
                    )
            await send(message)

        await endpoint(scope, replay(body, receive), counting_failures)

    return guarded


async def _locked_out(limiter: SlidingWindowCounterRateLimiter, client_id: str) -> JSONResponse:
    window = await limiter.storage.get_sliding_window(  # type: ignore[attr-defined]
        _FAILURES.key_for(client_id), _FAILURES.get_expiry()
    )
    wait = seconds_until_available(
        window, expiry=_FAILURES.get_expiry(), limit=MAX_FAILED_CLIENT_AUTHENTICATIONS, amount=1
    )
    retry_after = max(math.ceil(wait), 1)
    return JSONResponse(
        {
            "error": "temporarily_unavailable",
            "error_description": f"too many failed client authentications; retry in {retry_after} s",
        },
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )
