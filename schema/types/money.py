"""Money: an exact amount (2 decimals) and its ISO-4217 currency."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import strawberry

__all__ = ["Money", "money", "optional_money"]

_CENT = Decimal("0.01")


@strawberry.type
class Money:
    amount: Decimal
    currency: str = strawberry.field(description="ISO-4217 code, e.g. USD")


def money(amount: Decimal, currency: str) -> Money:
    """Money quantized to cents (so "9850" reads "9850.00")."""
    return Money(amount=Decimal(amount).quantize(_CENT, rounding=ROUND_HALF_EVEN), currency=currency)


def optional_money(amount: Decimal | None, currency: str | None) -> Money | None:
    """Money, or None when the amount (or currency) is missing."""
    return None if amount is None or currency is None else money(amount, currency)
