"""Concurrent mutations through a real uvicorn server over TCP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from tests.conftest import Tokens, bearer
from tests.lifecycle.conftest import World, dispute

_CREATE = """mutation($input: CreateServiceRequestInput!) {
  createServiceRequest(input: $input) { serviceRequest { id version } userErrors { code } }
}"""
_TRIAGE = """mutation($input: TriageServiceRequestInput!) {
  triageServiceRequest(input: $input) { serviceRequest { id version status } userErrors { code } }
}"""
_N = 24


async def _post(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def test_concurrent_identical_transitions_one_wins(
    live_server: str, world: World, tokens: Tokens, engine: AsyncEngine
) -> None:
    token = tokens.staff("sup@example.com", "SUPERVISOR")
    limits = httpx.Limits(max_connections=_N)
    async with httpx.AsyncClient(base_url=live_server, limits=limits, timeout=30) as client:
        created = await _post(client, token, _CREATE, {"input": dispute(world)})
        request = created["createServiceRequest"]["serviceRequest"]
        pk = ids.decode(request["id"])[1]
        async with engine.connect() as conn:
            events_before = (
                await conn.execute(
                    text("SELECT count(*) FROM request_events WHERE request_id = :i"), {"i": pk}
                )
            ).scalar_one()
        attempt = {"input": {"id": request["id"], "expectedVersion": request["version"]}}
        results = await asyncio.gather(*(_post(client, token, _TRIAGE, attempt) for _ in range(_N)))
    payloads = [r["triageServiceRequest"] for r in results]
    winners = [p for p in payloads if not p["userErrors"]]
    losers = [p["userErrors"][0]["code"] for p in payloads if p["userErrors"]]
    assert len(winners) == 1 and winners[0]["serviceRequest"]["version"] == request["version"] + 1
    assert len(losers) == _N - 1 and set(losers) <= {"VERSION_CONFLICT", "INVALID_TRANSITION"}
    async with engine.connect() as conn:
        version = (
            await conn.execute(text("SELECT version FROM service_requests WHERE id = :i"), {"i": pk})
        ).scalar_one()
        kinds = (
            (
                await conn.execute(
                    text("SELECT kind FROM request_events WHERE request_id = :i ORDER BY id"), {"i": pk}
                )
            )
            .scalars()
            .all()
        )
    assert version == request["version"] + 1
    assert len(kinds) == events_before + 1 and kinds[-1] == "TRIAGED"


async def test_concurrent_retries_with_one_idempotency_key_create_one_request(
    live_server: str, world: World, tokens: Tokens, engine: AsyncEngine
) -> None:
    token = tokens.customer("C-1001")
    attempt = {"input": {**dispute(world), "idempotencyKey": "retry-7"}}
    limits = httpx.Limits(max_connections=_N)
    async with httpx.AsyncClient(base_url=live_server, limits=limits, timeout=30) as client:
        results = await asyncio.gather(*(_post(client, token, _CREATE, attempt) for _ in range(20)))
    payloads = [r["createServiceRequest"] for r in results]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert len({p["serviceRequest"]["id"] for p in payloads}) == 1
    async with engine.connect() as conn:
        created = (await conn.execute(text("SELECT count(*) FROM service_requests"))).scalar_one()
        events = (
            await conn.execute(text("SELECT count(*) FROM request_events WHERE kind = 'CREATED'"))
        ).scalar_one()
    assert created == 1 and events == 1
