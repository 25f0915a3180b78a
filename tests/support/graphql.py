"""Execute GraphQL operations in-process as a given principal (API-level tests).

Wire-level tests go through HTTP/WebSocket with real tokens instead; this
layer exercises the schema, resolvers, loaders and access rules directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.principal import Principal
from db.engine import make_sessionmaker
from domain.enums import ApprovalLevel, Role
from resolvers.context import AppServices, Context

__all__ = ["GraphQLResult", "customer_principal", "execute", "partner_principal", "staff_principal"]

_ALL_SCOPES = frozenset(
    {
        "requests:read",
        "requests:write",
        "customers:read",
        "approvals:decide",
        "adjustments:post",
        "metrics:read",
        "audit:read",
    }
)


@dataclass
class GraphQLResult:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]

    @property
    def codes(self) -> list[str | None]:
        return [e.get("extensions", {}).get("code") for e in self.errors]


def _expiry() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def staff_principal(
    staff_id: int,
    email: str,
    role: Role,
    level: ApprovalLevel = ApprovalLevel.AGENT,
    scopes: frozenset[str] = _ALL_SCOPES,
    name: str | None = None,
) -> Principal:
    return Principal(
        subject=email,
        roles=frozenset({role}),
        scopes=scopes,
        expires_at=_expiry(),
        name=name or email,
        staff_id=staff_id,
        approval_level=level,
    )


def customer_principal(
    customer_id: int, subject: str = "customer@example.com", scopes: frozenset[str] = _ALL_SCOPES
) -> Principal:
    return Principal(
        subject=subject,
        roles=frozenset({Role.CUSTOMER}),
        scopes=scopes,
        expires_at=_expiry(),
        customer_id=customer_id,
        customer_ids=frozenset({customer_id}),
    )


def partner_principal(
    partner_id: int,
    customer_ids: frozenset[int],
    subject: str = "erp-connector",
    scopes: frozenset[str] = _ALL_SCOPES,
) -> Principal:
    return Principal(
        subject=subject,
        roles=frozenset({Role.PARTNER}),
        scopes=scopes,
        expires_at=_expiry(),
        partner_id=partner_id,
        customer_ids=customer_ids,
    )


async def execute(
    schema: strawberry.Schema,
    engine: AsyncEngine,
    query: str,
    principal: Principal | None,
    variables: dict[str, Any] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> GraphQLResult:
    services = AppServices(engine=engine, sessionmaker=make_sessionmaker(engine), clock=clock)
    ctx = Context(services=services, request=None, principal_or_none=principal)
    result = await schema.execute(query, variable_values=variables, context_value=ctx)
    errors = [e.formatted for e in (result.errors or [])]
    return GraphQLResult(data=result.data, errors=errors)
