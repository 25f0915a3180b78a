"""Signed JWT access tokens: minting (built-in issuer) and verification (built-in and external).

The only module that touches JOSE (joserfc; `authlib.jose` is deprecated).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import Key, KeySet
from joserfc.jwt import JWTClaimsRegistry

from auth.keys import SIGNING_ALGORITHM, IssuerKeys, NoSigningKeyError

__all__ = [
    "ACCEPTED_ALGORITHMS",
    "InvalidToken",
    "JwksSource",
    "TokenVerifier",
    "http_jwks_fetcher",
    "mint_token",
]

# Asymmetric only: `none` and HS* (a public key used as an HMAC secret) are refused.
ACCEPTED_ALGORITHMS = frozenset({"RS256", "ES256"})
_MAX_TOKEN_BYTES = 16_384


class InvalidToken(Exception):
    """The token is refused; `reason` is short and safe to log (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def mint_token(
    keys: IssuerKeys,
    *,
    issuer: str,
    audience: str,
    subject: str,
    roles: Iterable[str],
    scopes: Iterable[str],
    ttl_seconds: int,
    customer_ref: str | None = None,
    client_id: str | None = None,
    now: datetime | None = None,
) -> str:
    """Sign an access token with the built-in issuer's current key (header carries its kid)."""
    if keys.signing_key is None:
        raise NoSigningKeyError("the built-in issuer has no active signing key")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued = int((now or datetime.now(UTC)).timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(sorted(set(scopes))),
    }
    # Staff tokens may omit roles: the server takes the role from the staff row.
    if role_names := sorted({str(role) for role in roles}):
        claims["roles"] = role_names
    if customer_ref is not None:
        claims["customer_id"] = customer_ref
    if client_id is not None:
        claims["client_id"] = client_id
    header = {"alg": SIGNING_ALGORITHM, "kid": keys.signing_kid, "typ": "JWT"}
    return jwt.encode(header, claims, keys.signing_key, algorithms=[SIGNING_ALGORITHM])


class JwksSource:
    """The keys of one issuer, cached; reloaded on an unknown kid at most once per interval,
    and after `max_age` seconds in any case, so that a retired key stops verifying.

    `require_nbf`: the built-in issuer always sends `nbf`; external issuers often
    send only `iat`, and then one of the two suffices.
    """

    def __init__(
        self,
        issuer: str,
        fetch: Callable[[], Awaitable[Mapping[str, Any]]],
        *,
        require_nbf: bool = True,
        refresh_interval: float = 30.0,
        max_age: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._max_age = max_age
        self.require_nbf = require_nbf
        self._fetch = fetch
        self._interval = refresh_interval
        self._clock = clock
        self._keys: dict[str, Key] = {}
        self._last_attempt: float | None = None
        self._lock = asyncio.Lock()

    @property
    def kids(self) -> frozenset[str]:
        """Key ids currently cached."""
        return frozenset(self._keys)

    def cached(self, kid: str) -> Key | None:
        """The cached key with this kid, without any reload; None once the cache is `max_age` old."""
        if self._last_attempt is None or self._clock() - self._last_attempt >= self._max_age:
            return None
        return self._keys.get(kid)

    async def find(self, kid: str) -> Key | None:
        """The key with this kid; reloads (rate-limited) when it is not known yet or the cache is old."""
        if self.cached(kid) is None:
            await self.refresh()
        return self._keys.get(kid)

    async def refresh(self, *, force: bool = False) -> None:
        """Reload the key set unless it was (tried to be) loaded within the interval."""
        async with self._lock:
            now = self._clock()
            # The lock folds a burst of unknown kids into one fetch; an outage of
            # the issuer does not become one fetch per request either.
            if not force and self._last_attempt is not None and now - self._last_attempt < self._interval:
                return
            self._last_attempt = now
            try:
                document = await self._fetch()
                key_set = KeySet.import_key_set(dict(document))  # type: ignore[arg-type]
            except (httpx.HTTPError, JoseError, ValueError, KeyError, TypeError):
                return  # keep the keys we had; a token with an unknown kid is refused
            self._keys = {
                key.kid: key for key in key_set if key.kid is not None and key.get("use") in (None, "sig")
            }


def http_jwks_fetcher(url: str, client: httpx.AsyncClient) -> Callable[[], Awaitable[Mapping[str, Any]]]:
    """Fetch a JWKS document over HTTP(S)."""

    async def fetch() -> Mapping[str, Any]:
        response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("JWKS is not a JSON object")
        return document

    return fetch


def _unverified_header(token: str) -> dict[str, Any]:
    if len(token) > _MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("malformed token")
    try:
        raw = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
        header = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidToken("malformed token header") from error
    if not isinstance(header, dict):
        raise InvalidToken("malformed token header")
    return header


class TokenVerifier:
    """Verifies bearer tokens of the built-in issuer and/or one external issuer.

    Signature (RS256/ES256 only), `iss`, `aud`, `exp`, `nbf`/`iat` are checked with a
    small leeway. A key is bound to the issuer whose JWKS it came from: a token is
    accepted only if its `iss` is that issuer.
    """

    def __init__(
        self,
        *,
        audience: str,
        sources: Iterable[JwksSource],
        leeway_seconds: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.audience = audience
        self.sources = tuple(sources)
        if not self.sources:
            raise ValueError("TokenVerifier needs at least one key source")
        self._leeway = leeway_seconds
        self._clock = clock

    @classmethod
    def create(
        cls,
        *,
        audience: str,
        builtin_issuer: str | None = None,
        builtin_jwks: Callable[[], Awaitable[Mapping[str, Any]]] | None = None,
        external_issuer: str | None = None,
        external_jwks_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        refresh_interval: float = 30.0,
        leeway_seconds: int = 30,
    ) -> TokenVerifier:
        """A verifier for the built-in issuer (keys from `builtin_jwks`) and/or an external one.

        `http_client` fetches the external JWKS; its lifetime belongs to the caller.
        """
        sources: list[JwksSource] = []
        if builtin_issuer is not None and builtin_jwks is not None:
            sources.append(JwksSource(builtin_issuer, builtin_jwks, refresh_interval=refresh_interval))
        if external_jwks_url is not None:
            if external_issuer is None or http_client is None:
                raise ValueError("an external JWKS URL needs its issuer and an http client")
            fetch = http_jwks_fetcher(external_jwks_url, http_client)
            sources.append(
                JwksSource(external_issuer, fetch, require_nbf=False, refresh_interval=refresh_interval)
            )
        return cls(audience=audience, sources=sources, leeway_seconds=leeway_seconds)

    async def verify(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`; raises InvalidToken for any failure."""
        header = _unverified_header(token)
        alg = header.get("alg")
        if alg not in ACCEPTED_ALGORITHMS:
            raise InvalidToken(f"algorithm not accepted: {alg!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token header has no kid")
        source, key = await self._find_key(kid)
        if key.get("alg") not in (None, alg):
            raise InvalidToken("key not usable with this algorithm")
        try:
            claims = jwt.decode(token, key, algorithms=[alg]).claims
        except (JoseError, ValueError) as error:
            raise InvalidToken("bad signature") from error
        self._check_claims(claims, source)
        return claims

    async def _find_key(self, kid: str) -> tuple[JwksSource, Key]:
        for source in self.sources:
            if (key := source.cached(kid)) is not None:
                return source, key
        for source in self.sources:
            if (key := await source.find(kid)) is not None:
                return source, key
        raise InvalidToken("unknown signing key")

    def _check_claims(self, claims: dict[str, Any], source: JwksSource) -> None:
        essential: dict[str, Any] = {"essential": True}
        options: dict[str, Any] = {
            # The key's issuer, not any accepted one: an issuer cannot speak for another.
            "iss": {"essential": True, "value": source.issuer},
            "aud": {"essential": True, "value": self.audience},
            "exp": essential,
            "sub": essential,
        }
        if source.require_nbf:
            options["nbf"] = essential
        registry = JWTClaimsRegistry(now=int(self._clock()), leeway=self._leeway, **options)
        try:
            registry.validate(claims)
        except ClaimError as error:
            raise InvalidToken(f"{error.error} {error.claim}: {error.description}") from error
        if "nbf" not in claims and "iat" not in claims:
            raise InvalidToken("missing_claim: nbf or iat")
