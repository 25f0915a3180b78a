"""Money: exact decimals, ISO-4217 currencies, banker's rounding, USD conversion.

Floats never enter: every constructor refuses them, because a float amount
has already lost cents before any rule could look at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from domain.errors import DomainError, UserErrorCode

__all__ = [
    "CENT",
    "ISO_4217_CODES",
    "Money",
    "check_same_currency",
    "is_currency",
    "parse_money",
    "quantize_cents",
    "sum_by_currency",
    "to_usd",
]

CENT = Decimal("0.01")
# Stored amounts are NUMERIC(18,2): 16 digits before the point.
MAX_INTEGER_DIGITS = 16

# Active ISO-4217 codes (currencies and fund codes; list of 2026). Precious
# metals, bond units and the XTS/XXX placeholders are left out: they are not
# amounts a customer is invoiced in. Withdrawn codes (HRK, ANG, ZWL, SLL,
# CUC) are refused.
_CODES_TEXT = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV
    BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE
    CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
    HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP
    SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED
    VES VND VUV WST XAF XCD XCG XDR XOF XPF XSU XUA YER ZAR ZMW ZWG
"""
ISO_4217_CODES: frozenset[str] = frozenset(_CODES_TEXT.split())


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency (no validation beyond type: see `parse_money`)."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money amount must be a Decimal, not {type(self.amount).__name__}")


def is_currency(code: str) -> bool:
    """True for an active ISO-4217 code (upper case, as stored)."""
    return code in ISO_4217_CODES


def quantize_cents(amount: Decimal) -> Decimal:
    """Round to cents, half to even (the rounding of computed amounts such as conversions)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"expected a Decimal, not {type(amount).__name__}")
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def parse_money(
    *, amount: Decimal | str | int, currency: str, field: tuple[str, ...] = ("input", "amount")
) -> Money:
    """Validate an input amount: positive, at most 2 decimals, currency an ISO-4217 code.

    `field` is the MoneyInput's path; errors point at its `amount` or
    `currency` member. Raises DomainError(VALIDATION_FAILED).
    """
    if isinstance(amount, float | bool):
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED, "amount must be an exact decimal", (*field, "amount")
        )
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError):
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED, f"amount {amount!r} is not a decimal number", (*field, "amount")
        ) from None
    if not value.is_finite() or value <= 0:
        raise DomainError(UserErrorCode.VALIDATION_FAILED, "amount must be positive", (*field, "amount"))
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED,
            f"amount must be below 10^{MAX_INTEGER_DIGITS}",
            (*field, "amount"),
        )
    if value != value.quantize(CENT, rounding=ROUND_HALF_EVEN):
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED, "amount must have at most 2 decimals", (*field, "amount")
        )
    if not is_currency(currency):
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED,
            f"currency {currency!r} is not an ISO-4217 code",
            (*field, "currency"),
        )
    # Stored amounts are NUMERIC(18,2): carry exactly two places from here on.
    return Money(value.quantize(CENT), currency)


def check_same_currency(
    money: Money, expected_currency: str, *, field: tuple[str, ...] = ("input", "amount", "currency")
) -> None:
    """Raise VALIDATION_FAILED when `money` is not in `expected_currency` (e.g. the invoice's)."""
    if money.currency != expected_currency:
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED,
            f"currency {money.currency} does not match {expected_currency}",
            field,
        )


def to_usd(money: Money, rates: Mapping[str, Decimal]) -> Decimal:
    """The amount in USD, rounded to cents; `rates` maps a currency to USD per unit.

    A currency without a configured rate cannot be compared against the
    approval matrix or priority thresholds: VALIDATION_FAILED.
    """
    if money.currency == "USD":
        return quantize_cents(money.amount)
    rate = rates.get(money.currency)
    if rate is None:
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED,
            f"no exchange rate configured for {money.currency}",
            ("input", "amount", "currency"),
        )
    if not isinstance(rate, Decimal):
        raise TypeError(f"exchange rate for {money.currency} must be a Decimal")
    return quantize_cents(money.amount * rate)


def sum_by_currency(items: Iterable[Money]) -> dict[str, Decimal]:
    """Totals per currency (never adds across currencies), in first-seen order."""
    totals: dict[str, Decimal] = {}
    for item in items:
        totals[item.currency] = totals.get(item.currency, Decimal(0)) + item.amount
    return totals
