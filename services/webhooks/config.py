"""What the webhook operations need from the process: the destination policy and the secret vault."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from auth.key_vault import KeyVault
from domain.errors import DomainError, UserErrorCode
from domain.webhooks import Destination, parse_destination, refused_addresses

__all__ = ["Resolver", "WebhookConfig", "check_destination", "resolve_host"]

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (what an HTTP client could connect to)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """WEBHOOK_ALLOW_PRIVATE (development, tests: http:// and private addresses allowed) and the
    vault sealing secrets at rest (OAUTH_KEY_ENCRYPTION_KEY; None: stored plain, development)."""

    allow_private: bool = False
    vault: KeyVault | None = None
    resolve: Resolver = field(default=resolve_host)


async def check_destination(config: WebhookConfig, url: str) -> Destination:
    """The URL, when webhooks may be POSTed there now: scheme and form, then every address its
    host resolves to (at registration and before each attempt). VALIDATION_FAILED on `input.url`."""
    destination = parse_destination(url, allow_private=config.allow_private)
    if config.allow_private:
        return destination
    addresses = await config.resolve(destination.host, destination.port)
    reason = refused_addresses(addresses, allow_private=False)
    if reason is not None:
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED,
            f"url points at a refused destination ({reason})",
            ("input", "url"),
        )
    return destination
