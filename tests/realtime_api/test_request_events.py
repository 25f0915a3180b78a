"""requestEvents over real WebSockets: live delivery, resume after a disconnect, two server processes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from records.events import STREAM_START, encode_cursor
from tests.conftest import Tokens
from tests.realtime_api.conftest import LiveApp, Org, add_comment
from tests.realtime_api.support import EVENT_FIELDS, OperationError, ServerProcess, WsClient
from tests.support.builders import gid

Sockets = Callable[..., Awaitable[WsClient]]

SUBSCRIBE = f"""
subscription($after: String, $filter: RequestEventFilter) {{
  requestEvents(after: $after, filter: $filter) {{ {EVENT_FIELDS} }}
}}
"""
BEGINNING = encode_cursor(STREAM_START)


async def test_live_event_reaches_subscriber_with_query_fields(
    server_a: LiveApp, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    admin = tokens.staff("admin@example.com", "ADMIN")
    ws = await sockets(server_a.url, admin)
    op = await ws.subscribe(SUBSCRIBE, {"filter": {"serviceRequestId": gid(org.acme_request)}})
    await ws.silent(op, 0.3)  # registered with the hub: live from here on
    comment_id = await add_comment(
        server_a.url, tokens.staff("ana@example.com", "AGENT"), org.acme_request, "hi"
    )
    event = (await ws.next(op))["requestEvents"]
    assert event["kind"] == "COMMENTED"
    assert event["serviceRequest"] == {"id": gid(org.acme_request), "number": org.acme_request.number}
    assert event["comment"] == {"id": comment_id, "body": "hi", "visibility": "PUBLIC"}
    assert event["actorName"] == "Ana"
    await ws.silent(op, 0.3)


async def test_mutation_on_server_a_reaches_subscriber_on_server_b(
    server_a: LiveApp, server_b: ServerProcess, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    admin = tokens.staff("admin@example.com", "ADMIN")
    ws = await sockets(server_b.url, admin)
    op = await ws.subscribe(SUBSCRIBE, {"after": BEGINNING})
    await ws.silent(op, 0.3)
    ana = tokens.staff("ana@example.com", "AGENT")
    ids = [await add_comment(server_a.url, ana, org.acme_request, f"from A #{i}") for i in range(3)]
    events = await ws.take(op, "requestEvents", 3)
    assert [e["comment"]["id"] for e in events] == ids
    # and the other way round: a mutation on B reaches a subscriber on A
    ws_a = await sockets(server_a.url, admin)
    op_a = await ws_a.subscribe(SUBSCRIBE, {"after": events[-1]["cursor"]})
    from_b = await add_comment(server_b.url, ana, org.other_request, "from B")
    assert (await ws_a.next(op_a))["requestEvents"]["comment"]["id"] == from_b
    assert (await ws.next(op))["requestEvents"]["comment"]["id"] == from_b


async def test_resume_after_disconnect_delivers_exactly_the_missed_events_in_order(
    server_a: LiveApp, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    admin = tokens.staff("admin@example.com", "ADMIN")
    ana = tokens.staff("ana@example.com", "AGENT")
    ws = await sockets(server_a.url, admin)
    op = await ws.subscribe(SUBSCRIBE, {"after": BEGINNING})
    first = [await add_comment(server_a.url, ana, org.acme_request, f"before {i}") for i in range(4)]
    seen = await ws.take(op, "requestEvents", 4)
    assert [e["comment"]["id"] for e in seen] == first
    await ws.close()

    missed = [
        await add_comment(server_a.url, ana, request, f"while away {i}")
        for i, request in enumerate([org.acme_request, org.other_request] * 3)
    ]
    again = await sockets(server_a.url, admin)
    op2 = await again.subscribe(SUBSCRIBE, {"after": seen[-1]["cursor"]})
    replayed = await again.take(op2, "requestEvents", len(missed))
    assert [e["comment"]["id"] for e in replayed] == missed
    await again.silent(op2, 0.5)  # nothing twice
    # and it continues live after the replay, without a duplicate
    live = await add_comment(server_a.url, ana, org.acme_request, "live again")
    assert (await again.next(op2))["requestEvents"]["comment"]["id"] == live
    await again.silent(op2, 0.3)
    cursors = [e["cursor"] for e in seen + replayed]
    assert len(set(cursors)) == len(cursors)


async def test_filters_narrow_the_stream(
    server_a: LiveApp, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    admin = tokens.staff("admin@example.com", "ADMIN")
    ana = tokens.staff("ana@example.com", "AGENT")
    ws = await sockets(server_a.url, admin)
    by_customer = await ws.subscribe(
        SUBSCRIBE, {"after": BEGINNING, "filter": {"customerId": gid(org.other)}}
    )
    by_kind = await ws.subscribe(SUBSCRIBE, {"after": BEGINNING, "filter": {"kinds": ["CREATED"]}})
    by_team = await ws.subscribe(SUBSCRIBE, {"after": BEGINNING, "filter": {"teamId": gid(org.billing)}})
    wrong_type = await ws.subscribe(
        SUBSCRIBE, {"after": BEGINNING, "filter": {"customerId": gid(org.billing)}}
    )
    await add_comment(server_a.url, ana, org.acme_request, "acme")
    other = await add_comment(server_a.url, ana, org.other_request, "other")
    assert (await ws.next(by_customer))["requestEvents"]["comment"]["id"] == other
    team_events = await ws.take(by_team, "requestEvents", 2)
    assert [e["comment"]["body"] for e in team_events] == ["acme", "other"]
    await ws.silent(by_kind, 0.5)
    await ws.silent(wrong_type, 0.1)
    await ws.silent(by_customer, 0.1)


async def test_bad_arguments_are_bad_user_input(
    server_a: LiveApp, org: Org, tokens: Tokens, sockets: Sockets
) -> None:
    ws = await sockets(server_a.url, tokens.staff("admin@example.com", "ADMIN"))
    for variables in (
        {"after": "not-a-cursor"},
        {"after": encode_cursor(STREAM_START) + "="},
        {"filter": {"serviceRequestId": "!!garbage"}},
        {"filter": {"teamId": "VGVhbTp4"}},  # "Team:x"
    ):
        op = await ws.subscribe(SUBSCRIBE, variables)
        try:
            await ws.next(op)
        except OperationError as error:
            assert error.codes == ["BAD_USER_INPUT"], (variables, error.payload)
        else:
            raise AssertionError(f"no error for {variables}")
