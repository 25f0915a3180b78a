"""postAdjustment and applyPayment (LIFECYCLE.md §1, §4) over one unit of work.

Lock order: the service request row first, then the named approval, then
the payment, then every invoice touched in id order. With those locks held
the remaining amount of the approval and the invoices' outstanding amounts
cannot change under the checks, so an approval is consumed at most once in
total and no outstanding goes negative; the database CHECKs behind them are
the last line of defence. They know nothing of GraphQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from db.repositories.approvals import consume_approval, lock_approval
from db.repositories.configuration import exchange_rates, load_rules
from db.repositories.ledger import (
    insert_adjustment,
    invoice_audit,
    lock_invoices,
    lock_payment,
    set_invoice_outstanding,
    set_payment_invoice,
)
from db.repositories.policies import policy_by_id
from db.repositories.requests import lock_request
from db.uow import UnitOfWork
from domain.approvals import (
    PAYMENT_APPLICATION_KIND,
    ConsumableApproval,
    approval_kind_for_adjustment,
    needs_approval_for_posting,
    posting_approval_errors,
)
from domain.calendar import utc_date
from domain.capture import MoneyInput, parse_amount
from domain.enums import (
    AdjustmentKind,
    ApprovalKind,
    ApprovalStatus,
    PaymentStatus,
    RequestEventKind,
    RequestStatus,
)
from domain.errors import DomainError, UserErrorCode, first_error, not_found
from domain.invoices import apply_adjustment, apply_payment, exceeds_outstanding_error, unapply_payment
from domain.money import Money, to_usd
from domain.rules import Rules
from records.rows import AdjustmentRow, ApprovalRow, InvoiceRow, PaymentRow, RequestRow
from services.author import Author
from services.requests.change import RequestChange

__all__ = ["AdjustmentSpec", "PaymentSpec", "apply_payment_to_invoice", "post_adjustment", "posting_errors"]

_INVALID = UserErrorCode.VALIDATION_FAILED
_REDUCING = frozenset({AdjustmentKind.CREDIT_MEMO, AdjustmentKind.WRITE_OFF})


@dataclass(frozen=True, slots=True)
class AdjustmentSpec:
    """postAdjustment's input with ids decoded."""

    request_id: int
    invoice_id: int
    kind: AdjustmentKind
    amount: MoneyInput
    approval_id: int | None


@dataclass(frozen=True, slots=True)
class PaymentSpec:
    """applyPayment's input with ids decoded (invoice None: leave the payment UNAPPLIED)."""

    request_id: int
    payment_id: int
    invoice_id: int | None
    approval_id: int | None


def posting_errors(row: RequestRow, author: Author) -> list[DomainError]:
    """Who and when for postings: an IN_PROGRESS request, by its assignee, a supervisor or finance."""
    invalid = UserErrorCode.INVALID_TRANSITION
    errors = []
    if row.status != RequestStatus.IN_PROGRESS.value:
        errors.append(DomainError(invalid, f"postings need an IN_PROGRESS request; it is {row.status}"))
    actor = author.actor
    if not actor.is_supervisor and not actor.is_assignee(row.lifecycle_facts(has_pending_approval=False)):
        errors.append(
            DomainError(invalid, "only the assignee, a supervisor or finance may post on this request")
        )
    return errors


@dataclass
class _Locked:
    """What a posting locked, in lock order."""

    row: RequestRow
    approval: ApprovalRow | None
    rules: Rules
    rates: dict[str, Decimal]


async def _lock_start(uow: UnitOfWork, request_id: int, approval_id: int | None, author: Author) -> _Locked:
    session = uow.session
    row = await lock_request(session, request_id=request_id, scope=author.scope)
    if row is None:
        raise not_found("service request", "serviceRequestId")
    approval = None
    if approval_id is not None:
        approval = await lock_approval(session, approval_id=approval_id)
        if approval is None:
            raise not_found("approval", "approvalId")
    return _Locked(row, approval, await load_rules(session), await exchange_rates(session))


def _consumable(approval: ApprovalRow | None) -> ConsumableApproval | None:
    if approval is None:
        return None
    amount = (
        None
        if approval.amount is None or approval.currency is None
        else Money(approval.amount, approval.currency)
    )
    return ConsumableApproval(
        request_id=approval.request_id,
        kind=ApprovalKind(approval.kind),
        status=ApprovalStatus(approval.status),
        amount=amount,
        consumed=approval.consumed_amount,
    )


