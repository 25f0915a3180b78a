"""Webhook secrets at rest: sealed by the key vault that seals the issuer's signing keys
(auth.key_vault, OAUTH_KEY_ENCRYPTION_KEY), bound to their endpoint; plain only without one."""

from __future__ import annotations

from auth.key_vault import KeyVault

__all__ = ["open_secret", "seal_secret"]

_PLAIN = "plain:"


def _kid(endpoint_id: int) -> str:
    # Bound into the ciphertext: a sealed secret copied onto another endpoint does not open.
    return f"webhook-endpoint:{endpoint_id}"


def seal_secret(vault: KeyVault | None, *, endpoint_id: int, secret: str) -> str:
    return _PLAIN + secret if vault is None else vault.seal(_kid(endpoint_id), secret)


def open_secret(vault: KeyVault | None, *, endpoint_id: int, sealed: str) -> str:
    """The secret; KeyVaultError when it is sealed and `vault` cannot open it."""
    if sealed.startswith(_PLAIN):
        return sealed[len(_PLAIN) :]
    if vault is None:
        from auth.key_vault import KeyVaultError

        raise KeyVaultError("a webhook secret is sealed but OAUTH_KEY_ENCRYPTION_KEY is not set")
    return vault.open(_kid(endpoint_id), sealed)
