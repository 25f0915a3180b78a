"""Fan-out by audience (issue 13): subscribers asking the same thing with the same access share
one execution per event; everything a subscriber relies on stays per socket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from records.events import STREAM_START, encode_cursor
from server.audiences import Audiences
from tests.conftest import Tokens
from tests.realtime_api.conftest import LiveApp, Org, add_comment
from tests.realtime_api.support import EVENT_FIELDS, WsClient
from tests.support.builders import Builder

Sockets = Callable[..., Awaitable[WsClient]]

SUBSCRIBE = f"subscription($after: String) {{ requestEvents(after: $after) {{ {EVENT_FIELDS} }} }}"


def _audiences(server: LiveApp) -> Audiences:
    audiences: Audiences = server.app.state.graphql.app.audiences
    return audiences


async def _agent(engine: AsyncEngine, org: Org, email: str) -> None:
    await Builder(engine).staff(name=email.split("@")[0].title(), email=email, teams=[org.billing])


async def test_same_question_same_access_is_one_execution_per_event(
    server_a: LiveApp, engine: AsyncEngine, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    await _agent(engine, org, "bob@example.com")
    ana = await sockets(server_a.url, tokens.staff("ana@example.com", "AGENT"))
    bob = await sockets(server_a.url, tokens.staff("bob@example.com", "AGENT"))
    customer = await sockets(server_a.url, tokens.customer("C-1001"))
    op_ana, op_bob, op_customer = [await ws.subscribe(SUBSCRIBE) for ws in (ana, bob, customer)]
    # A subscription resuming from a cursor replays on its own: no audience.
    resuming = await sockets(server_a.url, tokens.staff("ana@example.com", "AGENT"))
    op_resuming = await resuming.subscribe(SUBSCRIBE, {"after": encode_cursor(STREAM_START)})
    await ana.silent(op_ana, 0.3)
    audiences = _audiences(server_a)
    assert sorted(len(a.members) for a in audiences) == [1, 2]  # the customer; the two agents

    writer = tokens.staff("ana@example.com", "AGENT")
    await add_comment(server_a.url, writer, org.acme_request, "acme public")
    await add_comment(server_a.url, writer, org.acme_request, "acme internal", "INTERNAL")
    await add_comment(server_a.url, writer, org.other_request, "other public")

    seen_by_ana = await ana.take(op_ana, "requestEvents", 3)
    assert [e["comment"]["body"] for e in seen_by_ana] == ["acme public", "acme internal", "other public"]
    assert await bob.take(op_bob, "requestEvents", 3) == seen_by_ana  # the same result, to the byte
    # Access is the audience's: the customer's audience sees only its customer's public comment.
    assert [e["comment"]["body"] for e in await customer.take(op_customer, "requestEvents", 1)] == [
        "acme public"
    ]
    await customer.silent(op_customer, 0.3)
    resumed = await resuming.take(op_resuming, "requestEvents", 3)
    assert [e["comment"]["body"] for e in resumed] == ["acme public", "acme internal", "other public"]

    staff_audience = next(a for a in audiences if len(a.members) == 2)
    assert staff_audience.events == 3  # executed once per event, for both agents

    # Leaving is per operation: Bob still receives after Ana completed hers.
    await ana.complete(op_ana)
    await ana.silent(op_ana, 0.2)
    await add_comment(server_a.url, writer, org.acme_request, "after ana left")
    assert (await bob.next(op_bob))["requestEvents"]["comment"]["body"] == "after ana left"
    await ana.silent(op_ana, 0.3)
    await bob.complete(op_bob)
    await customer.complete(op_customer)
    await bob.silent(op_bob, 0.2)
    assert len(_audiences(server_a)) == 0  # the last member gone, the execution ends


async def test_token_expiry_is_per_socket_inside_an_audience(
    server_a: LiveApp, engine: AsyncEngine, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    await _agent(engine, org, "bob@example.com")
    short = await sockets(server_a.url, tokens.staff("ana@example.com", "AGENT", ttl=2))
    long = await sockets(server_a.url, tokens.staff("bob@example.com", "AGENT"))
    op_short, op_long = await short.subscribe(SUBSCRIBE), await long.subscribe(SUBSCRIBE)
    await long.silent(op_long, 0.3)
    assert [len(a.members) for a in _audiences(server_a)] == [2]
    writer = tokens.staff("ana@example.com", "AGENT", ttl=600)
    await add_comment(server_a.url, writer, org.acme_request, "in time")
    assert (await short.next(op_short))["requestEvents"]["comment"]["body"] == "in time"
    assert (await long.next(op_long))["requestEvents"]["comment"]["body"] == "in time"
    assert await short.wait_closed(within=10) == 4403
    await add_comment(server_a.url, writer, org.acme_request, "later")
    assert (await long.next(op_long))["requestEvents"]["comment"]["body"] == "later"
    assert [len(a.members) for a in _audiences(server_a)] == [1]
