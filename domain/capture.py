"""Validation of a new service request (LIFECYCLE.md §2) over plain facts.

The service loads the facts (customer, invoice, payment, contract) and asks
`capture_errors`; it reports `first_error` of the list. Visibility of the
customer (NOT_FOUND) and idempotency (DUPLICATE) need the database and stay
with the service (services.requests.create).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.enums import KycStatus, RequestType
from domain.errors import DomainError, UserErrorCode
from domain.invoices import dispute_window_error, exceeds_outstanding_error
from domain.money import Money, parse_money
from domain.rules import DEFAULT_RULES, LifecycleRules

__all__ = [
    "DISPUTE_TYPES",
    "KYC_GUARDED_TYPES",
    "SUBJECT_MAX",
    "TEXT_MAX",
    "InvoiceFacts",
    "MoneyInput",
    "PaymentFacts",
    "capture_errors",
    "parse_amount",
    "text_error",
]

DISPUTE_TYPES = frozenset({RequestType.BILLING_DISPUTE, RequestType.INVOICE_CORRECTION})
KYC_GUARDED_TYPES = frozenset(
    {RequestType.CREDIT_LIMIT_CHANGE, RequestType.LETTER_OF_CREDIT, RequestType.DEBT_RESTRUCTURING}
)
SUBJECT_MAX = 200
TEXT_MAX = 10_000
_INVALID = UserErrorCode.VALIDATION_FAILED


@dataclass(frozen=True, slots=True)
class MoneyInput:
    """An amount as the caller sent it (not validated yet)."""

    amount: Decimal | str
    currency: str


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    customer_id: int
    currency: str
    outstanding: Decimal
    issued_on: date


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    customer_id: int


def text_error(value: str, *, maximum: int, field: tuple[str, ...]) -> DomainError | None:
    """VALIDATION_FAILED unless `value` has 1..maximum characters and is not blank."""
    if not value.strip() or len(value) > maximum:
        return DomainError(_INVALID, f"{field[-1]} must be 1 to {maximum} characters", field)
    if "\x00" in value:
        return DomainError(_INVALID, f"{field[-1]} must not contain a NUL character", field)
    return None


def parse_amount(amount: MoneyInput | None, errors: list[DomainError]) -> Money | None:
    """The validated `input.amount`, or None (its VALIDATION_FAILED appended to `errors`)."""
    if amount is None:
        return None
    try:
        return parse_money(amount=amount.amount, currency=amount.currency, field=("input", "amount"))
    except DomainError as error:
        errors.append(error)
        return None


def capture_errors(
    *,
    customer_id: int,
    request_type: RequestType,
    subject: str,
    description: str,
    financial_impact: MoneyInput | None,
    invoice_id: int | None,
    invoice: InvoiceFacts | None,
    payment_id: int | None,
    payment: PaymentFacts | None,
    kyc_status: KycStatus,
    dispute_window_days: int | None,
    today: date,
    rules: LifecycleRules = DEFAULT_RULES.lifecycle,
) -> list[DomainError]:
    """Every capture rule the input breaks. `invoice`/`payment` are the loaded rows of
    `invoice_id`/`payment_id` (None when not found); `dispute_window_days` is the contract's
    (None without a contract: the default window)."""
    errors = [
        text_error(subject, maximum=SUBJECT_MAX, field=("input", "subject")),
        text_error(description, maximum=TEXT_MAX, field=("input", "description")),
    ]
    impact: Money | None = None
    if financial_impact is not None:
        try:
            impact = parse_money(
                amount=financial_impact.amount,
                currency=financial_impact.currency,
                field=("input", "financialImpact"),
            )
        except DomainError as error:
            errors.append(error)
    if invoice_id is not None and (invoice is None or invoice.customer_id != customer_id):
        errors.append(
            DomainError(_INVALID, "the invoice does not belong to the customer", ("input", "invoiceId"))
        )
        invoice = None
    if payment_id is not None and (payment is None or payment.customer_id != customer_id):
        errors.append(
            DomainError(_INVALID, "the payment does not belong to the customer", ("input", "paymentId"))
        )
    if request_type in DISPUTE_TYPES:
        errors.extend(_dispute_errors(request_type, invoice_id, invoice, financial_impact, impact))
        if invoice is not None:
            window = rules.default_dispute_window_days if dispute_window_days is None else dispute_window_days
            errors.append(dispute_window_error(issued_on=invoice.issued_on, today=today, window_days=window))
    if request_type is RequestType.PAYMENT_POSTING and payment_id is None:
        errors.append(DomainError(_INVALID, "a payment posting needs paymentId", ("input", "paymentId")))
    if request_type in KYC_GUARDED_TYPES and kyc_status is not KycStatus.VERIFIED:
        errors.append(
            DomainError(
                UserErrorCode.KYC_NOT_VERIFIED,
                f"{request_type} needs a KYC-verified customer (KYC is {kyc_status})",
                ("input", "type"),
            )
        )
    return [error for error in errors if error is not None]


def _dispute_errors(
    request_type: RequestType,
    invoice_id: int | None,
    invoice: InvoiceFacts | None,
    raw_impact: MoneyInput | None,
    impact: Money | None,
) -> list[DomainError | None]:
    errors: list[DomainError | None] = []
    if invoice_id is None:
        errors.append(DomainError(_INVALID, f"{request_type} needs invoiceId", ("input", "invoiceId")))
    if raw_impact is None:
        errors.append(
            DomainError(
                _INVALID, f"{request_type} needs a positive financialImpact", ("input", "financialImpact")
            )
        )
    if impact is not None and invoice is not None:
        if impact.currency != invoice.currency:
            errors.append(
                DomainError(
                    _INVALID,
                    f"financialImpact must be in the invoice's currency {invoice.currency}",
                    ("input", "financialImpact", "currency"),
                )
            )
        else:
            errors.append(
                exceeds_outstanding_error(
                    amount=impact.amount,
                    outstanding=invoice.outstanding,
                    field=("input", "financialImpact", "amount"),
                )
            )
    return errors
