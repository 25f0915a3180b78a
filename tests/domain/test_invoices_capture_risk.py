"""Invoice status and postings, capture validation, financial health."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.capture import InvoiceFacts, MoneyInput, PaymentFacts, capture_errors
from domain.enums import AdjustmentKind, InvoiceStatus, KycStatus, RequestType, RiskRating
from domain.errors import DomainError, UserErrorCode, first_error
from domain.invoices import (
    apply_adjustment,
    apply_payment,
    check_dispute_window,
    invoice_status,
    unapply_payment,
)
from domain.risk import current_ratio, dscr, effective_risk, financial_health, rating_for_dscr, worse

TODAY = date(2026, 11, 23)
D = Decimal


@pytest.mark.parametrize(
    ("voided", "outstanding", "due_on", "expected"),
    [
        (True, "0", TODAY, InvoiceStatus.VOID),
        (False, "0", date(2026, 1, 1), InvoiceStatus.PAID),
        (False, "100", date(2026, 11, 22), InvoiceStatus.OVERDUE),
        (False, "40", date(2026, 11, 22), InvoiceStatus.OVERDUE),
        (False, "40", TODAY, InvoiceStatus.PARTIALLY_PAID),
        (False, "100", TODAY, InvoiceStatus.OPEN),
        (False, "150", TODAY, InvoiceStatus.OPEN),  # a debit memo raised it
    ],
)
def test_invoice_status(voided: bool, outstanding: str, due_on: date, expected: InvoiceStatus) -> None:
    status = invoice_status(
        voided=voided, amount=D("100"), outstanding=D(outstanding), due_on=due_on, today=TODAY
    )
    assert status is expected


def test_adjustments_and_payments() -> None:
    assert apply_adjustment(outstanding=D("100.00"), kind=AdjustmentKind.CREDIT_MEMO, amount=D("100.00")) == 0
    assert apply_adjustment(outstanding=D("100.00"), kind=AdjustmentKind.WRITE_OFF, amount=D("30.00")) == D(
        "70.00"
    )
    assert apply_adjustment(outstanding=D("0"), kind=AdjustmentKind.DEBIT_MEMO, amount=D("30.00")) == D(
        "30.00"
    )
    for kind in (AdjustmentKind.CREDIT_MEMO, AdjustmentKind.WRITE_OFF):
        with pytest.raises(DomainError) as caught:
            apply_adjustment(outstanding=D("100.00"), kind=kind, amount=D("100.01"))
        assert caught.value.code is UserErrorCode.AMOUNT_EXCEEDS_OUTSTANDING
    assert apply_payment(outstanding=D("100.00"), amount=D("40.00")) == D("60.00")
    with pytest.raises(DomainError):
        apply_payment(outstanding=D("10.00"), amount=D("40.00"))
    assert unapply_payment(outstanding=D("10.00"), amount=D("40.00")) == D("50.00")


def test_dispute_window() -> None:
    check_dispute_window(issued_on=date(2026, 8, 25), today=TODAY, window_days=90)
    with pytest.raises(DomainError) as caught:
        check_dispute_window(issued_on=date(2026, 8, 24), today=TODAY, window_days=90)
    assert caught.value.code is UserErrorCode.OUTSIDE_DISPUTE_WINDOW


INVOICE = InvoiceFacts(customer_id=1, currency="EUR", outstanding=D("500.00"), issued_on=date(2026, 11, 1))


def capture(**overrides: object) -> list[DomainError]:
    args: dict[str, object] = {
        "customer_id": 1,
        "request_type": RequestType.BILLING_DISPUTE,
        "subject": "Wrong amount",
        "description": "Invoice INV-1 charges twice.",
        "financial_impact": MoneyInput(D("120.00"), "EUR"),
        "invoice_id": 11,
        "invoice": INVOICE,
        "payment_id": None,
        "payment": None,
        "kyc_status": KycStatus.VERIFIED,
        "dispute_window_days": None,
        "today": TODAY,
    }
    args.update(overrides)
    return capture_errors(**args)  # type: ignore[arg-type]


def fields(errors: list[DomainError]) -> set[tuple[UserErrorCode, tuple[str, ...] | None]]:
    return {(e.code, e.field) for e in errors}


def test_valid_capture() -> None:
    assert capture() == []
    assert (
        capture(
            request_type=RequestType.GENERAL_INQUIRY, invoice_id=None, invoice=None, financial_impact=None
        )
        == []
    )


def test_capture_text_rules() -> None:
    v = UserErrorCode.VALIDATION_FAILED
    assert fields(capture(subject="")) == {(v, ("input", "subject"))}
    assert fields(capture(subject="   ")) == {(v, ("input", "subject"))}
    assert capture(subject="x" * 200) == []
    assert fields(capture(subject="x" * 201, description="y" * 10_001)) == {
        (v, ("input", "subject")),
        (v, ("input", "description")),
    }


def test_capture_dispute_rules() -> None:
    v = UserErrorCode.VALIDATION_FAILED
    assert fields(capture(invoice_id=None, invoice=None)) == {(v, ("input", "invoiceId"))}
    assert fields(capture(financial_impact=None)) == {(v, ("input", "financialImpact"))}
    assert fields(capture(financial_impact=MoneyInput("1.001", "EUR"))) == {
        (v, ("input", "financialImpact", "amount"))
    }
    assert fields(capture(financial_impact=MoneyInput("1.00", "USD"))) == {
        (v, ("input", "financialImpact", "currency"))
    }
    assert fields(capture(invoice=InvoiceFacts(2, "EUR", D("500"), TODAY))) == {(v, ("input", "invoiceId"))}
    over = capture(financial_impact=MoneyInput("500.01", "EUR"))
    assert fields(over) == {
        (UserErrorCode.AMOUNT_EXCEEDS_OUTSTANDING, ("input", "financialImpact", "amount"))
    }
    old = InvoiceFacts(1, "EUR", D("500"), date(2026, 8, 1))  # 114 days ago
    outside = {(UserErrorCode.OUTSIDE_DISPUTE_WINDOW, ("input", "invoiceId"))}
    assert fields(capture(invoice=old)) == outside == fields(capture(invoice=old, dispute_window_days=113))
    assert capture(invoice=old, dispute_window_days=114) == []
    errors = capture(invoice=old, financial_impact=MoneyInput("600.00", "EUR"), subject="")
    error = first_error(errors)
    assert error is not None and error.code is v  # VALIDATION_FAILED outranks the others


def test_capture_payment_and_kyc() -> None:
    v = UserErrorCode.VALIDATION_FAILED
    posting = {
        "request_type": RequestType.PAYMENT_POSTING,
        "invoice_id": None,
        "invoice": None,
        "financial_impact": None,
    }
    assert fields(capture(**posting)) == {(v, ("input", "paymentId"))}
    assert capture(**posting, payment_id=5, payment=PaymentFacts(customer_id=1)) == []
    assert fields(capture(**posting, payment_id=5, payment=PaymentFacts(customer_id=2))) == {
        (v, ("input", "paymentId"))
    }
    credit = {"request_type": RequestType.CREDIT_LIMIT_CHANGE, "invoice_id": None, "invoice": None}
    assert capture(**credit) == []
    for status in (KycStatus.PENDING, KycStatus.EXPIRED, KycStatus.REJECTED):
        assert fields(capture(**credit, kyc_status=status)) == {
            (UserErrorCode.KYC_NOT_VERIFIED, ("input", "type"))
        }


@pytest.mark.parametrize(
    ("noi", "expected"),
    [
        ("200", RiskRating.LOW),
        ("199.99", RiskRating.MEDIUM),
        ("125", RiskRating.MEDIUM),
        ("124.99", RiskRating.HIGH),
        ("100", RiskRating.HIGH),
        ("99.99", RiskRating.CRITICAL),
        ("-5", RiskRating.CRITICAL),
    ],
)
def test_dscr_rating(noi: str, expected: RiskRating) -> None:
    assert rating_for_dscr(dscr(net_operating_income=D(noi), total_debt_service=D("100"))) is expected


def test_financial_health() -> None:
    health = financial_health(
        net_operating_income=D("1200000.00"),
        total_debt_service=D("800000.00"),
        current_assets=D("900000.00"),
        current_liabilities=D("600000.00"),
    )
    assert (health.dscr, health.current_ratio, health.rating) == (D("1.5"), D("1.5"), RiskRating.MEDIUM)
    assert current_ratio(current_assets=D(1), current_liabilities=D(0)) is None
    assert current_ratio(current_assets=None, current_liabilities=D(5)) is None
    with pytest.raises(ValueError):
        dscr(net_operating_income=D(1), total_debt_service=D(0))


def test_worse() -> None:
    assert worse(RiskRating.LOW, RiskRating.HIGH) is RiskRating.HIGH
    assert worse(RiskRating.CRITICAL, RiskRating.MEDIUM) is RiskRating.CRITICAL
    assert effective_risk(RiskRating.MEDIUM, None) is RiskRating.MEDIUM
    assert effective_risk(RiskRating.MEDIUM, RiskRating.CRITICAL) is RiskRating.CRITICAL
