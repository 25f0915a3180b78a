"""The built-in authorization server: `POST /oauth/token` (client_credentials) and the JWKS.

authlib provides the OAuth 2 protocol (client authentication, grant dispatch,
RFC 6749 errors) but is synchronous and has no Starlette integration. So the
endpoint does the I/O first (form, partner rows, signing key), then runs
authlib's token flow on that data in a worker thread (scrypt is CPU-bound).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from auth.config import AuthSettings, is_production
from auth.key_vault import KeyVault
from auth.keys import IssuerKeys, load_jwks, load_keys
from auth.permissions import ALL_SCOPES, allowed_scopes
from auth.secrets import verify_secret
from auth.tokens import mint_token
from db.models import Partner
from domain.enums import Role

__all__ = ["make_jwks_endpoint", "make_token_endpoint"]

Endpoint = Callable[[Request], Awaitable[Response]]
_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_PARTNER_SCOPES = allowed_scopes({Role.PARTNER})


@dataclass(frozen=True, slots=True)
class _PartnerClient(ClientMixin):  # type: ignore[misc]
    """A partner row as authlib's client model."""

    client_id: str
    secret_hash: str | None
    scopes: frozenset[str]

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in _AUTH_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == ClientCredentialsGrant.GRANT_TYPE

    def grant_scopes(self, requested: str | None) -> frozenset[str]:
        """Requested ∩ the partner's scopes (all of them when none requested); invalid_scope if empty."""
        wanted = scope_to_list(requested) or []
        if not set(wanted) <= ALL_SCOPES:
            raise InvalidScopeError("Unknown scope requested.")
        granted = self.scopes & set(wanted) if wanted else self.scopes
        if not granted:
            raise InvalidScopeError("None of the requested scopes is granted to this client.")
        return granted


class _Grant(ClientCredentialsGrant):  # type: ignore[misc]
    # authlib accepts only client_secret_basic unless told otherwise.
    TOKEN_ENDPOINT_AUTH_METHODS = list(_AUTH_METHODS)

    def validate_requested_scope(self) -> None:
        self.request.scope = " ".join(sorted(self.request.client.grant_scopes(self.request.payload.scope)))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # The stock response uses the *requested* scope; ours is the granted one.
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class _OAuth2Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, headers: Any, form: dict[str, str]) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class _TokenServer(AuthorizationServer):  # type: ignore[misc]
    """One per request: holds the partner rows and the signing key already loaded."""

    def __init__(
        self, *, clients: dict[str, _PartnerClient], keys: IssuerKeys, issuer: str, audience: str, ttl: int
    ) -> None:
        super().__init__(scopes_supported=sorted(ALL_SCOPES))
        self._clients = clients
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl
        self.register_grant(_Grant)
        self.register_token_generator(_Grant.GRANT_TYPE, self._generate)

    def query_client(self, client_id: str) -> _PartnerClient | None:
        return self._clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Self-contained JWTs: nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal system here."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        return JSONResponse(body, status_code=status, headers=dict(headers))

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> Response:
        if isinstance(error, InvalidClientError):
            # Same answer whichever way the client authenticated (with WWW-Authenticate).
            error.status_code = 401
        return super().handle_error_response(request, error)

    def _generate(self, *, client: _PartnerClient, scope: str, **_: Any) -> dict[str, Any]:
        token = mint_token(
            self._keys,
            issuer=self._issuer,
            audience=self._audience,
            subject=client.client_id,
            roles=[Role.PARTNER],
            scopes=scope.split(),
            ttl_seconds=self._ttl,
            client_id=client.client_id,
        )
        return {"access_token": token, "token_type": "Bearer", "expires_in": self._ttl, "scope": scope}


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _authlib_uri(request: Request, *, allow_http: bool) -> str | None:
    """The URI to hand authlib, or None when the transport is refused.

    https, and http on loopback, are always fine; plain http elsewhere only
    outside production. The decision is made here, so authlib is shown an
    https URI rather than having it consult a process-wide environment variable.
    """
    url = request.url
    if url.scheme == "https" or _is_loopback(url.hostname):
        return str(url)
    if allow_http:
        return str(url.replace(scheme="https"))
    return None


async def _load_clients(session: AsyncSession, client_ids: Iterable[str | None]) -> dict[str, _PartnerClient]:
    ids = sorted({c for c in client_ids if c})
    if not ids:
        return {}
    rows = await session.execute(
        select(Partner.client_id, Partner.secret_hash, Partner.scopes).where(
            Partner.client_id.in_(ids), Partner.active.is_(True)
        )
    )
    return {
        row.client_id: _PartnerClient(row.client_id, row.secret_hash, frozenset(row.scopes) & _PARTNER_SCOPES)
        for row in rows
    }


def make_token_endpoint(
    sessionmaker: async_sessionmaker[AsyncSession], settings: AuthSettings, *, vault: KeyVault | None = None
) -> Endpoint:
    """`POST /oauth/token`: client_credentials for partner clients (basic or post client auth).

    Tokens: our RS256 JWT, roles [PARTNER], `client_id`, lifetime `settings.client_token_ttl`;
    signed by the newest key, opened with `vault` when it is sealed.
    """
    production = is_production(settings)

    async def token_endpoint(request: Request) -> Response:
        if request.method != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        uri = _authlib_uri(request, allow_http=not production)
        if uri is None:
            status, body, headers = InsecureTransportError()()
            return JSONResponse(body, status_code=status, headers=dict(headers))
        form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
        basic_id, _ = extract_basic_authorization(request.headers)
        async with sessionmaker() as session:
            clients = await _load_clients(session, (basic_id, form.get("client_id")))
            keys = await load_keys(session, include_dev_keys=not production, vault=vault)
        if keys.signing_key is None:
            return JSONResponse(
                {"error": "temporarily_unavailable", "error_description": "The issuer has no signing key."},
                status_code=503,
            )
        server = _TokenServer(
            clients=clients,
            keys=keys,
            issuer=settings.oauth_issuer,
            audience=settings.oauth_audience,
            ttl=settings.client_token_ttl,
        )
        oauth_request = _OAuth2Request(request.method, uri, request.headers, form)
        response: Response = await asyncio.to_thread(server.create_token_response, oauth_request)
        return response

    return token_endpoint


def make_jwks_endpoint(sessionmaker: async_sessionmaker[AsyncSession], settings: AuthSettings) -> Endpoint:
    """`GET /.well-known/jwks.json`: the public keys of the built-in issuer."""
    include_dev_keys = not is_production(settings)

    async def jwks_endpoint(request: Request) -> Response:
        async with sessionmaker() as session:
            jwks = await load_jwks(session, include_dev_keys=include_dev_keys)
        # Short cache: verifiers refetch on an unknown kid anyway.
        return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=60"})

    return jwks_endpoint
