"""The two read paths over HTTP: what the planner answers and what it leaves to the resolvers,
counted on /metrics and logged once per document and reason; READ_PLANNER=off plans nothing."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from server.settings import Settings
from tests.conftest import Tokens, bearer
from tests.support.builders import Builder

VIEWER = "query Me { viewer { subject roles } }"
# A root field the planner does not plan: introspection, which the executor answers from the schema.
UNPLANNED = "query Figures { __schema { queryType { name } } }"


def _planned() -> float:
    return REGISTRY.get_sample_value("casegraph_read_planner_planned_total") or 0.0


def _fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("casegraph_read_planner_fallbacks_total", {"reason": reason}) or 0.0


async def test_planned_and_fallen_back_operations_are_counted_and_logged(
    client: httpx.AsyncClient, engine: AsyncEngine, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    await Builder(engine).staff(email="ana@example.com", role="ADMIN")
    headers = bearer(tokens.staff("ana@example.com"))
    planned, unsupported = _planned(), _fallbacks("unsupported_root_field")

    response = await client.post("/graphql", json={"query": VIEWER}, headers=headers)
    assert response.json()["data"] == {"viewer": {"subject": "ana@example.com", "roles": ["ADMIN"]}}
    assert _planned() == planned + 1

    with caplog.at_level(logging.INFO, logger="casegraph.planner"):
        for _ in range(2):
            response = await client.post("/graphql", json={"query": UNPLANNED}, headers=headers)
            assert response.status_code == 200
            assert response.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert _fallbacks("unsupported_root_field") == unsupported + 2
    assert _planned() == planned + 1
    lines = [r.getMessage() for r in caplog.records if "takes the resolver path" in r.getMessage()]
    assert len(lines) == 1 and "Figures" in lines[0]
    assert "unsupported_root_field (__schema)" in lines[0]

    exposed = (await client.get("/metrics")).text
    assert "casegraph_read_planner_planned_total" in exposed
    assert 'casegraph_read_planner_fallbacks_total{reason="unsupported_root_field"}' in exposed


async def test_a_request_the_resolvers_refuse_is_refused_the_same(
    client: httpx.AsyncClient, engine: AsyncEngine, tokens: Tokens
) -> None:
    """BAD_USER_INPUT arguments are not planned: the resolver path reports them."""
    await Builder(engine).staff(email="ana@example.com", role="ADMIN")
    bad_page = _fallbacks("bad_page_argument")
    response = await client.post(
        "/graphql",
        json={
            "query": "query P($n: Int) { serviceRequests(first: $n) { totalCount nodes { id } } }",
            "variables": {"n": 500},
        },
        headers=bearer(tokens.staff("ana@example.com")),
    )
    body = response.json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert _fallbacks("bad_page_argument") == bad_page + 1


async def test_read_planner_off_serves_every_operation_through_the_resolvers(
    settings: Settings, engine: AsyncEngine, tokens: Tokens
) -> None:
    from server.app import create_app

    await Builder(engine).staff(email="ana@example.com", role="ADMIN")
    settings.read_planner = "off"
    app = create_app(settings)
    planned = _planned()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client,
    ):
        response = await client.post(
            "/graphql", json={"query": VIEWER}, headers=bearer(tokens.staff("ana@example.com"))
        )
    assert response.json()["data"]["viewer"]["subject"] == "ana@example.com"
    assert _planned() == planned


async def test_subscription_payloads_from_the_same_plans(app: Any, engine: AsyncEngine) -> None:
    """ReadPlanner.objects: an event's payload per row, scoped to the caller as reads are."""
    from tests.support.graphql import customer_principal

    b = Builder(engine)
    own, other = await b.customer(name="Own"), await b.customer(name="Other")
    mine = await b.event(request=await b.request(customer=own, subject="Mine"))
    theirs = await b.event(request=await b.request(customer=other, subject="Theirs"))
    planner = app.state.graphql.app.planner
    payloads = await planner.objects(
        text="subscription Live { requestEvents { id kind serviceRequest { subject } } }",
        operation_name="Live",
        variables=None,
        principal=customer_principal(own.id),
        type_name="RequestEvent",
        rows=[theirs.id, mine.id],
    )
    assert payloads is not None
    assert [json.loads(p) for p in payloads] == [
        None,
        {"id": ids.encode("RequestEvent", mine.id), "kind": "CREATED", "serviceRequest": {"subject": "Mine"}},
    ]
