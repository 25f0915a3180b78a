"""Authentication for the app: token verification, the caller's principal, OAuth endpoints."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from cachetools import TTLCache
from starlette.routing import request_response
from starlette.types import ASGIApp

from auth.config import make_token_verifier
from auth.issuer import make_jwks_endpoint, make_token_endpoint
from auth.key_vault import KeyVault
from auth.principal import Principal
from auth.resolve import principal_from_claims
from auth.tokens import InvalidToken
from resolvers.context import AppServices
from server.graphql_view import Authenticator, InvalidCredentials
from server.settings import Settings

__all__ = ["Authentication", "build_authentication", "key_vault"]

# A verified token's principal is reused for a few seconds: it spares a database round trip
# per request under load, while a deactivated staff member is refused within this delay.
PRINCIPAL_TTL_SECONDS = 5


def key_vault(settings: Settings) -> KeyVault | None:
    """The vault of OAUTH_KEY_ENCRYPTION_KEY (None when unset); KeyVaultError when malformed."""
    secret = settings.oauth_key_encryption_key
    return KeyVault.from_setting(secret.get_secret_value() if secret is not None else None)


@dataclass(frozen=True)
class Authentication:
    authenticate: Authenticator
    token_endpoint: ASGIApp
    jwks_endpoint: ASGIApp


@contextlib.asynccontextmanager
async def build_authentication(settings: Settings, services: AppServices) -> AsyncIterator[Authentication]:
    """Verifier and endpoints for the app's lifetime (owns the JWKS HTTP client)."""
    async with contextlib.AsyncExitStack() as stack:
        http_client = None
        if settings.oauth_jwks_url:
            http_client = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0))
        verifier = make_token_verifier(services.sessionmaker, settings, http_client=http_client)
        cache: TTLCache[str, Principal] = TTLCache(maxsize=10_000, ttl=PRINCIPAL_TTL_SECONDS)

        async def authenticate(token: str) -> Principal:
            key = hashlib.sha256(token.encode()).hexdigest()
            cached = cache.get(key)
            # Token times are on the real clock (JOSE's), not the app's (server.clock).
            if cached is not None and cached.expires_at > datetime.now(UTC):
                return cached
            try:
                claims = await verifier.verify(token)
                async with services.sessionmaker() as session:
                    principal = await principal_from_claims(session, claims)
                services.outage.recovered()
            except InvalidToken as exc:
                raise InvalidCredentials(str(exc)) from exc
            cache[key] = principal
            return principal

        yield Authentication(
            authenticate=authenticate,
            token_endpoint=request_response(
                make_token_endpoint(services.sessionmaker, settings, vault=key_vault(settings))
            ),
            jwks_endpoint=request_response(make_jwks_endpoint(services.sessionmaker, settings)),
        )
