"""Who receives what: customer and partner scope, INTERNAL comments, FORBIDDEN, tokens (4403)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from auth.tokens import mint_token
from records.events import STREAM_START, encode_cursor
from tests.conftest import Tokens
from tests.realtime_api.conftest import LiveApp, Org, add_comment
from tests.realtime_api.support import EVENT_FIELDS, Closed, OperationError, WsClient, ws_url
from tests.support.builders import gid

Sockets = Callable[..., Awaitable[WsClient]]

SUBSCRIBE = f"subscription($after: String) {{ requestEvents(after: $after) {{ {EVENT_FIELDS} }} }}"
SLA = "subscription { slaAlerts { kind target dueAt cursor serviceRequest { id } } }"
APPROVALS = "subscription { approvalRequests { id status } }"
BEGINNING = encode_cursor(STREAM_START)


async def _bodies(ws: WsClient, op: str, count: int) -> list[str]:
    return [e["comment"]["body"] for e in await ws.take(op, "requestEvents", count)]


async def test_customer_and_partner_only_see_their_customers_and_no_internal_comments(
    server_a: LiveApp, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    customer = await sockets(server_a.url, tokens.customer("C-1001"))
    other_customer = await sockets(server_a.url, tokens.customer("C-2002"))
    partner = await sockets(server_a.url, tokens.partner("erp-connector"))
    staff = await sockets(server_a.url, tokens.staff("admin@example.com", "ADMIN"))
    ops = {
        ws: await ws.subscribe(SUBSCRIBE, {"after": BEGINNING})
        for ws in (customer, other_customer, partner, staff)
    }
    # A customer filtering on another customer gets nothing, not an error.
    sneaky = await customer.subscribe(
        f"subscription($f: RequestEventFilter) {{ requestEvents(filter: $f) {{ {EVENT_FIELDS} }} }}",
        {"f": {"customerId": gid(org.other)}},
    )

    ana = tokens.staff("ana@example.com", "AGENT")
    await add_comment(server_a.url, ana, org.acme_request, "acme public")
    await add_comment(server_a.url, ana, org.acme_request, "acme internal", "INTERNAL")
    await add_comment(server_a.url, ana, org.other_request, "other public")
    await add_comment(server_a.url, ana, org.other_request, "other internal", "INTERNAL")
    await add_comment(server_a.url, tokens.customer("C-1001"), org.acme_request, "acme last")

    assert await _bodies(staff, ops[staff], 5) == [
        "acme public",
        "acme internal",
        "other public",
        "other internal",
        "acme last",
    ]
    assert await _bodies(customer, ops[customer], 2) == ["acme public", "acme last"]
    assert await _bodies(partner, ops[partner], 2) == ["acme public", "acme last"]
    assert await _bodies(other_customer, ops[other_customer], 1) == ["other public"]
    for ws in (customer, partner, other_customer):
        await ws.silent(ops[ws], 0.3)
    await customer.silent(sneaky, 0.1)


async def test_customer_may_not_subscribe_to_sla_alerts_or_approvals(
    server_a: LiveApp, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    for token in (tokens.customer("C-1001"), tokens.partner("erp-connector")):
        ws = await sockets(server_a.url, token)
        for query in (SLA, APPROVALS):
            op = await ws.subscribe(query)
            with pytest.raises(OperationError) as caught:
                await ws.next(op)
            assert caught.value.codes == ["FORBIDDEN"]
    # requests:read only: events yes, SLA alerts yes, approvals (approvals:decide) no
    read_only = await sockets(
        server_a.url, tokens.staff("ana@example.com", "AGENT", scopes=["requests:read"])
    )
    op = await read_only.subscribe(APPROVALS)
    with pytest.raises(OperationError) as caught:
        await read_only.next(op)
    assert caught.value.codes == ["FORBIDDEN"]
    # no requests:read at all: no events
    no_read = await sockets(server_a.url, tokens.staff("ana@example.com", "AGENT", scopes=["requests:write"]))
    op = await no_read.subscribe(SUBSCRIBE)
    with pytest.raises(OperationError) as caught:
        await no_read.next(op)
    assert caught.value.codes == ["FORBIDDEN"]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"authorization": "Bearer not-a-jwt"},
        {"authorization": "Basic YWRtaW46YWRtaW4="},
    ],
)
async def test_missing_or_bad_token_closes_4403(server_a: LiveApp, payload: dict[str, str] | None) -> None:
    with pytest.raises(Closed) as closed:
        await WsClient.open(server_a.url, None, payload=payload)
    assert closed.value.code == 4403


async def test_token_of_unknown_staff_or_expired_closes_4403(
    server_a: LiveApp, org: Org, tokens: Tokens
) -> None:
    expired = mint_token(
        tokens.keys,
        issuer=tokens.issuer,
        audience=tokens.audience,
        subject="admin@example.com",
        roles=["ADMIN"],
        scopes=["requests:read"],
        ttl_seconds=60,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    for token in (tokens.staff("nobody@example.com", "ADMIN"), expired):
        with pytest.raises(Closed) as closed:
            await WsClient.open(server_a.url, token)
        assert closed.value.code == 4403


async def test_subscribe_before_connection_init_is_refused(server_a: LiveApp) -> None:
    async with connect(ws_url(server_a.url), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        with pytest.raises(Exception):  # noqa: B017 - websockets' ConnectionClosed* family
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 4401


async def test_legacy_graphql_ws_protocol_is_refused(server_a: LiveApp, org: Org, tokens: Tokens) -> None:
    """The legacy protocol (CVE-2026-35526) never gets a connection_ack, even with a valid token."""
    init = {
        "type": "connection_init",
        "payload": {"authorization": f"Bearer {tokens.staff('admin@example.com')}"},
    }
    try:
        async with connect(ws_url(server_a.url), subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
            with pytest.raises(ConnectionClosed) as closed:
                await ws.send(json.dumps(init))  # the server may already have closed
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406
    except InvalidHandshake:
        pass  # refusing the handshake itself is just as good


async def test_socket_closes_4403_when_the_token_expires(
    server_a: LiveApp, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    started = time.monotonic()
    ws = await sockets(server_a.url, tokens.staff("admin@example.com", "ADMIN", ttl=2))
    op = await ws.subscribe(SUBSCRIBE, {"after": BEGINNING})
    await add_comment(server_a.url, tokens.staff("ana@example.com", "AGENT"), org.acme_request, "in time")
    assert (await ws.next(op))["requestEvents"]["comment"]["body"] == "in time"
    code = await ws.wait_closed(within=10)
    assert code == 4403
    assert ws.close_reason == "token expired"
    # JWT exp has second precision: the close comes within ~2 s of minting (a busy machine adds a
    # little), not at some later sweep.
    assert time.monotonic() - started < 6


async def test_at_most_50_subscriptions_per_connection(
    server_a: LiveApp, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    ws = await sockets(server_a.url, tokens.staff("admin@example.com", "ADMIN"))
    ops = [await ws.subscribe(SUBSCRIBE) for _ in range(50)]
    over = await ws.subscribe(SUBSCRIBE)
    message = await ws.message(over)
    assert message["type"] == "error" and "limit" in message["payload"][0]["message"].lower()
    # the 50 others are alive: one event reaches each of them
    await ws.silent(ops[0], 0.3)
    await add_comment(server_a.url, tokens.staff("ana@example.com", "AGENT"), org.acme_request, "to all")
    for op in ops:
        assert (await ws.next(op))["requestEvents"]["comment"]["body"] == "to all"


async def test_a_closed_socket_leaves_no_expiry_timer_behind(
    server_a: LiveApp, org: Org, tokens: Tokens
) -> None:
    """The close-at-expiry timer holds the socket and its context: it must end with the socket."""

    def timers() -> int:
        return sum("close_when_expired" in repr(t.get_coro()) for t in asyncio.all_tasks())

    before = timers()
    token = tokens.staff("admin@example.com", "ADMIN")
    for _ in range(5):
        ws = await WsClient.open(server_a.url, token)
        op = await ws.subscribe(SUBSCRIBE)
        await ws.silent(op, 0.05)
        await ws.close()
    for _ in range(100):
        if timers() == before:
            break
        await asyncio.sleep(0.02)
    assert timers() == before
