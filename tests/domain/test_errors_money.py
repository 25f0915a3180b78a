"""Error precedence and money: exact decimals, currencies, rounding, USD conversion."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import DomainError, UserErrorCode, first_error
from domain.money import (
    ISO_4217_CODES,
    Money,
    check_same_currency,
    is_currency,
    parse_money,
    quantize_cents,
    sum_by_currency,
    to_usd,
)

CONTRACT_ORDER = [
    "NOT_FOUND",
    "VALIDATION_FAILED",
    "VERSION_CONFLICT",
    "INVALID_TRANSITION",
    "KYC_NOT_VERIFIED",
    "OUTSIDE_DISPUTE_WINDOW",
    "AMOUNT_EXCEEDS_OUTSTANDING",
    "SEGREGATION_OF_DUTIES",
    "APPROVAL_LIMIT_EXCEEDED",
    "APPROVAL_REQUIRED",
    "DUPLICATE",
]


def test_codes_are_the_contracts_in_precedence_order() -> None:
    assert [code.value for code in UserErrorCode] == CONTRACT_ORDER
    assert [code.precedence for code in UserErrorCode] == list(range(11))


def test_first_error_picks_by_precedence_then_order() -> None:
    late = DomainError(UserErrorCode.DUPLICATE, "dup")
    sod = DomainError(UserErrorCode.SEGREGATION_OF_DUTIES, "sod", ("input", "approvalId"))
    sod2 = DomainError(UserErrorCode.SEGREGATION_OF_DUTIES, "second")
    assert first_error([late, sod, None, sod2]) is sod
    assert first_error([]) is None
    assert first_error([None]) is None
    assert sod.field == ("input", "approvalId") and str(sod) == "sod"


def test_parse_money_accepts_positive_two_decimals() -> None:
    money = parse_money(amount="9850.5", currency="EUR")
    assert money == Money(Decimal("9850.50"), "EUR")
    assert str(money.amount) == "9850.50"
    assert parse_money(amount=Decimal("0.01"), currency="JPY").amount == Decimal("0.01")


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        ("0", "USD", "amount"),
        ("-1.00", "USD", "amount"),
        ("1.001", "USD", "amount"),
        ("abc", "USD", "amount"),
        ("NaN", "USD", "amount"),
        ("Infinity", "USD", "amount"),
        (1.5, "USD", "amount"),
        ("10.00", "usd", "currency"),
        ("10.00", "XXX", "currency"),
        ("10.00", "HRK", "currency"),
        ("10.00", "EURO", "currency"),
    ],
)
def test_parse_money_refuses(amount: object, currency: str, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_money(amount=amount, currency=currency, field=("input", "financialImpact"))  # type: ignore[arg-type]
    assert caught.value.code is UserErrorCode.VALIDATION_FAILED
    assert caught.value.field == ("input", "financialImpact", field)


def test_currency_list_is_real_iso_4217() -> None:
    assert {"USD", "EUR", "GBP", "JPY", "CHF", "XCG", "ZWG"} <= ISO_4217_CODES
    assert all(len(code) == 3 and code.isupper() for code in ISO_4217_CODES)
    assert not is_currency("ABC") and not is_currency("XTS")


def test_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        Money(1.10, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        quantize_cents(1.10)  # type: ignore[arg-type]


def test_quantize_is_half_even() -> None:
    assert quantize_cents(Decimal("0.125")) == Decimal("0.12")
    assert quantize_cents(Decimal("0.135")) == Decimal("0.14")
    assert quantize_cents(Decimal("-0.125")) == Decimal("-0.12")


def test_to_usd_and_missing_rate() -> None:
    rates = {"EUR": Decimal("1.08"), "JPY": Decimal("0.0066")}
    assert to_usd(Money(Decimal("100.00"), "EUR"), rates) == Decimal("108.00")
    assert to_usd(Money(Decimal("12345.00"), "JPY"), rates) == Decimal("81.48")  # 81.477 rounds up
    assert to_usd(Money(Decimal("5.00"), "USD"), {}) == Decimal("5.00")
    with pytest.raises(DomainError) as caught:
        to_usd(Money(Decimal("1.00"), "GBP"), rates)
    assert caught.value.code is UserErrorCode.VALIDATION_FAILED


def test_currency_mismatch() -> None:
    check_same_currency(Money(Decimal(1), "EUR"), "EUR")
    with pytest.raises(DomainError) as caught:
        check_same_currency(Money(Decimal(1), "EUR"), "USD", field=("input", "amount", "currency"))
    assert caught.value.code is UserErrorCode.VALIDATION_FAILED
    assert caught.value.field == ("input", "amount", "currency")


cents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999.99"), places=2)
exact = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False
)
currencies = st.sampled_from(["USD", "EUR", "JPY"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(cents, currencies), max_size=30))
def test_sum_by_currency_is_exact_per_currency(items: list[tuple[Decimal, str]]) -> None:
    totals = sum_by_currency(Money(amount, currency) for amount, currency in items)
    for currency in {currency for _, currency in items}:
        expected = sum((a for a, c in items if c == currency), Decimal(0))
        assert totals[currency] == expected
        assert totals[currency] == quantize_cents(totals[currency])  # sums of cents stay in cents
        assert isinstance(totals[currency], Decimal)
    assert set(totals) == {currency for _, currency in items}


@settings(max_examples=200, deadline=None)
@given(exact)
def test_quantize_is_idempotent_and_close(value: Decimal) -> None:
    rounded = quantize_cents(value)
    assert quantize_cents(rounded) == rounded
    assert abs(rounded - value) <= Decimal("0.005")
    assert rounded.as_tuple().exponent == -2


@settings(max_examples=200, deadline=None)
@given(cents, currencies)
def test_parse_round_trips_its_own_output(amount: Decimal, currency: str) -> None:
    money = parse_money(amount=str(amount), currency=currency)
    assert money.amount == amount
    assert parse_money(amount=money.amount, currency=money.currency) == money
