"""The Python `gql` client against a real server: a query over HTTP (httpx) and a subscription
over WebSocket (graphql-transport-ws) that receives the event a mutation caused.

A client nobody here wrote: it fetches the schema by introspection and validates every document
against it before sending, so the exported schema and the wire protocol are both checked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from gql import Client, GraphQLRequest, gql
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.exceptions import ConnectionClosed

from records.events import STREAM_START, encode_cursor
from records.rows import RequestRow
from tests.conftest import Tokens, bearer
from tests.support.builders import Builder, gid

ADMIN = "admin@example.com"
AGENT = "ana@example.com"

VIEWER_AND_QUEUE = gql(
    """
    query Queue($teamId: ID!) {
      viewer { subject roles }
      serviceRequests(first: 10, filter: { teamId: $teamId }) {
        totalCount
        nodes { id number status version sla { state remainingSeconds } }
      }
    }
    """
)
REQUEST_EVENTS = gql(
    """
    subscription Events($id: ID!, $after: String) {
      requestEvents(filter: { serviceRequestId: $id }, after: $after) {
        cursor kind actorName
        serviceRequest { id number }
        comment { body visibility }
      }
    }
    """
)
ADD_COMMENT = gql(
    """
    mutation Comment($input: AddCommentInput!) {
      addComment(input: $input) { comment { id } userErrors { field message code } }
    }
    """
)


@dataclass
class Org:
    team_id: str
    request: RequestRow


@pytest.fixture
async def org(engine: AsyncEngine) -> Org:
    b = Builder(engine)
    billing = await b.team(name="Billing")
    ana = await b.staff(name="Ana", email=AGENT, skills=["BILLING_DISPUTE"], teams=[billing])
    await b.staff(name="Admin", email=ADMIN, role="ADMIN", approval_level="CONTROLLER")
    acme = await b.customer(name="Acme", external_ref="C-1001")
    request = await b.request(customer=acme, team=billing, assignee=ana, status="IN_PROGRESS")
    return Org(team_id=gid(billing), request=request)


@pytest.fixture
async def http_client(live_server: str, tokens: Tokens, org: Org) -> AsyncIterator[AsyncClientSession]:
    """An admin's HTTP session; `org` first, as the token's subject must be a staff row."""
    transport = HTTPXAsyncTransport(url=f"{live_server}/graphql", headers=bearer(tokens.staff(ADMIN)))
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        yield session


def ws_transport(live_server: str, token: str | None) -> WebsocketsTransport:
    payload = {"authorization": f"Bearer {token}"} if token else {}
    return WebsocketsTransport(
        url=live_server.replace("http://", "ws://", 1) + "/graphql",
        init_payload=payload,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


async def test_query_over_http_validated_against_the_introspected_schema(
    http_client: AsyncClientSession, org: Org
) -> None:
    result = await http_client.execute(
        GraphQLRequest(VIEWER_AND_QUEUE, variable_values={"teamId": org.team_id})
    )
    assert result["viewer"] == {"subject": ADMIN, "roles": ["ADMIN"]}
    queue = result["serviceRequests"]
    assert queue["totalCount"] == 1
    assert queue["nodes"][0]["id"] == gid(org.request)
    assert queue["nodes"][0]["status"] == "IN_PROGRESS"
    # gql checked the document against the server's schema (introspection) before sending it.
    assert http_client.client.schema is not None
    assert http_client.client.schema.get_type("ServiceRequest") is not None


async def test_query_without_a_token_is_refused_as_unauthenticated(live_server: str, org: Org) -> None:
    # The 401 carries a GraphQL error body, which gql surfaces as a query error with its code.
    transport = HTTPXAsyncTransport(url=f"{live_server}/graphql")
    with pytest.raises(TransportQueryError) as refused:
        async with Client(transport=transport) as session:
            await session.execute(GraphQLRequest(VIEWER_AND_QUEUE, variable_values={"teamId": org.team_id}))
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert refused.value.data is None


async def test_subscription_over_websocket_receives_the_event_a_mutation_caused(
    live_server: str, tokens: Tokens, org: Org
) -> None:
    request_id = gid(org.request)
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def listen() -> None:
        async with Client(transport=ws_transport(live_server, tokens.staff(ADMIN))) as ws:
            # From the start of the stream: nothing this request gets can be missed, however
            # late the subscription is registered.
            variables = {"id": request_id, "after": encode_cursor(STREAM_START)}
            subscription = GraphQLRequest(REQUEST_EVENTS, variable_values=variables)
            async for result in ws.subscribe(subscription):
                await received.put(result["requestEvents"])

    listener = asyncio.create_task(listen())

    async def next_event() -> dict[str, Any]:
        # Whichever comes first: an event, or the listener failing (its error is the useful one).
        getter = asyncio.ensure_future(received.get())
        done, _ = await asyncio.wait({getter, listener}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if listener in done:
            listener.result()
        raise AssertionError("no event within 10 s")

    try:
        agent = HTTPXAsyncTransport(
            url=f"{live_server}/graphql", headers=bearer(tokens.staff(AGENT, "AGENT"))
        )
        async with Client(transport=agent) as session:
            comment = {"serviceRequestId": request_id, "body": "hello from gql", "visibility": "PUBLIC"}
            payload = await session.execute(GraphQLRequest(ADD_COMMENT, variable_values={"input": comment}))
        assert payload["addComment"]["userErrors"] == []
        event = await next_event()
        while event["kind"] != "COMMENTED":  # builder-made requests may carry older events
            event = await next_event()
        assert event["serviceRequest"] == {"id": request_id, "number": org.request.number}
        assert event["comment"] == {"body": "hello from gql", "visibility": "PUBLIC"}
        assert event["actorName"] == "Ana"
        assert event["cursor"]
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def test_subscription_without_a_token_is_refused(live_server: str, org: Org) -> None:
    with pytest.raises(TransportConnectionFailed) as refused:
        async with Client(transport=ws_transport(live_server, None)) as ws:
            request = GraphQLRequest(REQUEST_EVENTS, variable_values={"id": gid(org.request)})
            async for _ in ws.subscribe(request):
                break
    # ACCESS.md: a missing token closes the socket with 4403.
    closed = refused.value.__cause__
    assert isinstance(closed, ConnectionClosed)
    assert closed.rcvd is not None and closed.rcvd.code == 4403
