"""What auth/ needs from the settings, and the verifier built from them."""

from __future__ import annotations

from typing import Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.keys import builtin_jwks_loader
from auth.tokens import TokenVerifier

__all__ = ["AuthSettings", "is_production", "make_token_verifier"]


class AuthSettings(Protocol):
    """The subset of server.settings.Settings that auth/ reads (auth cannot import server/)."""

    @property
    def oauth_issuer(self) -> str: ...

    @property
    def oauth_audience(self) -> str: ...

    @property
    def oauth_jwks_url(self) -> str | None: ...

    @property
    def client_token_ttl(self) -> int: ...

    @property
    def env(self) -> str: ...


def is_production(settings: AuthSettings) -> bool:
    return settings.env == "production"


def make_token_verifier(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: AuthSettings,
    *,
    http_client: httpx.AsyncClient | None = None,
) -> TokenVerifier:
    """Built-in keys (from the database) for OAUTH_ISSUER, plus OAUTH_JWKS_URL's keys when set.

    In production an automatically generated `dev-` key is not trusted.
    `http_client` is required with OAUTH_JWKS_URL; the caller owns (and closes) it.
    """
    return TokenVerifier.create(
        audience=settings.oauth_audience,
        builtin_issuer=settings.oauth_issuer,
        builtin_jwks=builtin_jwks_loader(sessionmaker, include_dev_keys=not is_production(settings)),
        external_issuer=settings.oauth_issuer if settings.oauth_jwks_url else None,
        external_jwks_url=settings.oauth_jwks_url,
        http_client=http_client,
    )
