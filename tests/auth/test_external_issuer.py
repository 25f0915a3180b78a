"""Tokens of an external issuer, its JWKS served over real HTTP by a local server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth.config import make_token_verifier
from auth.keys import IssuerKeys
from auth.tokens import InvalidToken, TokenVerifier, mint_token
from tests.auth.conftest import AUDIENCE, ISSUER, AuthTestSettings

IDP = "https://idp.example.test/"


@dataclass
class FakeIdp:
    """The JWKS an external identity provider publishes; tests swap its keys."""

    keys: list[ECKey | RSAKey] = field(default_factory=list)
    fetches: int = 0
    url: str = ""

    def sign(self, key: ECKey | RSAKey, alg: str, **claims: Any) -> str:
        now = int(time.time())
        # Like many providers: iat but no nbf.
        payload = {"iss": IDP, "aud": AUDIENCE, "sub": "ada@example.com", "iat": now, "exp": now + 300}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode({"alg": alg, "kid": key.kid}, payload, key, algorithms=[alg])


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    state = FakeIdp(keys=[ECKey.generate_key("P-256", auto_kid=True)])

    async def jwks(request: Request) -> JSONResponse:
        state.fetches += 1
        return JSONResponse({"keys": [k.as_dict(private=False) for k in state.keys]})

    app = Starlette(routes=[Route("/jwks", jwks)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", ws="none", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "local JWKS server did not start"
        time.sleep(0.01)
    state.url = f"http://127.0.0.1:{port}/jwks"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def external(idp: FakeIdp, http: httpx.AsyncClient) -> TokenVerifier:
    # No rate limit here: test_tokens.py pins it; these tests follow the provider's rotations.
    return TokenVerifier.create(
        audience=AUDIENCE,
        external_issuer=IDP,
        external_jwks_url=idp.url,
        http_client=http,
        refresh_interval=0.0,
    )


async def test_external_token_verifies_and_a_new_kid_triggers_a_refetch(
    idp: FakeIdp, external: TokenVerifier
) -> None:
    first = idp.keys[0]
    claims = await external.verify(idp.sign(first, "ES256", scope="requests:read"))
    assert claims["iss"] == IDP and claims["scope"] == "requests:read"
    assert idp.fetches == 1
    await external.verify(idp.sign(first, "ES256"))
    assert idp.fetches == 1  # cached

    # The provider rotates: the new kid is unknown to the cache, the JWKS is fetched again.
    rotated = RSAKey.generate_key(2048, auto_kid=True)
    idp.keys = [rotated, first]
    assert (await external.verify(idp.sign(rotated, "RS256")))["sub"] == "ada@example.com"
    assert idp.fetches == 2


async def test_external_tokens_are_checked_like_ours(idp: FakeIdp, external: TokenVerifier) -> None:
    key = idp.keys[0]
    refusals = {
        "expired": idp.sign(key, "ES256", exp=int(time.time()) - 120),
        "wrong audience": idp.sign(key, "ES256", aud="someone-else"),
        "claims our issuer": idp.sign(key, "ES256", iss=ISSUER),
        "no iat nor nbf": idp.sign(key, "ES256", iat=None),
    }
    for case, token in refusals.items():
        with pytest.raises(InvalidToken):
            await external.verify(token)
            pytest.fail(case)


async def test_unknown_kid_after_refetch_is_refused(idp: FakeIdp, external: TokenVerifier) -> None:
    stranger = ECKey.generate_key("P-256", auto_kid=True)
    with pytest.raises(InvalidToken, match="unknown signing key"):
        await external.verify(idp.sign(stranger, "ES256"))
    assert idp.fetches == 1


async def test_unreachable_jwks_refuses_tokens(http: httpx.AsyncClient) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    verifier = TokenVerifier.create(
        audience=AUDIENCE,
        external_issuer=IDP,
        external_jwks_url=f"http://127.0.0.1:{port}/jwks",
        http_client=http,
    )
    key = ECKey.generate_key("P-256", auto_kid=True)
    with pytest.raises(InvalidToken, match="unknown signing key"):
        await verifier.verify(FakeIdp().sign(key, "ES256"))


async def test_built_in_and_external_issuer_side_by_side(
    idp: FakeIdp,
    http: httpx.AsyncClient,
    keys: IssuerKeys,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = AuthTestSettings(oauth_issuer=IDP, oauth_jwks_url=idp.url)
    verifier = make_token_verifier(sessionmaker, settings, http_client=http)
    ours = mint_token(
        keys, issuer=IDP, audience=AUDIENCE, subject="p-1", roles=["PARTNER"], scopes=[], ttl_seconds=60
    )
    assert (await verifier.verify(ours))["sub"] == "p-1"
    assert (await verifier.verify(idp.sign(idp.keys[0], "ES256")))["sub"] == "ada@example.com"
    # Our keys only speak for our issuer name.
    foreign = mint_token(
        keys, issuer="https://other.test", audience=AUDIENCE, subject="x", roles=[], scopes=[], ttl_seconds=60
    )
    with pytest.raises(InvalidToken):
        await verifier.verify(foreign)
