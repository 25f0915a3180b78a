"""Verified claims become a Principal from the database rows; unknown or inactive subjects are refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.devtoken import mint_dev_token
from auth.keys import IssuerKeys
from auth.permissions import Capability, has
from auth.resolve import principal_from_claims
from auth.tokens import InvalidToken, TokenVerifier, mint_token
from db.models import Staff
from domain.enums import ApprovalLevel, Role
from tests.auth.conftest import AUDIENCE, ISSUER, add_customer, add_partner, add_staff


async def _claims(verifier: TokenVerifier, keys: IssuerKeys, **kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "ttl_seconds": 600,
        "scopes": ["requests:read"],
    }
    args.update(kwargs)
    return await verifier.verify(mint_token(keys, **args))


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)


@pytest.fixture
def sql(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter)


async def test_staff_token_takes_role_and_level_from_the_row_in_one_statement(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier, sql: StatementCounter
) -> None:
    staff_id = await add_staff(
        session,
        email="sam@example.com",
        name="Sam",
        role=Role.SUPERVISOR,
        approval_level=ApprovalLevel.SUPERVISOR,
    )
    claims = await _claims(
        verifier, keys, subject="Sam@Example.COM", roles=[], scopes=["requests:read", "audit:read", "bogus"]
    )
    sql.statements.clear()
    me = await principal_from_claims(session, claims)
    assert len(sql.statements) == 1
    assert me.staff_id == staff_id and me.is_staff
    assert me.roles == {Role.SUPERVISOR}
    assert me.approval_level is ApprovalLevel.SUPERVISOR
    assert me.name == "Sam" and me.subject == "sam@example.com"
    assert me.customer_ids is None
    # audit:read is not something a supervisor may use; unknown scopes vanish too.
    assert me.scopes == {"requests:read"}
    assert me.expires_at.timestamp() == claims["exp"]


async def test_staff_roles_claim_must_include_the_db_role(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    await add_staff(session, email="ada@example.com", role=Role.AGENT)
    ok = await _claims(verifier, keys, subject="ada@example.com", roles=["AGENT"])
    assert (await principal_from_claims(session, ok)).roles == {Role.AGENT}
    claims = await _claims(verifier, keys, subject="ada@example.com", roles=["ADMIN"])
    with pytest.raises(InvalidToken, match="role"):
        await principal_from_claims(session, claims)


async def test_unknown_staff_is_refused(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    claims = await _claims(verifier, keys, subject="nobody@example.com", roles=["ADMIN"])
    with pytest.raises(InvalidToken, match="unknown or inactive staff"):
        await principal_from_claims(session, claims)


async def test_inactive_staff_is_refused(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    await add_staff(session, email="ada@example.com")
    claims = await _claims(verifier, keys, subject="ada@example.com", roles=["AGENT"])
    await principal_from_claims(session, claims)
    await session.execute(update(Staff).values(active=False))
    await session.commit()
    with pytest.raises(InvalidToken, match="unknown or inactive staff"):
        await principal_from_claims(session, claims)


async def test_customer_token_sees_its_own_customer(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    customer_id = await add_customer(session, external_ref="CUST-42")
    claims = await _claims(
        verifier,
        keys,
        subject="buyer@acme.test",
        roles=["CUSTOMER"],
        customer_ref="CUST-42",
        scopes=["requests:read", "customers:read", "metrics:read"],
    )
    me = await principal_from_claims(session, claims)
    assert me.roles == {Role.CUSTOMER} and me.is_customer and not me.is_staff
    assert me.customer_id == customer_id and me.customer_ids == {customer_id}
    assert me.scopes == {"requests:read", "customers:read"}
    assert has(me, Capability.READ_OWN_CREDIT_LIMIT)


async def test_customer_with_unknown_external_ref_is_refused(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    await add_customer(session, external_ref="CUST-42")
    claims = await _claims(verifier, keys, subject="x", roles=["CUSTOMER"], customer_ref="CUST-43")
    with pytest.raises(InvalidToken, match="unknown customer"):
        await principal_from_claims(session, claims)
    without = await _claims(verifier, keys, subject="x", roles=["CUSTOMER"])
    with pytest.raises(InvalidToken, match="customer_id"):
        await principal_from_claims(session, without)


async def test_customer_token_cannot_smuggle_a_staff_role(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    await add_customer(session, external_ref="CUST-42")
    await add_staff(session, email="x@example.com", role=Role.ADMIN)
    claims = await _claims(
        verifier, keys, subject="x@example.com", roles=["CUSTOMER", "ADMIN"], customer_ref="CUST-42"
    )
    with pytest.raises(InvalidToken, match="no other role"):
        await principal_from_claims(session, claims)


async def test_unknown_role_name_is_refused(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    claims = await _claims(verifier, keys, subject="x@example.com", roles=["ROOT"])
    with pytest.raises(InvalidToken, match="unknown role"):
        await principal_from_claims(session, claims)


async def test_partner_token_sees_linked_customers(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    first = await add_customer(session, external_ref="C-1")
    second = await add_customer(session, external_ref="C-2")
    await add_customer(session, external_ref="C-3")
    partner_id = await add_partner(session, client_id="reseller", customer_ids=[first, second])
    claims = await _claims(verifier, keys, subject="reseller", roles=["PARTNER"], client_id="reseller")
    me = await principal_from_claims(session, claims)
    assert me.partner_id == partner_id and me.is_partner
    assert me.customer_ids == {first, second}
    assert me.roles == {Role.PARTNER}


async def test_partner_without_linked_customers_sees_none(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    await add_partner(session, client_id="lonely")
    claims = await _claims(verifier, keys, subject="lonely", roles=["PARTNER"], client_id="lonely")
    assert (await principal_from_claims(session, claims)).customer_ids == frozenset()


async def test_unknown_or_inactive_partner_is_refused(
    session: AsyncSession, keys: IssuerKeys, verifier: TokenVerifier
) -> None:
    await add_partner(session, client_id="sleeping", active=False)
    for client_id in ("sleeping", "ghost"):
        claims = await _claims(verifier, keys, subject=client_id, roles=["PARTNER"], client_id=client_id)
        with pytest.raises(InvalidToken, match="partner"):
            await principal_from_claims(session, claims)


async def test_dev_token_defaults_to_every_scope_the_roles_allow(
    session: AsyncSession, verifier: TokenVerifier
) -> None:
    await add_customer(session, external_ref="CUST-7")
    token = await mint_dev_token(
        session,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="c@x.test",
        roles=["customer"],
        customer_ref="CUST-7",
    )
    await session.commit()  # a development key may have been created with the token
    claims = await verifier.verify(token)
    assert set(claims["scope"].split()) == {"requests:read", "requests:write", "customers:read"}
    assert claims["exp"] - claims["iat"] == 3600
    assert (await principal_from_claims(session, claims)).is_customer

    await add_staff(session, email="ada@example.com")
    staff_token = await mint_dev_token(
        session, issuer=ISSUER, audience=AUDIENCE, subject="ada@example.com", scope="requests:read", ttl=60
    )
    staff_claims = await verifier.verify(staff_token)
    assert "roles" not in staff_claims and staff_claims["scope"] == "requests:read"
    assert (await principal_from_claims(session, staff_claims)).roles == {Role.AGENT}

    with pytest.raises(ValueError, match="customer-id"):
        await mint_dev_token(session, issuer=ISSUER, audience=AUDIENCE, subject="c", roles=["CUSTOMER"])
    with pytest.raises(ValueError, match="unknown scope"):
        await mint_dev_token(session, issuer=ISSUER, audience=AUDIENCE, subject="c", scope="root")
    with pytest.raises(ValueError, match="unknown role"):
        await mint_dev_token(session, issuer=ISSUER, audience=AUDIENCE, subject="c", roles=["GOD"])
