"""Fixtures of the subscription tests: a small organisation, real servers over TCP, real tokens."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from records.rows import CustomerRow, RequestRow, StaffRow, TeamRow
from server.settings import Settings
from tests.conftest import Tokens
from tests.realtime_api.support import ServerProcess, WsClient, free_port, graphql
from tests.support.builders import Builder, gid


@dataclass
class Org:
    acme: CustomerRow  # C-1001, linked to the partner "erp-connector"
    other: CustomerRow  # C-2002
    billing: TeamRow
    ana: StaffRow  # AGENT, Billing
    sup: StaffRow  # SUPERVISOR, approval level SUPERVISOR
    fin: StaffRow  # FINANCE, approval level FINANCE_MANAGER
    admin: StaffRow  # ADMIN, CONTROLLER
    acme_request: RequestRow  # Billing, assigned to ana
    other_request: RequestRow


@pytest.fixture
async def org(engine: AsyncEngine) -> Org:
    b = Builder(engine)
    billing = await b.team(name="Billing")
    skills = ["BILLING_DISPUTE", "INVOICE_CORRECTION", "GENERAL_INQUIRY"]
    ana = await b.staff(name="Ana", email="ana@example.com", skills=skills, teams=[billing])
    sup = await b.staff(
        name="Sue", email="sup@example.com", role="SUPERVISOR", approval_level="SUPERVISOR", teams=[billing]
    )
    fin = await b.staff(name="Fin", email="fin@example.com", role="FINANCE", approval_level="FINANCE_MANAGER")
    admin = await b.staff(name="Admin", email="admin@example.com", role="ADMIN", approval_level="CONTROLLER")
    acme = await b.customer(name="Acme", external_ref="C-1001")
    other = await b.customer(name="Other", external_ref="C-2002")
    await b.partner(customers=[acme], client_id="erp-connector")
    acme_request = await b.request(customer=acme, team=billing, assignee=ana, status="IN_PROGRESS")
    other_request = await b.request(customer=other, team=billing, status="NEW")
    return Org(acme, other, billing, ana, sup, fin, admin, acme_request, other_request)


@dataclass
class LiveApp:
    """An in-process uvicorn serving a real app; `app.state.services` is at hand."""

    url: str
    app: Starlette

    @property
    def services(self) -> Any:
        return self.app.state.services


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[LiveApp]:
    from server.app import create_app

    port = free_port()
    application = create_app(settings)
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws_ping_interval=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield LiveApp(f"http://127.0.0.1:{port}", application)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def server_a(settings: Settings) -> AsyncIterator[LiveApp]:
    async with serve(settings) as live:
        yield live


@pytest.fixture
async def server_b(db_url: str, tokens: Tokens) -> AsyncIterator[ServerProcess]:
    """A second server *process* on the same database (its own engine, hub and LISTEN connection)."""
    proc = ServerProcess(db_url)
    try:
        yield await proc.ready()
    finally:
        await proc.stop()


@pytest.fixture
async def sockets() -> AsyncIterator[Callable[..., Awaitable[WsClient]]]:
    """`await sockets(url, token)`: an initialised WsClient, closed after the test."""
    opened: list[WsClient] = []

    async def open_socket(url: str, token: str | None, **kwargs: Any) -> WsClient:
        client = await WsClient.open(url, token, **kwargs)
        opened.append(client)
        return client

    yield open_socket
    for client in opened:
        with contextlib.suppress(Exception):
            await client.close()


ADD_COMMENT = """
mutation($input: AddCommentInput!) {
  addComment(input: $input) { comment { id } userErrors { code message } }
}
"""

REQUEST_EVENTS_CURSOR = """
query($id: ID!) { node(id: $id) { ... on ServiceRequest { events(first: 100) { nodes { cursor } } } } }
"""


async def add_comment(
    url: str, token: str, request: RequestRow, body: str, visibility: str = "PUBLIC"
) -> str:
    """A comment through the real mutation (it writes a COMMENTED event); returns the comment's ID."""
    data = await graphql(
        url,
        token,
        ADD_COMMENT,
        {"input": {"serviceRequestId": gid(request), "body": body, "visibility": visibility}},
    )
    payload = data["addComment"]
    assert payload["userErrors"] == [], payload
    return str(payload["comment"]["id"])


async def last_cursor(url: str, token: str, request: RequestRow) -> str | None:
    """The newest event cursor of a request, read through the API (None: no events yet)."""
    data = await graphql(url, token, REQUEST_EVENTS_CURSOR, {"id": gid(request)})
    edges = data["node"]["events"]["nodes"]
    return str(edges[-1]["cursor"]) if edges else None


async def write_event(
    engine: AsyncEngine, request: RequestRow, kind: str, *, actor: str = "system", **fields: Any
) -> list[int]:
    """One event committed through db.uow.UnitOfWork (insert + pg_notify in one transaction), as
    the SLA engine and the mutations write them; returns the inserted event ids."""
    from datetime import UTC, datetime

    from db.engine import make_sessionmaker
    from db.uow import ChangeActor, UnitOfWork

    who = ChangeActor.system() if actor == "system" else ChangeActor(subject=actor, name=actor)
    async with UnitOfWork(make_sessionmaker(engine), who, datetime.now(UTC)) as uow:
        uow.event(
            request_id=request.id,
            customer_id=request.customer_id,
            team_id=request.team_id,
            kind=kind,
            **fields,
        )
        await uow.commit()
    return uow.inserted_event_ids
