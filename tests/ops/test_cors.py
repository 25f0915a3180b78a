"""CORS for /graphql and the Origin check of WebSocket handshakes, against the real app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from server.http_security import parse_origins
from server.settings import Settings
from tests.conftest import Tokens, bearer
from tests.realtime_api.conftest import serve
from tests.realtime_api.support import PROTOCOL, ws_url

PORTAL = "https://portal.acme.example"
VIEWER = "{ viewer { subject } }"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        DATABASE_URL=db_url, CASEGRAPH_ENV="test", CASEGRAPH_WORKERS=False, CORS_ALLOWED_ORIGINS=PORTAL
    )


@pytest.fixture
async def admin(engine: Any, tokens: Tokens) -> str:
    from tests.support.builders import Builder

    await Builder(engine).staff(email="admin@example.com", role="ADMIN")
    return tokens.staff("admin@example.com")


def _preflight(
    origin: str, method: str = "POST", headers: str = "authorization, content-type"
) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_preflight_from_an_allowed_origin(client: httpx.AsyncClient, method: str) -> None:
    headers = "authorization, content-type, x-request-id"
    response = await client.options("/graphql", headers=_preflight(PORTAL, method, headers))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PORTAL
    assert {m.strip() for m in response.headers["access-control-allow-methods"].split(",")} == {"GET", "POST"}
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-request-id"} <= allowed
    assert int(response.headers["access-control-max-age"]) > 0
    assert "Origin" in response.headers["vary"]
    # Bearer tokens, not cookies: no credentials mode.
    assert "access-control-allow-credentials" not in response.headers


async def test_preflight_from_another_origin_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.options("/graphql", headers=_preflight("https://evil.example"))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    assert "Origin" in response.headers["vary"]


async def test_preflight_for_an_unlisted_header_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.options("/graphql", headers=_preflight(PORTAL, headers="authorization, x-custom"))
    assert response.status_code == 400


async def test_actual_request_gets_the_origin_and_exposed_headers(
    client: httpx.AsyncClient, admin: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={**bearer(admin), "Origin": PORTAL}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PORTAL
    assert "Origin" in response.headers["vary"]
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"www-authenticate", "retry-after", "x-request-id"} <= exposed

    other = await client.post(
        "/graphql", json={"query": VIEWER}, headers={**bearer(admin), "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers
    # Without any Origin the answer still varies by it (shared caches must not mix them up).
    plain = await client.post("/graphql", json={"query": VIEWER}, headers=bearer(admin))
    assert "Origin" in plain.headers["vary"]


async def test_other_endpoints_grant_no_cors(client: httpx.AsyncClient) -> None:
    for path in ("/oauth/token", "/.well-known/jwks.json", "/healthz"):
        response = await client.options(path, headers=_preflight(PORTAL))
        assert "access-control-allow-origin" not in response.headers, path


async def test_no_origin_is_allowed_by_default(db_url: str) -> None:
    assert Settings(DATABASE_URL=db_url, CASEGRAPH_ENV="production").allowed_origins == ()


def test_origins_are_parsed_and_checked() -> None:
    assert parse_origins("https://A.example:443/, http://localhost:5173") == (
        "http://localhost:5173",
        "https://a.example",
    )
    assert parse_origins("") == ()
    with pytest.raises(ValueError, match="CORS_ALLOWED_ORIGINS"):
        parse_origins("https://portal.example/app")
    with pytest.raises(ValueError, match=r"'\*' is not accepted"):
        parse_origins("*")


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[str]:
    async with serve(settings) as app:
        yield app.url


async def _handshake(url: str, origin: str | None) -> int:
    try:
        async with connect(ws_url(url), subprotocols=[PROTOCOL], origin=origin) as ws:  # type: ignore[arg-type,list-item]
            await ws.close()
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_websocket_origins(live: str, admin: str) -> None:
    host = live.removeprefix("http://")
    assert await _handshake(live, PORTAL) == 101
    assert await _handshake(live, f"http://{host}") == 101  # the server's own pages (the console)
    assert await _handshake(live, None) == 101  # not a browser: no Origin
    assert await _handshake(live, "https://evil.example") == 403
    # A page of an allowed origin gets a working, authenticated socket.
    async with connect(ws_url(live), subprotocols=[PROTOCOL], origin=PORTAL) as ws:  # type: ignore[arg-type,list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {admin}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
