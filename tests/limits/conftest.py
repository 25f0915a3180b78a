"""Fixtures of the limits tests: apps with given limits, principals with tokens, statement counts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from records.rows import CustomerRow
from server.settings import Settings
from tests.conftest import Tokens, bearer
from tests.support.builders import Builder

GRAPHQL_RESPONSE = "application/graphql-response+json"
VIEWER = "{ viewer { subject } }"


def page_costing(points: int) -> str:
    """A query of exactly `points` points: a customers page of points - 1 (1 per node)."""
    return f"{{ customers(first: {points - 1}) {{ nodes {{ id }} }} }}"


@dataclass
class People:
    """Staff, a customer and a partner, with real tokens."""

    admin: str
    customer: str
    partner: str
    acme: CustomerRow


@pytest.fixture
async def people(engine: AsyncEngine, tokens: Tokens) -> People:
    b = Builder(engine)
    await b.staff(email="admin@example.com", role="ADMIN", approval_level="CONTROLLER")
    acme = await b.customer(name="Acme", external_ref="C-1001")
    await b.partner(customers=[acme], client_id="erp-connector")
    return People(
        admin=tokens.staff("admin@example.com"),
        customer=tokens.customer("C-1001"),
        partner=tokens.partner("erp-connector"),
        acme=acme,
    )


AppFactory = Callable[..., contextlib.AbstractAsyncContextManager[tuple[Starlette, httpx.AsyncClient]]]


@pytest.fixture
def app_with(db_url: str) -> AppFactory:
    """`async with app_with(RATE_LIMIT_POINTS=100) as (app, client)`: the real app with these settings."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
        from server.app import create_app

        settings = Settings(DATABASE_URL=db_url, CASEGRAPH_ENV="test", CASEGRAPH_WORKERS=False, **overrides)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                yield app, client

    return start


@contextlib.contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine runs inside the block."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def post(client: httpx.AsyncClient, token: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post("/graphql", json=body, headers={**bearer(token), **headers})


def cost_of(response: httpx.Response) -> dict[str, Any]:
    extensions: dict[str, Any] = response.json()["extensions"]
    return extensions["cost"]  # type: ignore[no-any-return]


@pytest.fixture
def serve_with(db_url: str) -> Callable[..., contextlib.AbstractAsyncContextManager[Any]]:
    """`async with serve_with(QUERY_COST_LIMIT=2) as live`: the app on a real uvicorn (live.url)."""
    from tests.realtime_api.conftest import serve

    def start(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Any]:
        settings = Settings(DATABASE_URL=db_url, CASEGRAPH_ENV="test", CASEGRAPH_WORKERS=False, **overrides)
        return serve(settings)

    return start


@pytest.fixture
async def sockets() -> AsyncIterator[Callable[..., Any]]:
    """`await sockets(url, token)`: an initialised graphql-transport-ws client, closed after the test."""
    from tests.realtime_api.support import WsClient

    opened: list[WsClient] = []

    async def open_socket(url: str, token: str) -> WsClient:
        client = await WsClient.open(url, token)
        opened.append(client)
        return client

    yield open_socket
    for client in opened:
        with contextlib.suppress(Exception):
            await client.close()