def _approval_errors(locked: _Locked, kind: ApprovalKind, money: Money) -> tuple[list[DomainError], bool]:
    """(APPROVAL_REQUIRED errors, whether the named approval backs this posting)."""
    try:
        amount_usd = to_usd(money, locked.rates)
    except DomainError as error:
        return [error], False
    matrix = locked.rules.approval_matrix
    errors = posting_approval_errors(
        request_id=locked.row.id,
        kind=kind,
        amount=money,
        amount_usd=amount_usd,
        approval=_consumable(locked.approval),
        rules=matrix,
    )
    # Within the own limit the posting needs no approval and consumes none, even when one is named.
    return errors, needs_approval_for_posting(kind=kind, amount_usd=amount_usd, rules=matrix)


async def _consume(uow: UnitOfWork, approval: ApprovalRow, amount: Decimal, action: str) -> None:
    after = await consume_approval(uow.session, approval_id=approval.id, amount=amount)
    uow.audit(
        action,
        "Approval",
        approval.id,
        {"consumedAmount": approval.consumed_amount},
        {"consumedAmount": after.consumed_amount},
    )


async def _set_outstanding(uow: UnitOfWork, invoice: InvoiceRow, outstanding: Decimal, action: str) -> None:
    today = utc_date(uow.now)
    after = await set_invoice_outstanding(uow.session, invoice_id=invoice.id, outstanding=outstanding)
    uow.audit(
        action,
        "Invoice",
        invoice.id,
        invoice_audit(invoice, today=today),
        invoice_audit(after, today=today),
    )


async def _save(
    uow: UnitOfWork, locked: _Locked, author: Author, action: str, event: dict[str, Any]
) -> RequestRow:
    """The request's side of a posting: version + 1, its event, its audit entry."""
    policy = await policy_by_id(uow.session, policy_id=locked.row.sla_policy_id)
    change = RequestChange(uow, locked.row, policy=policy, author=author, action=action)
    change.event(**event)
    return await change.save()


# ------------------------------------------------------------ postAdjustment ----


def _adjustment_errors(
    spec: AdjustmentSpec, locked: _Locked, invoice: InvoiceRow, author: Author
) -> list[DomainError]:
    errors = posting_errors(locked.row, author)
    money = parse_amount(spec.amount, errors)
    if invoice.customer_id != locked.row.customer_id:
        errors.append(
            DomainError(_INVALID, "the invoice is not the request's customer's", ("input", "invoiceId"))
        )
    if invoice.voided:
        errors.append(DomainError(_INVALID, "the invoice is void", ("input", "invoiceId")))
    if money is None:
        return errors
    if money.currency != invoice.currency:
        errors.append(
            DomainError(
                _INVALID,
                f"currency {money.currency} does not match the invoice's {invoice.currency}",
                ("input", "amount", "currency"),
            )
        )
        return errors
    if spec.kind in _REDUCING:
        exceeded = exceeds_outstanding_error(amount=money.amount, outstanding=invoice.outstanding)
        if exceeded is not None:
            errors.append(exceeded)
    approval_errors, _ = _approval_errors(locked, approval_kind_for_adjustment(spec.kind), money)
    return errors + approval_errors


async def post_adjustment(
    uow: UnitOfWork, *, spec: AdjustmentSpec, author: Author
) -> tuple[AdjustmentRow, RequestRow]:
    """A credit memo, debit memo or write-off on an invoice of the request's customer; the invoice's
    outstanding and the approval's consumed amount change in the same transaction."""
    session, action = uow.session, "POST_ADJUSTMENT"
    locked = await _lock_start(uow, spec.request_id, spec.approval_id, author)
    invoice = (await lock_invoices(session, invoice_ids=[spec.invoice_id])).get(spec.invoice_id)
    if invoice is None:
        raise not_found("invoice", "invoiceId")
    error = first_error(_adjustment_errors(spec, locked, invoice, author))
    if error is not None:
        raise error

    money = parse_amount(spec.amount, [])
    assert money is not None  # validated above
    _, backed = _approval_errors(locked, approval_kind_for_adjustment(spec.kind), money)
    approval = locked.approval if backed else None
    if approval is not None:
        await _consume(uow, approval, money.amount, action)
    outstanding = apply_adjustment(outstanding=invoice.outstanding, kind=spec.kind, amount=money.amount)
    await _set_outstanding(uow, invoice, outstanding, action)
    adjustment = await insert_adjustment(
        session,
        values={
            "kind": spec.kind.value,
            "invoice_id": invoice.id,
            "request_id": locked.row.id,
            "amount": money.amount,
            "currency": money.currency,
            "approval_id": None if approval is None else approval.id,
            "posted_at": uow.now,
            "posted_by_id": author.staff_id,
        },
    )
    uow.audit(
        action,
        "Adjustment",
        adjustment.id,
        None,
        {
            "kind": adjustment.kind,
            "invoiceId": adjustment.invoice_id,
            "requestId": adjustment.request_id,
            "amount": adjustment.amount,
            "currency": adjustment.currency,
            "approvalId": adjustment.approval_id,
            "postedById": adjustment.posted_by_id,
        },
    )
    event = {
        "kind": RequestEventKind.ADJUSTMENT_POSTED,
        "approval_id": adjustment.approval_id,
        "details": {
            "adjustmentId": adjustment.id,
            "invoiceId": invoice.id,
            "adjustmentKind": spec.kind.value,
            "amount": str(money.amount),
            "currency": money.currency,
        },
    }
    return adjustment, await _save(uow, locked, author, action, event)


