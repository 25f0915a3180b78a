"""A database outage: 503 with Retry-After and SERVICE_UNAVAILABLE, one log line, a clear socket close.

The app reaches PostgreSQL through a TCP proxy the test cuts (connections refused and dropped,
as when the database restarts) and restores on the same address.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.settings import Settings
from tests.conftest import Tokens, bearer
from tests.support.builders import Builder
from tests.support.live import serving
from tests.support.tcp_proxy import TcpProxy

VIEWER = {"query": "{ viewer { subject } }"}
REQUESTS = {"query": "{ serviceRequests(first: 5) { totalCount } }"}


@pytest.fixture
async def proxy(db_url: str) -> AsyncIterator[TcpProxy]:
    target = urlsplit(db_url)
    cut = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await cut.restore()
    yield cut
    await cut.cut()


@pytest.fixture
async def base_url(db_url: str, proxy: TcpProxy) -> AsyncIterator[str]:
    """The app served by uvicorn, its database behind the proxy."""
    parts = urlsplit(db_url)
    through_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    settings = Settings(DATABASE_URL=through_proxy, CASEGRAPH_ENV="test", CASEGRAPH_WORKERS=False)
    async with serving(settings) as url:
        yield url


async def _socket_close(base_url: str, token: str) -> tuple[int | None, str]:
    """The close code and reason of a graphql-transport-ws connection_init with `token`."""
    url = base_url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        try:
            async with asyncio.timeout(10):
                message = await ws.recv()
        except ConnectionClosed as exc:
            return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
    raise AssertionError(f"the socket was not closed: {message!r}")


async def test_a_database_outage_is_503_logged_once_and_closes_sockets_clearly(
    engine: AsyncEngine, tokens: Tokens, proxy: TcpProxy, base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    b = Builder(engine, now=datetime.now(UTC))
    for n in range(4):
        await b.staff(
            name=f"Agent {n}", email=f"agent{n}@example.com", role="ADMIN", approval_level="CONTROLLER"
        )
    known = bearer(tokens.staff("agent0@example.com"))
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        assert (await http.post("/graphql", json=REQUESTS, headers=known)).status_code == 200

        caplog.clear()
        caplog.set_level(logging.INFO)
        await proxy.cut()
        answers = [
            # A principal still cached from before: the read fails in its resolver.
            await http.post("/graphql", json=REQUESTS, headers=known),
            # New tokens: the staff member is looked up while authenticating.
            *[
                await http.post(
                    "/graphql", json=VIEWER, headers=bearer(tokens.staff(f"agent{n}@example.com"))
                )
                for n in (1, 2)
            ],
        ]
        for response in answers:
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"].isdigit()
            assert response.headers["content-type"].startswith("application/json")
            codes = {e["extensions"]["code"] for e in response.json()["errors"]}
            assert codes == {"SERVICE_UNAVAILABLE"}
        assert await _socket_close(base_url, tokens.staff("agent3@example.com")) == (
            1013,
            "database unavailable, retry later",
        )
        assert (await http.get("/readyz")).status_code == 503

        outage_lines = [r for r in caplog.records if r.name == "casegraph.outage"]
        assert [r.levelno for r in outage_lines] == [logging.ERROR]
        # No traceback per request (connection pools may say that they keep retrying).
        per_request = ("casegraph.graphql", "casegraph.http", "strawberry.execution", "uvicorn.error")
        assert [
            r for r in caplog.records if r.name.startswith(per_request) and r.levelno >= logging.ERROR
        ] == []
        # Nor a read planner's "statement failed" per request: the resolver path reports the outage.
        planner = [r for r in caplog.records if r.name == "casegraph.planner"]
        assert [r for r in planner if r.levelno >= logging.WARNING] == []

        await proxy.restore()
        back = await http.post("/graphql", json=VIEWER, headers=bearer(tokens.staff("agent1@example.com")))
        assert back.status_code == 200, back.text
        recovered = [r.getMessage() for r in caplog.records if r.name == "casegraph.outage"][1:]
        assert len(recovered) == 1 and recovered[0].startswith("database available again")
