"""From verified token claims to the Principal every layer sees (one SQL round trip).

Three kinds of subject (ACCESS.md):
- staff: `sub` is the staff email (case-insensitive); the role and approval level
  come from the database row, never from the token alone;
- CUSTOMER: `roles` is exactly [CUSTOMER]; `customer_id` is the customer's externalRef;
- PARTNER: `roles` is exactly [PARTNER]; `client_id` names the partner, whose
  linked customers are stored server-side.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import allowed_scopes
from auth.principal import Principal
from auth.tokens import InvalidToken
from db.models import Customer, Partner, PartnerCustomer, Staff
from domain.enums import ApprovalLevel, Role

__all__ = ["partner_principal", "principal_from_claims", "token_roles", "token_scopes"]

_EXTERNAL_ROLES = frozenset({Role.CUSTOMER, Role.PARTNER})


def token_roles(claims: Mapping[str, Any]) -> frozenset[Role] | None:
    """The `roles` claim as Roles; None when the token has none (staff tokens may omit it)."""
    raw = claims.get("roles")
    if not raw:
        return None
    if isinstance(raw, str):
        raw = raw.split()
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise InvalidToken("roles claim must be a list of role names")
    try:
        return frozenset(Role(r) for r in raw)
    except ValueError as error:
        raise InvalidToken("roles claim names an unknown role") from error


def token_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """The `scope` claim (space-separated); `scp` (a list, some issuers) as a fallback."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list) and all(isinstance(s, str) for s in scp):
        return frozenset(scp)
    return frozenset()


def _expires_at(claims: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(claims["exp"], UTC)


def _string_claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidToken(f"missing claim: {name}")
    return value


async def principal_from_claims(session: AsyncSession, claims: Mapping[str, Any]) -> Principal:
    """The caller of a verified token; InvalidToken for an unknown or inactive subject."""
    roles = token_roles(claims)
    if roles is not None and roles & _EXTERNAL_ROLES:
        # A customer or partner token grants exactly that role: never mixed with staff roles.
        if len(roles) != 1:
            raise InvalidToken("a CUSTOMER or PARTNER token carries no other role")
        if Role.CUSTOMER in roles:
            return await _customer(session, claims)
        return await _partner(session, claims)
    return await _staff(session, claims, roles)


async def _staff(
    session: AsyncSession, claims: Mapping[str, Any], roles: frozenset[Role] | None
) -> Principal:
    email = _string_claim(claims, "sub").strip().lower()
    row = (
        await session.execute(
            select(Staff.id, Staff.name, Staff.role, Staff.approval_level, Staff.active).where(
                Staff.email == email
            )
        )
    ).one_or_none()
    if row is None or not row.active:
        raise InvalidToken("unknown or inactive staff subject")
    role = Role(row.role)
    if roles is not None and role not in roles:
        raise InvalidToken("token roles do not include the staff member's role")
    granted = frozenset({role})
    return Principal(
        subject=email,
        roles=granted,
        scopes=token_scopes(claims) & allowed_scopes(granted),
        expires_at=_expires_at(claims),
        name=row.name,
        staff_id=row.id,
        approval_level=ApprovalLevel(row.approval_level),
        customer_ids=None,
    )


async def _customer(session: AsyncSession, claims: Mapping[str, Any]) -> Principal:
    external_ref = _string_claim(claims, "customer_id")
    customer_id = await session.scalar(select(Customer.id).where(Customer.external_ref == external_ref))
    if customer_id is None:
        raise InvalidToken("unknown customer")
    granted = frozenset({Role.CUSTOMER})
    return Principal(
        subject=_string_claim(claims, "sub"),
        roles=granted,
        scopes=token_scopes(claims) & allowed_scopes(granted),
        expires_at=_expires_at(claims),
        customer_id=customer_id,
        customer_ids=frozenset({customer_id}),
    )


async def _partner(session: AsyncSession, claims: Mapping[str, Any]) -> Principal:
    client_id = _string_claim(claims, "client_id")
    principal = await partner_principal(
        session,
        Partner.client_id == client_id,
        subject=_string_claim(claims, "sub"),
        scopes=token_scopes(claims),
        expires_at=_expires_at(claims),
    )
    if principal is None:
        raise InvalidToken("unknown or inactive partner client")
    return principal


async def partner_principal(
    session: AsyncSession,
    which: ColumnElement[bool],
    *,
    subject: str | None = None,
    scopes: frozenset[str],
    expires_at: datetime,
) -> Principal | None:
    """The partner matching `which` (e.g. `Partner.id == 3`) as a Principal with its linked
    customers; None when unknown or inactive. A token's partner, and the owner a webhook
    endpoint delivers for (WEBHOOKS.md), are the same principal."""
    # array_agg over no rows is NULL: a partner without linked customers sees nothing.
    linked = (
        select(func.array_agg(PartnerCustomer.customer_id))
        .where(PartnerCustomer.partner_id == Partner.id)
        .correlate(Partner)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(
                Partner.id, Partner.client_id, Partner.name, Partner.active, linked.label("customer_ids")
            ).where(which)
        )
    ).one_or_none()
    if row is None or not row.active:
        return None
    granted = frozenset({Role.PARTNER})
    return Principal(
        subject=subject or row.client_id,
        roles=granted,
        scopes=scopes & allowed_scopes(granted),
        expires_at=expires_at,
        name=row.name,
        partner_id=row.id,
        customer_ids=frozenset(row.customer_ids or ()),
    )
