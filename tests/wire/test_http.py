"""GraphQL over HTTP through the real app: authentication, media types, status codes."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.settings import Settings
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


async def test_an_unexpected_failure_is_masked_and_logged(
    settings: Settings,
    engine: AsyncEngine,
    tokens: Tokens,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug inside a resolver reaches the client as a generic error (no message, no trace)
    and the operator's log as the full exception."""
    import resolvers.query
    from server.app import create_app

    # A resolver's failure: the read planner would answer `teams` without the resolvers.
    settings.read_planner = "off"
    app = create_app(settings)

    async def broken(*_: object) -> object:
        raise RuntimeError("secret detail: connection string postgres://x")

    monkeypatch.setattr(resolvers.query, "all_teams", broken)
    await _staff(engine, "admin@example.com")
    with caplog.at_level("ERROR", logger="casegraph.graphql"):
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client,
        ):
            response = await client.post(
                "/graphql",
                json={"query": "{ teams { id } }"},
                headers=bearer(tokens.staff("admin@example.com")),
            )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["Internal server error."]
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert "secret" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if r.exc_info and "secret detail" in str(r.exc_info[1])]
    assert len(logged) == 1
