"""`casegraph token`: a user token from the built-in issuer, for development and tests.

The refusal in production belongs to the CLI; this helper only mints.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from auth.key_vault import KeyVault
from auth.keys import ensure_signing_key, load_keys
from auth.permissions import ALL_SCOPES, allowed_scopes
from auth.tokens import mint_token
from domain.enums import Role

__all__ = ["DEFAULT_DEV_TOKEN_TTL", "mint_dev_token"]

DEFAULT_DEV_TOKEN_TTL = 3600


async def mint_dev_token(
    session: AsyncSession,
    *,
    issuer: str,
    audience: str,
    subject: str,
    roles: Iterable[str] = (),
    customer_ref: str | None = None,
    scope: str | None = None,
    ttl: int = DEFAULT_DEV_TOKEN_TTL,
    vault: KeyVault | None = None,
) -> str:
    """A signed JWT for `subject`; creates the development signing key when there is none.

    - staff: subject = the staff email; roles optional (the server takes the role from the staff row);
    - CUSTOMER: `customer_ref` (the customer's externalRef) is required;
    - PARTNER: the subject is the partner's client_id.
    Default scopes: everything the roles allow (all scopes when no role is given).
    Raises ValueError for an unknown role or scope or a missing customer_ref.
    """
    try:
        parsed = frozenset(Role(r.upper()) for r in roles)
    except ValueError as error:
        raise ValueError(f"unknown role; expected one of {', '.join(Role)}") from error
    if Role.CUSTOMER in parsed and not customer_ref:
        raise ValueError("a CUSTOMER token needs --customer-id (the customer's externalRef)")
    if scope is None:
        scopes = allowed_scopes(parsed) if parsed else ALL_SCOPES
    else:
        scopes = frozenset(scope.split())
        if unknown := scopes - ALL_SCOPES:
            raise ValueError(f"unknown scope(s): {' '.join(sorted(unknown))}")
    await ensure_signing_key(session, allow_generate=True, vault=vault)
    keys = await load_keys(session, vault=vault)
    return mint_token(
        keys,
        issuer=issuer,
        audience=audience,
        subject=subject,
        roles=parsed,
        scopes=scopes,
        ttl_seconds=ttl,
        customer_ref=customer_ref if Role.CUSTOMER in parsed else None,
        client_id=subject if Role.PARTNER in parsed else None,
    )
