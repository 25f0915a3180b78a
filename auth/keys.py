"""The built-in issuer's RS256 signing keys, kept in the `signing_keys` table.

The newest active key signs; every active key stays in the JWKS so that tokens
signed before a rotation still verify until the old key is retired. Keys
generated automatically on a development start carry the kid prefix `dev-`:
production refuses to rely on them (`assert_production_keys`).

Private keys are sealed with a KeyVault (OAUTH_KEY_ENCRYPTION_KEY) when one is
given, and kept as plaintext PEM otherwise, which only development accepts:
production refuses to start while an active key is stored in plaintext, and
`seal_stored_keys` (`casegraph encrypt-keys`) seals them in place on request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.key_vault import KeyVault, KeyVaultError
from db.models import SigningKey

__all__ = [
    "DEV_KID_PREFIX",
    "SIGNING_ALGORITHM",
    "IssuerKeys",
    "NoSigningKeyError",
    "ProductionKeyError",
    "assert_production_keys",
    "builtin_jwks_loader",
    "ensure_signing_key",
    "load_jwks",
    "load_keys",
    "retire_signing_key",
    "rotate_signing_key",
    "seal_stored_keys",
]

DEV_KID_PREFIX = "dev-"
SIGNING_ALGORITHM = "RS256"
# Serializes key creation across server processes starting together (`serve --workers N`).
_KEY_LOCK_ID = 0x63675F6B6579  # "cg_key"


class NoSigningKeyError(RuntimeError):
    """There is no active signing key (and none may be generated here)."""


class ProductionKeyError(RuntimeError):
    """Production would sign with an automatically generated development key."""


@dataclass(frozen=True, slots=True)
class IssuerKeys:
    """The key that signs (None when there is none) and the public JWKS of every active key."""

    signing_key: RSAKey | None
    jwks: dict[str, Any]

    @property
    def signing_kid(self) -> str | None:
        return None if self.signing_key is None else self.signing_key.kid


def _new_key(*, development: bool) -> tuple[str, str, dict[str, Any]]:
    key = RSAKey.generate_key(2048, auto_kid=False)
    kid = (DEV_KID_PREFIX if development else "") + key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "alg": SIGNING_ALGORITHM, "use": "sig"}
    return kid, key.as_pem(private=True).decode(), public


async def _insert_key(session: AsyncSession, *, development: bool, vault: KeyVault | None) -> str:
    kid, pem, public = _new_key(development=development)
    stored = {"private_pem": pem} if vault is None else {"sealed_private_key": vault.seal(kid, pem)}
    # clock_timestamp, not now(): two keys made in one transaction must still be ordered.
    session.add(SigningKey(kid=kid, public_jwk=public, created_at=func.clock_timestamp(), **stored))
    await session.flush()
    return kid


def _active() -> Any:
    # A retirement may be scheduled: the key stays published until that instant.
    return or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > func.now())


async def ensure_signing_key(
    session: AsyncSession, *, allow_generate: bool, vault: KeyVault | None = None
) -> None:
    """Make sure an active signing key exists; create a `dev-` key (sealed with `vault`) when allowed.

    Raises NoSigningKeyError when there is none and `allow_generate` is false.
    Does not commit: the caller owns the transaction (which also holds the lock
    that keeps workers starting together from creating a key each).
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEY_LOCK_ID})
    existing = await session.scalar(select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1))
    if existing is not None:
        return
    if not allow_generate:
        raise NoSigningKeyError(
            "no signing key: create one with `casegraph rotate-key` or configure OAUTH_JWKS_URL"
        )
    await _insert_key(session, development=True, vault=vault)


async def rotate_signing_key(session: AsyncSession, vault: KeyVault | None = None) -> str:
    """Create an explicit (non-dev) key that signs from now on; older keys stay published.

    The private key is sealed with `vault` (plaintext without one: development only).
    Does not commit: the caller owns the transaction.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEY_LOCK_ID})
    return await _insert_key(session, development=False, vault=vault)


async def seal_stored_keys(session: AsyncSession, vault: KeyVault) -> list[str]:
    """Seal every stored private key with the vault's current encryption key; the kids changed.

    Plaintext keys are sealed, keys sealed with an older encryption key re-sealed
    (how OAUTH_KEY_ENCRYPTION_KEY is rotated). Does not commit.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEY_LOCK_ID})
    rows = (
        await session.execute(
            select(SigningKey.kid, SigningKey.private_pem, SigningKey.sealed_private_key).with_for_update()
        )
    ).all()
    changed = []
    for row in rows:
        if row.sealed_private_key is not None and vault.sealed_by_current_key(row.sealed_private_key):
            continue
        pem = row.private_pem if row.private_pem is not None else vault.open(row.kid, row.sealed_private_key)
        await session.execute(
            update(SigningKey)
            .where(SigningKey.kid == row.kid)
            .values(private_pem=None, sealed_private_key=vault.seal(row.kid, pem))
        )
        changed.append(row.kid)
    return changed


