"""The pure webhook rules (domain.webhooks): schedule, outcomes, destinations, secrets."""

from __future__ import annotations

import base64
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.enums import WebhookDeliveryStatus as S
from domain.errors import DomainError
from domain.webhooks import (
    RETRY_SCHEDULE,
    AttemptResult,
    classify,
    new_secret,
    outcome,
    parse_destination,
    refused_address,
    retry_delay,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@given(st.integers(min_value=1, max_value=len(RETRY_SCHEDULE)), st.floats(min_value=0, max_value=0.999999))
def test_each_retry_is_its_step_within_ten_percent(attempts: int, draw: float) -> None:
    delay = retry_delay(attempts, random=lambda: draw)
    base = RETRY_SCHEDULE[attempts - 1]
    assert delay is not None and base * 0.9 <= delay <= base * 1.1


def test_the_schedule_is_the_contracts_and_ends_in_failed() -> None:
    minutes = [d.total_seconds() / 60 for d in RETRY_SCHEDULE]
    assert minutes == [5 / 60, 0.5, 2, 10, 30, 60, 180, 360, 720, 1440]
    assert retry_delay(len(RETRY_SCHEDULE) + 1, random=lambda: 0.5) is None
    last = outcome(result=AttemptResult.FAILURE, attempts=11, now=NOW, failing_since=NOW, random=lambda: 0.5)
    assert (last.status, last.next_attempt_at) == (S.FAILED, None)


def test_outcomes() -> None:
    ok = outcome(result=AttemptResult.SUCCESS, attempts=3, now=NOW, failing_since=NOW, random=lambda: 0)
    assert (ok.status, ok.delivered_at, ok.failing_since, ok.disable_reason) == (S.DELIVERED, NOW, None, None)
    gone = outcome(result=AttemptResult.GONE, attempts=1, now=NOW, failing_since=None, random=lambda: 0)
    assert (gone.status, gone.disable_reason) == (S.FAILED, "410 Gone")
    first = outcome(result=AttemptResult.FAILURE, attempts=1, now=NOW, failing_since=None, random=lambda: 0.5)
    assert (first.status, first.next_attempt_at, first.failing_since) == (
        S.RETRYING,
        NOW + timedelta(seconds=5),
        NOW,
    )
    since = NOW - timedelta(days=5)
    old = outcome(result=AttemptResult.FAILURE, attempts=1, now=NOW, failing_since=since, random=lambda: 0.5)
    assert old.disable_reason == "no successful delivery for 5 days"
    assert [classify(c) for c in (200, 204, 299, 301, 410, 500, None)] == [
        AttemptResult.SUCCESS,
        AttemptResult.SUCCESS,
        AttemptResult.SUCCESS,
        AttemptResult.FAILURE,
        AttemptResult.GONE,
        AttemptResult.FAILURE,
        AttemptResult.FAILURE,
    ]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "private"),
        ("224.0.0.1", "not public"),
        ("93.184.216.34", None),
        ("2606:2800:220:1::1", None),
    ],
)
def test_refused_addresses(address: str, reason: str | None) -> None:
    assert refused_address(ipaddress.ip_address(address), allow_private=False) == reason
    assert refused_address(ipaddress.ip_address(address), allow_private=True) is None


def test_destinations_and_secrets() -> None:
    assert parse_destination("https://erp.example.com/h?x=1", allow_private=False).port == 443
    with pytest.raises(DomainError):
        parse_destination("http://erp.example.com/h", allow_private=False)
    assert parse_destination("http://erp.example.com:8080/h", allow_private=True).port == 8080
    with pytest.raises(DomainError):
        parse_destination("gopher://erp.example.com/h", allow_private=True)
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
