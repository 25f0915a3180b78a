"""Partner webhooks as rules (WEBHOOKS.md): the retry schedule, what an attempt's answer means
for the delivery and its endpoint, secrets, and which destinations are allowed.

Pure: the clock, the randomness and the resolved addresses are arguments.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets as _secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from domain.enums import WebhookDeliveryStatus as DeliveryStatus
from domain.errors import DomainError, UserErrorCode

__all__ = [
    "DISABLE_AFTER",
    "JITTER",
    "MAX_RESPONSE_BODY",
    "RETRY_SCHEDULE",
    "ROTATION_OVERLAP",
    "SECRET_PREFIX",
    "SUCCESS_TIMEOUT",
    "AttemptResult",
    "Destination",
    "Outcome",
    "classify",
    "new_secret",
    "outcome",
    "parse_destination",
    "refused_address",
    "refused_addresses",
    "retry_delay",
    "webhook_id",
]


# Retries after the first attempt fails (WEBHOOKS.md), each ±10 % jitter; then FAILED.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)
JITTER = 0.10
SUCCESS_TIMEOUT = timedelta(seconds=10)
# An endpoint failing without a single success for this long is disabled.
DISABLE_AFTER = timedelta(days=5)
# After a rotation the previous secret signs too, for this long.
ROTATION_OVERLAP = timedelta(hours=24)
SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 32
MAX_RESPONSE_BODY = 1024


def new_secret(token_bytes: Callable[[int], bytes] = _secrets.token_bytes) -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(_SECRET_BYTES)).decode("ascii")


def webhook_id(endpoint_id: int, event_id: int) -> str:
    """The `webhook-id` of an event at an endpoint: the same on every retry and redelivery.

    The migration's trigger builds the same text in SQL (0013_webhooks).
    """
    return f"msg_{endpoint_id}_{event_id}"


def retry_delay(
    attempts: int, *, schedule: Sequence[timedelta] = RETRY_SCHEDULE, random: Callable[[], float]
) -> timedelta | None:
    """How long after failed attempt number `attempts` (1-based) to try again; None: give up.

    `random()` in [0, 1) draws the jitter (±10 %).
    """
    if attempts < 1 or attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    return base * (1 - JITTER + 2 * JITTER * random())


class AttemptResult(StrEnum):
    SUCCESS = "SUCCESS"
    GONE = "GONE"  # 410: the partner asks us to stop
    FAILURE = "FAILURE"  # anything else: other status, timeout, refused destination, network error


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt's answer does to the delivery and to its endpoint."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    # Endpoint: when its failing streak began (None: it just succeeded), and why it is disabled now.
    failing_since: datetime | None
    disable_reason: str | None


def classify(status_code: int | None) -> AttemptResult:
    """Success is any 2xx (within the timeout, which the sender enforces); 410 disables."""
    if status_code is not None and 200 <= status_code < 300:
        return AttemptResult.SUCCESS
    if status_code == 410:
        return AttemptResult.GONE
    return AttemptResult.FAILURE


def outcome(
    *,
    result: AttemptResult,
    attempts: int,
    now: datetime,
    failing_since: datetime | None,
    random: Callable[[], float],
    schedule: Sequence[timedelta] = RETRY_SCHEDULE,
    disable_after: timedelta = DISABLE_AFTER,
) -> Outcome:
    """The delivery's next state after attempt number `attempts` ended with `result` at `now`."""
    if result is AttemptResult.SUCCESS:
        return Outcome(DeliveryStatus.DELIVERED, None, now, None, None)
    if result is AttemptResult.GONE:
        return Outcome(DeliveryStatus.FAILED, None, None, failing_since or now, "410 Gone")
    streak = failing_since or now
    reason = None
    if now - streak >= disable_after:
        reason = f"no successful delivery for {disable_after.days} days"
    delay = retry_delay(attempts, schedule=schedule, random=random)
    if delay is None:
        return Outcome(DeliveryStatus.FAILED, None, None, streak, reason)
    return Outcome(DeliveryStatus.RETRYING, now + delay, None, streak, reason)


# ------------------------------------------------------------------ destinations ----

_ALLOWED_SCHEMES = frozenset({"https", "http"})
# Addresses no partner endpoint may resolve to in production, beyond what `ipaddress` flags.
_METADATA = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, also used by some clouds' metadata
)


@dataclass(frozen=True, slots=True)
class Destination:
    """A webhook URL as checked: its scheme, host and port (the port the scheme implies if none)."""

    url: str
    scheme: str
    host: str
    port: int


def _invalid(message: str) -> DomainError:
    return DomainError(UserErrorCode.VALIDATION_FAILED, message, ("input", "url"))


def parse_destination(url: str, *, allow_private: bool) -> Destination:
    """The URL's parts; VALIDATION_FAILED on `input.url` when it is not one we may POST to.

    Only https (and http when `allow_private`, development and tests); no credentials in it;
    a literal IP address must pass `refused_address` too.
    """
    text = url.strip()
    if not text or len(text) > 2048:
        raise _invalid("url must be an absolute URL of at most 2,048 characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _invalid("url is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _ALLOWED_SCHEMES or (scheme == "http" and not allow_private):
        raise _invalid("url must use https")
    host = (parts.hostname or "").lower()
    if not host:
        raise _invalid("url has no host")
    if parts.username is not None or parts.password is not None:
        raise _invalid("url must not carry credentials")
    if parts.fragment:
        raise _invalid("url must not have a fragment")
    destination = Destination(text, scheme, host, port or (443 if scheme == "https" else 80))
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        private_name = host == "localhost" or host.endswith((".localhost", ".internal", ".local"))
        if private_name and not allow_private:
            raise _invalid("url points at a private destination") from None
        return destination
    reason = refused_address(literal, allow_private=allow_private)
    if reason is not None:
        raise _invalid(f"url points at a refused address ({reason})")
    return destination


def refused_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool
) -> str | None:
    """Why a resolved address may not receive webhooks (None: it may).

    Loopback, private, link-local, metadata, multicast, reserved and unspecified addresses are
    refused unless `allow_private` (WEBHOOK_ALLOW_PRIVATE=1).
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if allow_private:
        return None
    if address.is_loopback:
        return "loopback"
    if any(address in net for net in _METADATA):
        return "metadata"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_multicast or address.is_reserved or address.is_unspecified or not address.is_global:
        return "not public"
    return None


def refused_addresses(addresses: Iterable[str], *, allow_private: bool) -> str | None:
    """The first reason one of the resolved addresses is refused (every one must pass)."""
    seen = False
    for text in addresses:
        seen = True
        reason = refused_address(ipaddress.ip_address(text.split("%", 1)[0]), allow_private=allow_private)
        if reason is not None:
            return f"{text} is {reason}"
    return None if seen else "the host does not resolve"
