"""`POST /oauth/token` and the JWKS over real HTTP (httpx ASGITransport) against a tiny Starlette app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Route

from auth.issuer import make_jwks_endpoint, make_token_endpoint
from auth.keys import ensure_signing_key, rotate_signing_key
from auth.resolve import principal_from_claims
from auth.secrets import issue_partner_secret
from auth.tokens import TokenVerifier
from tests.auth.conftest import AuthTestSettings, add_customer, add_partner

Client = Callable[..., Any]


@asynccontextmanager
async def _client(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: AuthTestSettings,
    base_url: str = "http://testserver",
) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        routes=[
            Route("/oauth/token", make_token_endpoint(sessionmaker, settings), methods=["POST"]),
            Route("/.well-known/jwks.json", make_jwks_endpoint(sessionmaker, settings), methods=["GET"]),
        ]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
        yield client


@pytest.fixture
async def http(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(sessionmaker, AuthTestSettings()) as client:
        yield client


@pytest.fixture
async def partner_secret(session: AsyncSession) -> str:
    """A partner `reseller` (requests:read/write, customers:read) linked to one customer, with a secret."""
    await ensure_signing_key(session, allow_generate=True)
    customer = await add_customer(session, external_ref="C-1")
    await add_partner(session, client_id="reseller", customer_ids=[customer])
    secret = await issue_partner_secret(session, "reseller")
    await session.commit()
    return secret


def _grant(scope: str | None = None, **extra: str) -> dict[str, str]:
    form = {"grant_type": "client_credentials", **extra}
    if scope is not None:
        form["scope"] = scope
    return form


async def test_client_secret_basic_gets_a_verifiable_partner_token(
    http: httpx.AsyncClient, partner_secret: str, verifier: TokenVerifier, session: AsyncSession
) -> None:
    response = await http.post("/oauth/token", data=_grant(), auth=("reseller", partner_secret))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "customers:read requests:read requests:write"
    assert "refresh_token" not in body
    claims = await verifier.verify(body["access_token"])
    assert (
        claims["roles"] == ["PARTNER"] and claims["client_id"] == "reseller" and claims["sub"] == "reseller"
    )
    assert claims["exp"] - claims["iat"] == 900
    me = await principal_from_claims(session, claims)
    assert me.is_partner and me.customer_ids is not None and len(me.customer_ids) == 1


async def test_client_secret_post_is_accepted(http: httpx.AsyncClient, partner_secret: str) -> None:
    response = await http.post(
        "/oauth/token", data=_grant(client_id="reseller", client_secret=partner_secret, scope="requests:read")
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "requests:read"


@pytest.mark.parametrize("method", ["basic", "post"])
async def test_wrong_or_unknown_credentials_are_invalid_client(
    http: httpx.AsyncClient, partner_secret: str, method: str
) -> None:
    for client_id, secret in (("reseller", "wrong"), ("ghost", partner_secret), ("reseller", "")):
        if method == "basic":
            response = await http.post("/oauth/token", data=_grant(), auth=(client_id, secret))
        else:
            response = await http.post("/oauth/token", data=_grant(client_id=client_id, client_secret=secret))
        assert response.status_code == 401, (client_id, secret, response.text)
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic ")


async def test_no_credentials_at_all_is_invalid_client(http: httpx.AsyncClient, partner_secret: str) -> None:
    response = await http.post("/oauth/token", data=_grant())
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_inactive_partner_cannot_get_a_token(session: AsyncSession, http: httpx.AsyncClient) -> None:
    await ensure_signing_key(session, allow_generate=True)
    await add_partner(session, client_id="retired", active=False)
    secret = await issue_partner_secret(session, "retired")
    await session.commit()
    response = await http.post("/oauth/token", data=_grant(), auth=("retired", secret))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_rotating_the_secret_makes_the_old_one_fail(
    http: httpx.AsyncClient, partner_secret: str, session: AsyncSession
) -> None:
    new_secret = await issue_partner_secret(session, "reseller")
    await session.commit()
    assert new_secret != partner_secret
    old = await http.post("/oauth/token", data=_grant(), auth=("reseller", partner_secret))
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    new = await http.post("/oauth/token", data=_grant(), auth=("reseller", new_secret))
    assert new.status_code == 200


async def test_scope_is_the_intersection_with_the_partners_scopes(
    http: httpx.AsyncClient, partner_secret: str
) -> None:
    response = await http.post(
        "/oauth/token",
        data=_grant("requests:read metrics:read audit:read"),
        auth=("reseller", partner_secret),
    )
    assert response.status_code == 200 and response.json()["scope"] == "requests:read"
    for scope in ("metrics:read", "requests:read nonsense"):
        refused = await http.post("/oauth/token", data=_grant(scope), auth=("reseller", partner_secret))
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope", scope


async def test_partner_scopes_beyond_the_partner_role_are_never_granted(
    session: AsyncSession, http: httpx.AsyncClient
) -> None:
    await ensure_signing_key(session, allow_generate=True)
    await add_partner(session, client_id="greedy", scopes=["requests:read", "audit:read", "approvals:decide"])
    secret = await issue_partner_secret(session, "greedy")
    await session.commit()
    response = await http.post("/oauth/token", data=_grant(), auth=("greedy", secret))
    assert response.json()["scope"] == "requests:read"


async def test_unsupported_grant_type(http: httpx.AsyncClient, partner_secret: str) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "a", "password": "b"},
        auth=("reseller", "x"),
    )
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    missing = await http.post("/oauth/token", data={}, auth=("reseller", partner_secret))
    assert missing.status_code == 400 and missing.json()["error"] == "unsupported_grant_type"


async def test_expires_in_follows_the_configured_ttl(
    sessionmaker: async_sessionmaker[AsyncSession], partner_secret: str, verifier: TokenVerifier
) -> None:
    async with _client(sessionmaker, AuthTestSettings(client_token_ttl=123)) as http:
        response = await http.post("/oauth/token", data=_grant(), auth=("reseller", partner_secret))
    body = response.json()
    assert body["expires_in"] == 123
    claims = await verifier.verify(body["access_token"])
    assert claims["exp"] - claims["iat"] == 123


async def test_jwks_lists_every_active_key(
    http: httpx.AsyncClient, partner_secret: str, session: AsyncSession, verifier: TokenVerifier
) -> None:
    before = (await http.get("/.well-known/jwks.json")).json()
    old_token = (await http.post("/oauth/token", data=_grant(), auth=("reseller", partner_secret))).json()
    new_kid = await rotate_signing_key(session)
    await session.commit()
    after = await http.get("/.well-known/jwks.json")
    assert after.status_code == 200
    keys = after.json()["keys"]
    assert {k["kid"] for k in keys} == {before["keys"][0]["kid"], new_kid}
    assert all(k["alg"] == "RS256" and k["use"] == "sig" and k["kty"] == "RSA" and "d" not in k for k in keys)
    new_token = (await http.post("/oauth/token", data=_grant(), auth=("reseller", partner_secret))).json()
    for token in (old_token, new_token):
        await verifier.verify(token["access_token"])


async def test_production_refuses_plain_http_and_dev_keys(
    sessionmaker: async_sessionmaker[AsyncSession], partner_secret: str, session: AsyncSession
) -> None:
    production = AuthTestSettings(env="production")
    async with _client(sessionmaker, production, base_url="http://api.example.com") as http:
        response = await http.post("/oauth/token", data=_grant(), auth=("reseller", partner_secret))
        assert response.status_code == 400 and response.json()["error"] == "insecure_transport"
    async with _client(sessionmaker, production, base_url="http://127.0.0.1:8000") as http:
        # Only the automatically generated dev key exists: production does not sign with it.
        response = await http.post("/oauth/token", data=_grant(), auth=("reseller", partner_secret))
        assert response.status_code == 503
        assert (await http.get("/.well-known/jwks.json")).json() == {"keys": []}
        kid = await rotate_signing_key(session)
        await session.commit()
        response = await http.post("/oauth/token", data=_grant(), auth=("reseller", partner_secret))
        assert response.status_code == 200
        assert [k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]] == [kid]
    async with _client(sessionmaker, production, base_url="https://api.example.com") as http:
        response = await http.post("/oauth/token", data=_grant(), auth=("reseller", partner_secret))
        assert response.status_code == 200
