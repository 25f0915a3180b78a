"""Fixtures and typed builders for the auth tests (real PostgreSQL, real keys)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.keys import IssuerKeys, builtin_jwks_loader, ensure_signing_key, load_keys
from auth.tokens import JwksSource, TokenVerifier
from db.engine import make_sessionmaker
from db.models import Customer, Partner, PartnerCustomer, Staff
from domain.enums import ApprovalLevel, Role

ISSUER = "casegraph-test"
AUDIENCE = "casegraph-api"


@dataclass(frozen=True)
class AuthTestSettings:
    """Implements auth.config.AuthSettings without reading the environment."""

    oauth_issuer: str = ISSUER
    oauth_audience: str = AUDIENCE
    oauth_jwks_url: str | None = None
    client_token_ttl: int = 900
    env: str = "test"


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def keys(session: AsyncSession) -> IssuerKeys:
    """The built-in issuer's keys after a development start (one `dev-` key)."""
    await ensure_signing_key(session, allow_generate=True)
    await session.commit()
    return await load_keys(session)


@pytest.fixture
def verifier(sessionmaker: async_sessionmaker[AsyncSession]) -> TokenVerifier:
    """Verifies built-in tokens; keys reloaded from the database on an unknown kid (no rate limit)."""
    source = JwksSource(ISSUER, builtin_jwks_loader(sessionmaker), refresh_interval=0.0)
    return TokenVerifier(audience=AUDIENCE, sources=[source])


async def add_staff(
    session: AsyncSession,
    *,
    email: str = "ada@example.com",
    name: str = "Ada Agent",
    role: Role = Role.AGENT,
    approval_level: ApprovalLevel = ApprovalLevel.AGENT,
    active: bool = True,
) -> int:
    staff_id = await session.scalar(
        insert(Staff)
        .values(email=email, name=name, role=role, approval_level=approval_level, active=active)
        .returning(Staff.id)
    )
    await session.commit()
    assert staff_id is not None
    return staff_id


async def add_customer(session: AsyncSession, *, external_ref: str = "CUST-1", name: str = "Acme") -> int:
    customer_id = await session.scalar(
        insert(Customer)
        .values(
            external_ref=external_ref,
            name=name,
            segment="SMB",
            country="DE",
            kyc_status="VERIFIED",
            risk_rating="LOW",
        )
        .returning(Customer.id)
    )
    await session.commit()
    assert customer_id is not None
    return customer_id


async def add_partner(
    session: AsyncSession,
    *,
    client_id: str = "partner-1",
    name: str = "Reseller One",
    scopes: Iterable[str] = ("requests:read", "requests:write", "customers:read"),
    active: bool = True,
    customer_ids: Iterable[int] = (),
) -> int:
    partner_id = await session.scalar(
        insert(Partner)
        .values(client_id=client_id, name=name, scopes=list(scopes), active=active)
        .returning(Partner.id)
    )
    assert partner_id is not None
    for customer_id in customer_ids:
        await session.execute(insert(PartnerCustomer).values(partner_id=partner_id, customer_id=customer_id))
    await session.commit()
    return partner_id
