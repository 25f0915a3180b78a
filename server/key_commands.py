"""The signing-key side of the command line: start-up checks, rotation, retirement, sealing.

Rotation, end to end (README, "Signing keys"):

    casegraph rotate-key              # a new key signs from now on; the old one still verifies
    ... wait for the longest token lifetime ...
    casegraph retire-key OLD_KID      # tokens signed by the old key stop verifying

Keys are sealed with OAUTH_KEY_ENCRYPTION_KEY; `casegraph encrypt-keys` seals
keys stored before it was set (or re-seals them after the encryption key was
rotated). Nothing is sealed implicitly.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.key_vault import KeyVault, KeyVaultError
from auth.keys import (
    assert_production_keys,
    ensure_signing_key,
    retire_signing_key,
    rotate_signing_key,
    seal_stored_keys,
)
from db.models import SigningKey
from server.authn import key_vault
from server.settings import Settings

__all__ = ["KeyCommandError", "encrypt_keys", "list_keys", "prepare_keys", "retire_key", "rotate_key"]


class KeyCommandError(Exception):
    """A refusal to report in one line."""


def _vault(settings: Settings) -> KeyVault | None:
    try:
        return key_vault(settings)
    except KeyVaultError as exc:
        raise KeyCommandError(str(exc)) from exc


async def prepare_keys(session: AsyncSession, settings: Settings) -> None:
    """Before serving: production checks its keys (explicit, sealed, openable); development makes one."""
    vault = _vault(settings)
    if settings.is_production:
        if not settings.oauth_jwks_url:
            await assert_production_keys(session, vault)
    else:
        await ensure_signing_key(session, allow_generate=True, vault=vault)


async def rotate_key(session: AsyncSession, settings: Settings) -> str:
    """A new signing key, sealed when OAUTH_KEY_ENCRYPTION_KEY is set (which production requires)."""
    vault = _vault(settings)
    if vault is None and settings.is_production:
        raise KeyCommandError(
            "CASEGRAPH_ENV=production keeps no private key in plaintext: set OAUTH_KEY_ENCRYPTION_KEY first"
        )
    return await rotate_signing_key(session, vault)


async def retire_key(session: AsyncSession, kid: str) -> None:
    try:
        await retire_signing_key(session, kid)
    except LookupError as exc:
        raise KeyCommandError(str(exc)) from exc


async def encrypt_keys(session: AsyncSession, settings: Settings) -> list[str]:
    vault = _vault(settings)
    if vault is None:
        raise KeyCommandError("set OAUTH_KEY_ENCRYPTION_KEY to the key that should seal the signing keys")
    try:
        return await seal_stored_keys(session, vault)
    except KeyVaultError as exc:
        raise KeyCommandError(str(exc)) from exc


async def list_keys(session: AsyncSession) -> list[str]:
    """One line per stored key, newest first: kid, created, retired, how the private key is kept."""
    rows = await session.execute(
        select(
            SigningKey.kid, SigningKey.created_at, SigningKey.retired_at, SigningKey.private_pem.is_(None)
        ).order_by(SigningKey.created_at.desc())
    )
    return [
        f"{kid}\tcreated {created:%Y-%m-%dT%H:%M:%SZ}\t"
        f"{'retired ' + format(retired, '%Y-%m-%dT%H:%M:%SZ') if retired else 'active'}\t"
        f"{'sealed' if sealed else 'PLAINTEXT'}"
        for kid, created, retired, sealed in rows
    ]
