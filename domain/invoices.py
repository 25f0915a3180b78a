"""Invoice arithmetic: derived status, adjustments, payment application, dispute window."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.enums import AdjustmentKind, InvoiceStatus
from domain.errors import DomainError, UserErrorCode

__all__ = [
    "apply_adjustment",
    "apply_payment",
    "check_dispute_window",
    "dispute_window_error",
    "exceeds_outstanding_error",
    "invoice_status",
    "unapply_payment",
]

_REDUCING = frozenset({AdjustmentKind.CREDIT_MEMO, AdjustmentKind.WRITE_OFF})


def invoice_status(
    *, voided: bool, amount: Decimal, outstanding: Decimal, due_on: date, today: date
) -> InvoiceStatus:
    """VOID; PAID at 0 outstanding; OVERDUE past due; PARTIALLY_PAID below the amount; else OPEN."""
    if voided:
        return InvoiceStatus.VOID
    if outstanding <= 0:
        return InvoiceStatus.PAID
    if today > due_on:
        return InvoiceStatus.OVERDUE
    if outstanding < amount:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.OPEN


def exceeds_outstanding_error(
    *, amount: Decimal, outstanding: Decimal, field: tuple[str, ...] = ("input", "amount", "amount")
) -> DomainError | None:
    """AMOUNT_EXCEEDS_OUTSTANDING when `amount` is more than the invoice still owes."""
    if amount <= outstanding:
        return None
    return DomainError(
        UserErrorCode.AMOUNT_EXCEEDS_OUTSTANDING,
        f"{amount} exceeds the invoice's outstanding amount {outstanding}",
        field,
    )


def apply_adjustment(*, outstanding: Decimal, kind: AdjustmentKind, amount: Decimal) -> Decimal:
    """The new outstanding: credit memos and write-offs reduce it (never below 0), debit memos add."""
    if kind is AdjustmentKind.DEBIT_MEMO:
        return outstanding + amount
    assert kind in _REDUCING
    error = exceeds_outstanding_error(amount=amount, outstanding=outstanding)
    if error is not None:
        raise error
    return outstanding - amount


def apply_payment(*, outstanding: Decimal, amount: Decimal) -> Decimal:
    """The target invoice's outstanding after a payment is applied to it."""
    error = exceeds_outstanding_error(amount=amount, outstanding=outstanding, field=("input", "invoiceId"))
    if error is not None:
        raise error
    return outstanding - amount


def unapply_payment(*, outstanding: Decimal, amount: Decimal) -> Decimal:
    """The previous invoice's outstanding when a payment is moved away from it."""
    return outstanding + amount


def dispute_window_error(
    *, issued_on: date, today: date, window_days: int, field: tuple[str, ...] = ("input", "invoiceId")
) -> DomainError | None:
    """OUTSIDE_DISPUTE_WINDOW when the invoice was issued more than `window_days` days ago."""
    if (today - issued_on).days <= window_days:
        return None
    return DomainError(
        UserErrorCode.OUTSIDE_DISPUTE_WINDOW,
        f"the invoice was issued on {issued_on}, more than {window_days} days ago",
        field,
    )


def check_dispute_window(*, issued_on: date, today: date, window_days: int) -> None:
    """Raise `dispute_window_error` if any."""
    error = dispute_window_error(issued_on=issued_on, today=today, window_days=window_days)
    if error is not None:
        raise error
