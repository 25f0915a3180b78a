"""graphql-transport-ws under the limits: admission at subscribe, subscription slots, message size."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.limits.conftest import People
from tests.realtime_api.support import Closed, OperationError, ServerProcess, WsClient

EVENTS = "subscription { requestEvents { id serviceRequest { id customer { id } } } }"
Sockets = Callable[..., Awaitable[WsClient]]


async def live_leases(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        stmt = text("SELECT count(*) FROM subscription_leases WHERE expires_at > now()")
        return int((await conn.execute(stmt)).scalar_one())


async def wait_for_leases(engine: AsyncEngine, count: int, within: float = 20) -> None:
    """Until exactly `count` leases are live (subscriptions are admitted one message at a time)."""
    for _ in range(int(within / 0.05)):
        if await live_leases(engine) == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{await live_leases(engine)} live leases, expected {count}")


async def test_subscribe_is_admitted_like_a_request(
    serve_with: Any, people: People, sockets: Sockets
) -> None:
    async with serve_with(QUERY_COST_LIMIT=2) as live:
        ws = await sockets(live.url, people.admin)
        refused = await ws.subscribe(EVENTS)
        with pytest.raises(OperationError) as error:
            await ws.next(refused)
        (payload,) = error.value.payload
        assert payload["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert payload["extensions"]["cost"] == {"requested": 3, "limit": 2}
        # Queries over the socket are charged and report their cost with the result.
        query = await ws.subscribe("{ viewer { subject } }")
        message = await ws.message(query)
        assert message["type"] == "next"
        cost = message["payload"]["extensions"]["cost"]
        assert cost["requested"] == 1 and cost["remaining"] == 100_000 - 1


async def test_fifty_operations_per_connection(serve_with: Any, people: People, sockets: Sockets) -> None:
    async with serve_with() as live:
        ws = await sockets(live.url, people.admin)
        for _ in range(50):
            await ws.subscribe("subscription { requestEvents { id } }")
        extra = await ws.subscribe("subscription { requestEvents { id } }")
        with pytest.raises(OperationError) as error:
            await ws.next(extra)
        assert error.value.codes == ["RATE_LIMITED"]


async def test_two_hundred_subscriptions_per_principal_across_connections_and_processes(
    serve_with: Any, people: People, sockets: Sockets, engine: AsyncEngine, db_url: str
) -> None:
    other_process = ServerProcess(db_url)
    try:
        async with serve_with() as live:
            await other_process.ready()
            first_socket = None
            for _ in range(4):
                ws = await sockets(live.url, people.admin)
                first_socket = first_socket or ws
                for _ in range(50):
                    await ws.subscribe("subscription { requestEvents { id } }")
            await wait_for_leases(engine, 200)

            elsewhere = await sockets(other_process.url, people.admin)
            refused = await elsewhere.subscribe("subscription { requestEvents { id } }")
            with pytest.raises(OperationError) as error:
                await elsewhere.next(refused)
            assert error.value.codes == ["RATE_LIMITED"]
            # Another principal is not affected.
            customer = await sockets(other_process.url, people.customer)
            await customer.subscribe("subscription { requestEvents { id } }")
            await wait_for_leases(engine, 201)

            # A subscription that ends gives its slot back; the other process may take it.
            assert first_socket is not None
            await first_socket.complete("1")
            await wait_for_leases(engine, 200)
            admitted = await elsewhere.subscribe("subscription { requestEvents { id } }")
            await wait_for_leases(engine, 201)
            await elsewhere.silent(admitted, 0.3)
            # A closed socket gives all of its slots back.
            await first_socket.close()
            await wait_for_leases(engine, 152)
    finally:
        await other_process.stop()


async def test_a_message_past_one_megabyte_closes_the_socket(
    serve_with: Any, people: People, sockets: Sockets
) -> None:
    async with serve_with() as live:
        ws = await sockets(live.url, people.admin)
        query = "#" + "x" * 1_000_001 + "\n{ viewer { subject } }"
        await ws.ws.send(json.dumps({"id": "big", "type": "subscribe", "payload": {"query": query}}))
        assert await ws.wait_closed() == 4400
        with pytest.raises(Closed):
            await ws.message("big", within=1)
