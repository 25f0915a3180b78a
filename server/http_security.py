"""What browsers need from the server: CORS for /graphql and the security headers of every response.

CORS: portals on other origins call /graphql with bearer tokens, never
cookies, so the allow-list (CORS_ALLOWED_ORIGINS) is all there is to it:
Starlette's CORSMiddleware answers the preflights (POST and GET, the headers
the SDK sends) for /graphql only, without credentials mode. The WebSocket
handshake has no preflight; strawberry checks its Origin against the same
list (plus the server's own origin, which the console uses) and refuses
others with 403.

Security headers: `nosniff`, a Referrer-Policy, no framing, HSTS when
HSTS_MAX_AGE is set (behind TLS), `Cache-Control: no-store` on GraphQL
responses, and a Content-Security-Policy: locked down for API responses,
and for the two HTML pages (GraphiQL, the console) exactly what they load.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.http.ides import get_graphql_ide_html
from strawberry.http.websocket_origin import normalize_allowed_origins

__all__ = [
    "CORS_ALLOWED_HEADERS",
    "CORS_EXPOSED_HEADERS",
    "SecurityHeaders",
    "api_policy",
    "console_policy",
    "graphiql_policy",
    "graphql_cors",
    "parse_origins",
]

# What the SDK sends besides the CORS-safelisted headers; persisted-query hashes and
# idempotency keys travel in the body or the query string, not in headers.
CORS_ALLOWED_HEADERS = ("authorization", "content-type", "x-request-id")
# Response headers a page's script may read: the 401 challenge, the 429 back-off, the request id.
CORS_EXPOSED_HEADERS = ("WWW-Authenticate", "Retry-After", "X-Request-ID")
CORS_METHODS = ("GET", "POST")


def parse_origins(text: str) -> tuple[str, ...]:
    """Origins from CORS_ALLOWED_ORIGINS (comma or space separated), as browsers send them.

    Raises ValueError naming the offending entry: a path, a trailing slash
    with more, or `*` (an allow-list only; list each portal's origin).
    """
    entries = [entry for entry in re.split(r"[,\s]+", text.strip()) if entry]
    if "*" in entries:
        raise ValueError(
            "CORS_ALLOWED_ORIGINS: '*' is not accepted; list each origin (https://portal.example)"
        )
    try:
        return tuple(sorted(normalize_allowed_origins(entries)))
    except ValueError as exc:
        raise ValueError(f"CORS_ALLOWED_ORIGINS: {exc}") from exc


def graphql_cors(app: ASGIApp, *, origins: Iterable[str], max_age: int) -> ASGIApp:
    """`app` (the /graphql endpoint) behind CORS for `origins`: preflights answered, `Vary: Origin`."""
    return CORSMiddleware(
        app,
        allow_origins=tuple(origins),
        allow_methods=CORS_METHODS,
        allow_headers=CORS_ALLOWED_HEADERS,
        allow_credentials=False,
        expose_headers=CORS_EXPOSED_HEADERS,
        max_age=max_age,
    )


# ------------------------------------------------------------------ policies --

_LOCKED = "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def api_policy() -> str:
    """JSON and text responses load nothing and are never framed."""
    return f"default-src 'none'; {_LOCKED}"


def console_policy() -> str:
    """The agent console: its own module and stylesheet, the API over HTTP and WebSocket."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; {_LOCKED}"
    )


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_SCRIPT_SRC = re.compile(r'<script[^>]*\ssrc="([^"]+)"')
_STYLESHEET = re.compile(r'<link[^>]*\shref="(https://[^"]+)"')


def graphiql_policy(html: str | None = None) -> str:
    """GraphiQL as strawberry serves it: its CDN files by exact URL, its inline script by hash.

    Computed from the page itself, so a strawberry upgrade that changes the page
    changes the policy with it.
    """
    html = html if html is not None else get_graphql_ide_html("graphiql")
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]
    scripts = _SCRIPT_SRC.findall(html)
    styles = _STYLESHEET.findall(html)
    origins = sorted({url.split("/", 3)[2] for url in scripts + styles})
    cdn = " ".join(f"https://{host}" for host in origins)
    return (
        f"default-src 'none'; script-src {' '.join([*hashes, *scripts])}; "
        # GraphiQL's components set inline styles; its fonts and icons come with its stylesheet.
        f"style-src 'unsafe-inline' {' '.join(styles)}; font-src {cdn} data:; img-src 'self' data: {cdn}; "
        f"connect-src 'self'; {_LOCKED}"
    )


# ------------------------------------------------------------------- headers --


@dataclass(frozen=True, slots=True)
class _Headers:
    common: tuple[tuple[bytes, bytes], ...]
    api_csp: bytes
    console_csp: bytes
    graphiql_csp: bytes


class SecurityHeaders:
    """Adds the security headers to every HTTP response (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, *, hsts_max_age: int = 0, graphql_path: str = "/graphql") -> None:
        self.app = app
        self.graphql_path = graphql_path
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts_max_age > 0:
            common.append(
                (b"strict-transport-security", f"max-age={hsts_max_age}; includeSubDomains".encode())
            )
        self.headers = _Headers(
            common=tuple(common),
            api_csp=api_policy().encode(),
            console_csp=console_policy().encode(),
            graphiql_csp=graphiql_policy().encode(),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        graphql = path == self.graphql_path
        console = path == "/console" or path.startswith("/console/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.common:
                    headers.raw.append((name, value))
                html = headers.get("content-type", "").startswith("text/html")
                if html and graphql:
                    csp = self.headers.graphiql_csp
                elif console:
                    csp = self.headers.console_csp
                else:
                    csp = self.headers.api_csp
                headers.raw.append((b"content-security-policy", csp))
                # GraphQL answers are per caller and per moment: never stored. A handler that
                # decided otherwise (a cacheable persisted query) keeps its own header.
                if graphql and "cache-control" not in headers:
                    headers.raw.append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_with_headers)
