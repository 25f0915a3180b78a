"""GraphQL over HTTP through the real app: authentication, media types, status codes."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Tokens, bearer

VIEWER = "{ viewer { subject roles scopes } }"


async def _staff(engine: AsyncEngine, email: str, role: str = "ADMIN", active: bool = True) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO staff (email, name, role, approval_level, active) "
                "VALUES (:e, :n, :r, 'CONTROLLER', :a)"
            ),
            {"e": email, "n": email.split("@")[0].title(), "r": role, "a": active},
        )


async def test_viewer_with_a_staff_token(
    client: httpx.AsyncClient, engine: AsyncEngine, tokens: Tokens
) -> None:
    await _staff(engine, "admin@example.com")
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers=bearer(tokens.staff("admin@example.com"))
    )
    assert response.status_code == 200
    viewer = response.json()["data"]["viewer"]
    assert viewer["subject"] == "admin@example.com"
    assert viewer["roles"] == ["ADMIN"]
    assert "audit:read" in viewer["scopes"]


async def test_missing_token_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": VIEWER})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "invalid_token" not in response.headers["www-authenticate"]


async def test_bad_token_is_401_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": VIEWER}, headers=bearer("not.a.jwt"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "data" not in response.json()


async def test_unknown_and_inactive_staff_are_401(
    client: httpx.AsyncClient, engine: AsyncEngine, tokens: Tokens
) -> None:
    await _staff(engine, "gone@example.com", active=False)
    for subject in ("nobody@example.com", "gone@example.com"):
        response = await client.post(
            "/graphql", json={"query": VIEWER}, headers=bearer(tokens.staff(subject))
        )
        assert response.status_code == 401, subject


async def test_graphql_response_json_and_400_for_validation_errors(
    client: httpx.AsyncClient, engine: AsyncEngine, tokens: Tokens
) -> None:
    await _staff(engine, "admin@example.com")
    headers = {**bearer(tokens.staff("admin@example.com")), "Accept": "application/graphql-response+json"}
    ok = await client.post("/graphql", json={"query": VIEWER}, headers=headers)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/graphql-response+json")
    invalid = await client.post("/graphql", json={"query": "{ viewer { nope } }"}, headers=headers)
    assert invalid.status_code == 400
    assert "data" not in invalid.json()
    unparsable = await client.post("/graphql", json={"query": "{ viewer { "}, headers=headers)
    assert unparsable.status_code == 400
    # Legacy clients asking for application/json keep 200 with errors.
    legacy = await client.post(
        "/graphql",
        json={"query": "{ viewer { nope } }"},
        headers={**bearer(tokens.staff("admin@example.com")), "Accept": "application/json"},
    )
    assert legacy.status_code == 200
    assert legacy.json()["errors"]


async def test_get_queries_work(client: httpx.AsyncClient, engine: AsyncEngine, tokens: Tokens) -> None:
    await _staff(engine, "admin@example.com")
    response = await client.get(
        "/graphql", params={"query": VIEWER}, headers=bearer(tokens.staff("admin@example.com"))
    )
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["subject"] == "admin@example.com"


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migrations"] == "current"


async def test_jwks_publishes_the_signing_key(client: httpx.AsyncClient, tokens: Tokens) -> None:
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert jwks["keys"]
    assert all("kid" in k and k["kty"] == "RSA" and "d" not in k for k in jwks["keys"])
