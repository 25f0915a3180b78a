"""Partner client secrets: generated once, stored only as a salted scrypt hash."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Partner

__all__ = ["UnknownPartnerError", "generate_secret", "hash_secret", "issue_partner_secret", "verify_secret"]

# scrypt cost: ~16 MiB and a few tens of ms per check; a token request is rare.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_SCHEME = "scrypt"


class UnknownPartnerError(LookupError):
    """No partner has this client_id."""


def generate_secret() -> str:
    """A new random client secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=64 * 1024 * 1024)


def hash_secret(secret: str) -> str:
    """`scrypt$n$r$p$salt$hash`: the parameters travel with the hash so they can be raised later."""
    salt = os.urandom(16)
    digest = _scrypt(secret, salt, _N, _R, _P, _DKLEN)
    return f"{_SCHEME}${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str | None) -> bool:
    """Whether `secret` matches the stored hash (constant-time compare); False for any malformed hash."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = _unb64(digest)
        if len(expected) < 16:  # a truncated digest would be guessable
            return False
        actual = _scrypt(secret, _unb64(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


async def issue_partner_secret(session: AsyncSession, client_id: str) -> str:
    """Issue (or rotate) a partner's secret and return it; the old one stops working once committed.

    Raises UnknownPartnerError. Does not commit: the caller owns the transaction.
    """
    secret = generate_secret()
    result = await session.execute(
        update(Partner).where(Partner.client_id == client_id).values(secret_hash=hash_secret(secret))
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise UnknownPartnerError(f"no partner with client_id {client_id!r}")
    return secret
