"""Security headers on every HTTP response; page policies that allow what the pages load."""

from __future__ import annotations

import httpx

from server.http_security import graphiql_policy
from server.settings import Settings
from tests.conftest import Tokens, bearer


async def test_every_response_carries_the_common_headers(client: httpx.AsyncClient, tokens: Tokens) -> None:
    responses = [
        await client.get("/healthz"),
        await client.get("/.well-known/jwks.json"),
        await client.post("/graphql", json={"query": "{ __typename }"}),  # 401
        await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers=bearer(tokens.staff("x@example.com"))
        ),
        await client.get("/nowhere"),
    ]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # not configured


async def test_graphql_answers_are_never_stored(client: httpx.AsyncClient, tokens: Tokens) -> None:
    post = await client.post("/graphql", json={"query": "{ __typename }"})
    get = await client.get(
        "/graphql", params={"query": "{ __typename }"}, headers=bearer(tokens.staff("x@e.com"))
    )
    assert post.headers["cache-control"] == "no-store"
    assert get.headers["cache-control"] == "no-store"
    # Other answers keep their own caching (the JWKS is meant to be cached briefly).
    assert (await client.get("/.well-known/jwks.json")).headers["cache-control"] == "public, max-age=60"


async def test_graphiql_and_console_pages_get_their_policies(client: httpx.AsyncClient) -> None:
    graphiql = await client.get("/graphql", headers={"Accept": "text/html"})
    assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
    assert graphiql.headers["content-security-policy"] == graphiql_policy(graphiql.text)
    console = await client.get("/console")
    policy = console.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "unsafe" not in policy


def test_graphiql_policy_names_exactly_what_the_page_loads() -> None:
    page = (
        '<script src="https://cdn.example/a@1/a.js" integrity="x"></script>'
        '<link rel="stylesheet" href="https://cdn.example/a@1/a.css" />'
        "<script>start()</script>"
    )
    policy = graphiql_policy(page)
    # sha256 of "start()", as a browser computes it for the inline script
    assert "'sha256-" in policy and "https://cdn.example/a@1/a.js" in policy
    assert "style-src 'unsafe-inline' https://cdn.example/a@1/a.css" in policy
    assert "'unsafe-eval'" not in policy and "script-src 'unsafe-inline'" not in policy


async def test_hsts_when_configured(settings: Settings) -> None:
    from server.app import create_app

    app = create_app(settings.model_copy(update={"hsts_max_age": 31536000}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            response = await client.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
