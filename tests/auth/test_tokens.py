"""Token minting and verification with real keys: every refusal the contract names."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.keys import (
    DEV_KID_PREFIX,
    IssuerKeys,
    builtin_jwks_loader,
    load_keys,
    retire_signing_key,
    rotate_signing_key,
)
from auth.tokens import InvalidToken, JwksSource, TokenVerifier, mint_token
from tests.auth.conftest import AUDIENCE, ISSUER

pytestmark = pytest.mark.clock  # reads the real clock: run again at a hostile instant (.ci/run)


def _mint(keys: IssuerKeys, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": "ada@example.com",
        "roles": ["AGENT"],
        "scopes": ["requests:read"],
        "ttl_seconds": 600,
    }
    args.update(overrides)
    return mint_token(keys, **args)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "ada@example.com",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "scope": "requests:read",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(keys: IssuerKeys, claims: dict[str, Any]) -> str:
    assert keys.signing_key is not None
    header = {"alg": "RS256", "kid": keys.signing_kid}
    return jwt.encode(header, claims, keys.signing_key, algorithms=["RS256"])


async def _refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    return info.value.reason


async def test_a_minted_token_verifies_with_its_claims(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    token = _mint(keys, roles=["CUSTOMER"], customer_ref="CUST-1", scopes=["requests:write", "requests:read"])
    claims = await verifier.verify(token)
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE
    assert claims["sub"] == "ada@example.com"
    assert claims["scope"] == "requests:read requests:write"
    assert claims["roles"] == ["CUSTOMER"]
    assert claims["customer_id"] == "CUST-1"
    assert claims["exp"] - claims["iat"] == 600 and claims["nbf"] == claims["iat"]
    assert claims["jti"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"] == keys.signing_kid and header["alg"] == "RS256"
    assert keys.signing_kid is not None and keys.signing_kid.startswith(DEV_KID_PREFIX)


async def test_expired_token_is_refused(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    token = _mint(keys, now=datetime.now(UTC) - timedelta(hours=2), ttl_seconds=3600)
    assert "expired" in await _refused(verifier, token)


async def test_expiry_has_a_small_leeway_only(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    just_expired = _sign(keys, _claims(exp=int(time.time()) - 5))
    await verifier.verify(just_expired)
    long_expired = _sign(keys, _claims(exp=int(time.time()) - 60))
    assert "expired" in await _refused(verifier, long_expired)


async def test_not_yet_valid_token_is_refused(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    token = _sign(keys, _claims(nbf=int(time.time()) + 300))
    assert "nbf" in await _refused(verifier, token)
    issued_in_future = _mint(keys, now=datetime.now(UTC) + timedelta(minutes=10))
    await _refused(verifier, issued_in_future)


@pytest.mark.parametrize("claim", ["exp", "nbf", "iss", "aud", "sub"])
async def test_missing_essential_claim_is_refused(
    keys: IssuerKeys, verifier: TokenVerifier, claim: str
) -> None:
    token = _sign(keys, _claims(**{claim: None}))
    assert claim in await _refused(verifier, token)


async def test_wrong_audience_is_refused(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    assert "aud" in await _refused(verifier, _mint(keys, audience="another-api"))


async def test_wrong_issuer_is_refused(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    assert "iss" in await _refused(verifier, _mint(keys, issuer="https://evil.example"))


async def test_token_signed_by_another_key_is_refused(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    stranger = RSAKey.generate_key(2048)
    unknown_kid = jwt.encode({"alg": "RS256", "kid": "stranger"}, _claims(), stranger, algorithms=["RS256"])
    assert await _refused(verifier, unknown_kid) == "unknown signing key"
    # Same kid as ours, different key: the signature does not hold.
    impostor = jwt.encode(
        {"alg": "RS256", "kid": keys.signing_kid}, _claims(), stranger, algorithms=["RS256"]
    )
    assert await _refused(verifier, impostor) == "bad signature"


async def test_alg_none_is_refused(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    token = f"{_segment({'alg': 'none', 'kid': keys.signing_kid, 'typ': 'JWT'})}.{_segment(_claims())}."
    assert "algorithm not accepted" in await _refused(verifier, token)
    no_alg = f"{_segment({'kid': keys.signing_kid})}.{_segment(_claims())}."
    assert "algorithm not accepted" in await _refused(verifier, no_alg)


async def test_hs256_with_the_public_key_as_secret_is_refused(
    keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    assert keys.signing_key is not None
    public_pem = keys.signing_key.as_pem(private=False)
    signing_input = f"{_segment({'alg': 'HS256', 'kid': keys.signing_kid})}.{_segment(_claims())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{_b64(signature)}"
    assert "algorithm not accepted" in await _refused(verifier, token)


async def test_tampered_payload_is_refused(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    header, _, signature = _mint(keys).split(".")
    forged = _segment(_claims(roles=["ADMIN"], scope="audit:read"))
    assert await _refused(verifier, f"{header}.{forged}.{signature}") == "bad signature"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c.d", "!!!.e30.", "W10.e30.sig"])
async def test_malformed_tokens_are_refused(verifier: TokenVerifier, garbage: str) -> None:
    await _refused(verifier, garbage)


async def test_token_without_kid_is_refused(keys: IssuerKeys, verifier: TokenVerifier) -> None:
    assert keys.signing_key is not None
    token = jwt.encode({"alg": "RS256"}, _claims(), keys.signing_key, algorithms=["RS256"])
    assert "kid" in await _refused(verifier, token)


async def test_rotation_keeps_old_tokens_valid(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    old_token = _mint(keys)
    new_kid = await rotate_signing_key(session)
    await session.commit()
    assert not new_kid.startswith(DEV_KID_PREFIX)
    rotated = await load_keys(session)
    assert rotated.signing_kid == new_kid
    assert {k["kid"] for k in rotated.jwks["keys"]} == {keys.signing_kid, new_kid}
    assert all(k["alg"] == "RS256" and k["use"] == "sig" and "d" not in k for k in rotated.jwks["keys"])
    new_token = _mint(rotated)
    assert (await verifier.verify(old_token))["sub"] == "ada@example.com"
    assert (await verifier.verify(new_token))["sub"] == "ada@example.com"

    assert keys.signing_kid is not None
    await retire_signing_key(session, keys.signing_kid)
    await session.commit()
    retired = await load_keys(session)
    assert [k["kid"] for k in retired.jwks["keys"]] == [new_kid]
    fresh = TokenVerifier(
        audience=AUDIENCE, sources=[JwksSource(ISSUER, lambda: _jwks_of(retired), refresh_interval=0)]
    )
    await fresh.verify(new_token)
    assert await _refused(fresh, old_token) == "unknown signing key"


async def _jwks_of(keys: IssuerKeys) -> dict[str, Any]:
    return keys.jwks


async def test_unknown_kid_reload_is_rate_limited(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], keys: IssuerKeys
) -> None:
    now = [1000.0]
    loads = [0]
    load_db = builtin_jwks_loader(sessionmaker)

    async def counting_loader() -> dict[str, Any]:
        loads[0] += 1
        return await load_db()

    source = JwksSource(ISSUER, counting_loader, refresh_interval=30.0, clock=lambda: now[0])
    verifier = TokenVerifier(audience=AUDIENCE, sources=[source])
    await verifier.verify(_mint(keys))
    assert loads == [1]

    await rotate_signing_key(session)
    await session.commit()
    new_token = _mint(await load_keys(session))
    now[0] += 10
    assert await _refused(verifier, new_token) == "unknown signing key"
    assert await _refused(verifier, new_token) == "unknown signing key"
    assert loads == [1]  # the keys were loaded less than 30 s ago: no reload
    now[0] += 25
    await verifier.verify(new_token)
    assert loads == [2]
    await _refused(verifier, _mint(keys, issuer="elsewhere"))
    stranger = RSAKey.generate_key(2048)
    unknown = jwt.encode({"alg": "RS256", "kid": "nope"}, _claims(), stranger, algorithms=["RS256"])
    now[0] += 1
    await _refused(verifier, unknown)
    assert loads == [2]
