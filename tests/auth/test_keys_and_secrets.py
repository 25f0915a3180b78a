"""Signing keys in the database (dev vs explicit, production refusal) and partner client secrets."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.config import AuthSettings
from auth.key_vault import KeyVault, new_encryption_key
from auth.keys import (
    DEV_KID_PREFIX,
    NoSigningKeyError,
    ProductionKeyError,
    assert_production_keys,
    ensure_signing_key,
    load_keys,
    rotate_signing_key,
)
from auth.secrets import (
    UnknownPartnerError,
    generate_secret,
    hash_secret,
    issue_partner_secret,
    verify_secret,
)
from db.models import Partner, SigningKey
from server.settings import Settings
from tests.auth.conftest import add_partner


async def _key_count(session: AsyncSession) -> int:
    return (await session.scalar(select(func.count()).select_from(SigningKey))) or 0


async def test_first_development_start_creates_one_dev_key(session: AsyncSession) -> None:
    assert (await load_keys(session)).signing_key is None
    await ensure_signing_key(session, allow_generate=True)
    await ensure_signing_key(session, allow_generate=True)
    await session.commit()
    assert await _key_count(session) == 1
    keys = await load_keys(session)
    assert keys.signing_kid is not None and keys.signing_kid.startswith(DEV_KID_PREFIX)
    assert [k["kid"] for k in keys.jwks["keys"]] == [keys.signing_kid]


async def test_workers_starting_together_create_a_single_key(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    async def start() -> None:
        async with sessionmaker() as own:
            await ensure_signing_key(own, allow_generate=True)
            await own.commit()

    await asyncio.gather(*(start() for _ in range(4)))
    assert await _key_count(session) == 1


async def test_without_generation_a_missing_key_is_an_error(session: AsyncSession) -> None:
    with pytest.raises(NoSigningKeyError, match="rotate-key"):
        await ensure_signing_key(session, allow_generate=False)
    assert await _key_count(session) == 0


async def test_production_refuses_the_auto_generated_key(session: AsyncSession) -> None:
    with pytest.raises(ProductionKeyError):
        await assert_production_keys(session)
    await ensure_signing_key(session, allow_generate=True)
    await session.commit()
    with pytest.raises(ProductionKeyError, match="casegraph rotate-key"):
        await assert_production_keys(session)
    assert (await load_keys(session, include_dev_keys=False)).signing_key is None
    vault = KeyVault.from_setting(new_encryption_key())
    kid = await rotate_signing_key(session, vault)
    await session.commit()
    await assert_production_keys(session, vault)
    production_keys = await load_keys(session, include_dev_keys=False, vault=vault)
    assert production_keys.signing_kid == kid
    assert [k["kid"] for k in production_keys.jwks["keys"]] == [kid]


async def test_key_operations_join_the_callers_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        await ensure_signing_key(session, allow_generate=True)
        kid = await rotate_signing_key(session)
    with pytest.raises(RuntimeError):
        async with sessionmaker() as session, session.begin():
            await rotate_signing_key(session)
            raise RuntimeError("the unit of work fails: its key is not kept")
    async with sessionmaker() as session:
        keys = await load_keys(session)
    assert keys.signing_kid == kid
    assert len(keys.jwks["keys"]) == 2


def test_server_settings_satisfy_what_auth_reads() -> None:
    settings: AuthSettings = Settings(CASEGRAPH_ENV="test")
    assert settings.client_token_ttl > 0


def test_secret_hash_round_trip() -> None:
    secret = generate_secret()
    assert len(secret) >= 43 and secret.replace("-", "").replace("_", "").isalnum()
    stored = hash_secret(secret)
    assert secret not in stored and stored.startswith("scrypt$")
    assert verify_secret(secret, stored)
    assert not verify_secret(secret + "x", stored)
    assert not verify_secret("", stored)
    assert hash_secret(secret) != stored  # random salt


@pytest.mark.parametrize(
    "stored", [None, "", "plain", "scrypt$x$8$1$AA$AA", "bcrypt$16384$8$1$AA$AA", "scrypt$$$$$"]
)
def test_malformed_stored_hash_never_verifies(stored: str | None) -> None:
    assert not verify_secret("anything", stored)


async def test_issuing_a_secret_rotates_it(session: AsyncSession) -> None:
    await add_partner(session, client_id="reseller")
    first = await issue_partner_secret(session, "reseller")
    await session.commit()
    second = await issue_partner_secret(session, "reseller")
    await session.commit()
    stored = await session.scalar(select(Partner.secret_hash).where(Partner.client_id == "reseller"))
    assert verify_secret(second, stored)
    assert not verify_secret(first, stored)


async def test_issuing_for_an_unknown_client_is_a_clear_error(session: AsyncSession) -> None:
    with pytest.raises(UnknownPartnerError, match="'ghost'"):
        await issue_partner_secret(session, "ghost")