async def retire_signing_key(session: AsyncSession, kid: str) -> None:
    """Stop publishing (and signing with) a key: tokens it signed stop verifying.

    Raises LookupError for an unknown or already retired kid. Does not commit.
    """
    result = await session.execute(
        update(SigningKey)
        .where(SigningKey.kid == kid, SigningKey.retired_at.is_(None))
        .values(retired_at=func.now())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise LookupError(f"no active signing key with kid {kid!r}")


def _published(*columns: Any, include_dev_keys: bool) -> Any:
    query = select(*columns).where(_active())
    if not include_dev_keys:
        query = query.where(SigningKey.kid.not_like(DEV_KID_PREFIX + "%"))
    return query.order_by(SigningKey.created_at.desc(), SigningKey.kid)


async def load_keys(
    session: AsyncSession, *, include_dev_keys: bool = True, vault: KeyVault | None = None
) -> IssuerKeys:
    """The newest active key (for signing) and the JWKS of all active keys.

    Production passes `include_dev_keys=False`: an auto-generated key then
    neither signs nor verifies. A sealed signing key is opened with `vault`
    (KeyVaultError without one, or with the wrong encryption key).
    """
    query = _published(
        SigningKey.kid,
        SigningKey.public_jwk,
        SigningKey.retired_at,
        SigningKey.private_pem,
        SigningKey.sealed_private_key,
        include_dev_keys=include_dev_keys,
    )
    rows = (await session.execute(query)).all()
    signing_key: RSAKey | None = None
    # A key whose retirement is scheduled still verifies but no longer signs.
    signer = next((row for row in rows if row.retired_at is None), None)
    if signer is not None:
        pem = signer.private_pem
        if pem is None:
            if vault is None:
                raise KeyVaultError(f"signing key {signer.kid} is sealed: set OAUTH_KEY_ENCRYPTION_KEY")
            pem = vault.open(signer.kid, signer.sealed_private_key)
        signing_key = RSAKey.import_key(pem, parameters={"kid": signer.kid})
    return IssuerKeys(signing_key=signing_key, jwks={"keys": [dict(row.public_jwk) for row in rows]})


async def load_jwks(session: AsyncSession, *, include_dev_keys: bool = True) -> dict[str, Any]:
    """The public JWKS of every active key (what `/.well-known/jwks.json` serves)."""
    rows = (await session.execute(_published(SigningKey.public_jwk, include_dev_keys=include_dev_keys))).all()
    return {"keys": [dict(row.public_jwk) for row in rows]}


async def assert_production_keys(session: AsyncSession, vault: KeyVault | None = None) -> None:
    """Refuse production without an explicit signing key, with one stored in plaintext, or
    with a sealed one that `vault` cannot open (ProductionKeyError says what to do)."""
    explicit = await session.scalar(
        select(SigningKey.kid)
        .where(SigningKey.retired_at.is_(None), SigningKey.kid.not_like(DEV_KID_PREFIX + "%"))
        .limit(1)
    )
    if explicit is None:
        raise ProductionKeyError(
            "CASEGRAPH_ENV=production but the built-in issuer has no explicitly created signing key "
            "(only an automatically generated development key, or none): run `casegraph rotate-key` "
            "or configure an external issuer with OAUTH_JWKS_URL"
        )
    plaintext = (
        await session.scalars(
            _published(SigningKey.kid, include_dev_keys=False).where(SigningKey.private_pem.is_not(None))
        )
    ).all()
    if plaintext:
        raise ProductionKeyError(
            f"CASEGRAPH_ENV=production but signing key(s) {', '.join(plaintext)} are stored in plaintext: "
            "set OAUTH_KEY_ENCRYPTION_KEY and run `casegraph encrypt-keys` to seal them in place "
            "(or `casegraph rotate-key` with it set, then `casegraph retire-key` the old ones)"
        )
    try:
        await load_keys(session, include_dev_keys=False, vault=vault)
    except KeyVaultError as exc:
        raise ProductionKeyError(f"CASEGRAPH_ENV=production: {exc}") from exc


def builtin_jwks_loader(
    sessionmaker: async_sessionmaker[AsyncSession], *, include_dev_keys: bool = True
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A callable that reads the current public JWKS from the database (for TokenVerifier)."""

    async def load() -> dict[str, Any]:
        async with sessionmaker() as session:
            return await load_jwks(session, include_dev_keys=include_dev_keys)

    return load