# -------------------------------------------------------------- applyPayment ----


def _payment_errors(
    spec: PaymentSpec, locked: _Locked, payment: PaymentRow, target: InvoiceRow | None, author: Author
) -> list[DomainError]:
    errors = posting_errors(locked.row, author)
    customer_id = locked.row.customer_id
    if payment.customer_id != customer_id:
        errors.append(
            DomainError(_INVALID, "the payment is not the request's customer's", ("input", "paymentId"))
        )
    if payment.status == PaymentStatus.REVERSED.value:
        errors.append(DomainError(_INVALID, "a reversed payment cannot be applied", ("input", "paymentId")))
    current = payment.invoice_id if payment.status == PaymentStatus.POSTED.value else None
    if current == spec.invoice_id and payment.status != PaymentStatus.REVERSED.value:
        where = "to this invoice" if current is not None else "unapplied"
        errors.append(DomainError(_INVALID, f"the payment is already {where}", ("input", "invoiceId")))
        return errors
    if target is None:
        return errors + _approval_errors(locked, PAYMENT_APPLICATION_KIND, _money(payment))[0]
    field = ("input", "invoiceId")
    if target.customer_id != customer_id:
        errors.append(DomainError(_INVALID, "the invoice is not the request's customer's", field))
    if target.voided:
        errors.append(DomainError(_INVALID, "the invoice is void", field))
    if target.currency != payment.currency:
        errors.append(
            DomainError(
                _INVALID, f"the payment is in {payment.currency}, the invoice in {target.currency}", field
            )
        )
        return errors
    exceeded = exceeds_outstanding_error(amount=payment.amount, outstanding=target.outstanding, field=field)
    if exceeded is not None:
        errors.append(exceeded)
    return errors + _approval_errors(locked, PAYMENT_APPLICATION_KIND, _money(payment))[0]


def _money(payment: PaymentRow) -> Money:
    return Money(payment.amount, payment.currency)


async def apply_payment_to_invoice(
    uow: UnitOfWork, *, spec: PaymentSpec, author: Author
) -> tuple[PaymentRow, RequestRow]:
    """Link the payment to the target invoice (POSTED) or to none (UNAPPLIED); the previous and the
    new invoice's outstanding amounts are recomputed in the same transaction."""
    session, action = uow.session, "APPLY_PAYMENT"
    locked = await _lock_start(uow, spec.request_id, spec.approval_id, author)
    payment = await lock_payment(session, payment_id=spec.payment_id)
    if payment is None:
        raise not_found("payment", "paymentId")
    previous_id = payment.invoice_id if payment.status == PaymentStatus.POSTED.value else None
    touched = [i for i in (previous_id, spec.invoice_id) if i is not None]
    invoices = await lock_invoices(session, invoice_ids=touched)
    target = None
    if spec.invoice_id is not None:
        target = invoices.get(spec.invoice_id)
        if target is None:
            raise not_found("invoice", "invoiceId")
    error = first_error(_payment_errors(spec, locked, payment, target, author))
    if error is not None:
        raise error

    _, backed = _approval_errors(locked, PAYMENT_APPLICATION_KIND, _money(payment))
    if backed and locked.approval is not None:
        await _consume(uow, locked.approval, payment.amount, action)
    if previous_id is not None:
        previous = invoices[previous_id]
        await _set_outstanding(
            uow, previous, unapply_payment(outstanding=previous.outstanding, amount=payment.amount), action
        )
    if target is not None:
        await _set_outstanding(
            uow, target, apply_payment(outstanding=target.outstanding, amount=payment.amount), action
        )
    status = PaymentStatus.POSTED if target is not None else PaymentStatus.UNAPPLIED
    written = await set_payment_invoice(
        session, payment_id=payment.id, invoice_id=spec.invoice_id, status=status.value
    )
    uow.audit(
        action,
        "Payment",
        payment.id,
        {"invoiceId": payment.invoice_id, "status": payment.status},
        {"invoiceId": written.invoice_id, "status": written.status},
    )
    event = {
        "kind": RequestEventKind.PAYMENT_APPLIED,
        "approval_id": locked.approval.id if backed and locked.approval is not None else None,
        "details": {
            "paymentId": payment.id,
            "fromInvoiceId": previous_id,
            "toInvoiceId": spec.invoice_id,
            "amount": str(payment.amount),
            "currency": payment.currency,
        },
    }
    return written, await _save(uow, locked, author, action, event)
