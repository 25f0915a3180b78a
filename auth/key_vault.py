"""Private signing keys sealed at rest: AES-256-GCM under key-encryption keys from the environment.

OAUTH_KEY_ENCRYPTION_KEY holds one or more 32-byte keys, base64 (standard or
URL-safe), separated by commas: the first seals, every one opens, so the
encryption key itself can be rotated (put the new one first, run
`casegraph encrypt-keys`, then drop the old one). A sealed value names the
fingerprint of the key that sealed it and is bound to its key id (AES-GCM
associated data), so a value copied onto another row does not open.

    aesgcm:v1:<fingerprint>:<base64url(nonce ‖ ciphertext)>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KeyVault", "KeyVaultError", "new_encryption_key"]

_PREFIX = "aesgcm:v1"
_NONCE_BYTES = 12
SETTING = "OAUTH_KEY_ENCRYPTION_KEY"


class KeyVaultError(RuntimeError):
    """A key cannot be sealed or opened (missing, malformed or wrong encryption key)."""


def _fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"casegraph-kek:" + key).hexdigest()[:16]


def _decode_key(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        key = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError) as exc:
        raise KeyVaultError(f"{SETTING}: not base64") from exc
    if len(key) != 32:
        raise KeyVaultError(
            f"{SETTING}: each key must be 32 bytes (base64 of 32 random bytes), got {len(key)}"
        )
    return key


def new_encryption_key() -> str:
    """A fresh key-encryption key, as OAUTH_KEY_ENCRYPTION_KEY takes it."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class KeyVault:
    """Seals and opens private keys; built from OAUTH_KEY_ENCRYPTION_KEY."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise KeyVaultError(f"{SETTING} holds no key")
        self._sealing = keys[0]
        self._keys = {_fingerprint(key): AESGCM(key) for key in keys}

    @classmethod
    def from_setting(cls, value: str | None) -> KeyVault | None:
        """The vault for OAUTH_KEY_ENCRYPTION_KEY's value, None when unset or blank."""
        parts = [part.strip() for part in (value or "").split(",") if part.strip()]
        return cls([_decode_key(part) for part in parts]) if parts else None

    @property
    def fingerprint(self) -> str:
        """Which key seals now (safe to show: it reveals nothing of the key)."""
        return _fingerprint(self._sealing)

    def sealed_by_current_key(self, sealed: str) -> bool:
        return sealed.startswith(f"{_PREFIX}:{self.fingerprint}:")

    def seal(self, kid: str, private_pem: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._keys[self.fingerprint].encrypt(nonce, private_pem.encode(), kid.encode())
        return f"{_PREFIX}:{self.fingerprint}:{base64.urlsafe_b64encode(nonce + ciphertext).decode()}"

    def open(self, kid: str, sealed: str) -> str:
        scheme, version, fingerprint, payload = [*sealed.split(":", 3), "", "", ""][:4]
        if f"{scheme}:{version}" != _PREFIX or not payload:
            raise KeyVaultError(f"signing key {kid}: not a sealed key this version understands")
        cipher = self._keys.get(fingerprint)
        if cipher is None:
            raise KeyVaultError(
                f"signing key {kid} was sealed with encryption key {fingerprint}, which {SETTING} "
                f"does not hold (it holds {', '.join(self._keys)})"
            )
        raw = base64.urlsafe_b64decode(payload)
        try:
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], kid.encode()).decode()
        except InvalidTag as exc:
            raise KeyVaultError(
                f"signing key {kid}: the sealed value does not open (altered or moved)"
            ) from exc
