"""createServiceRequest (LIFECYCLE.md §1, §2, §3, §5) over one unit of work.

Idempotency: retries carrying the same key from the same token subject are
serialized by a transaction-scoped advisory lock on (subject, key), so a
concurrent retry waits for the first to commit and then finds its key row;
the (subject, key) primary key is the backstop. Same key with the same input
answers the first request; with another input, DUPLICATE.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from db.repositories.customers import capture_context
from db.repositories.idempotency import find_idempotent_request, lock_idempotency_key, save_idempotency_key
from db.repositories.ledger import set_invoice_disputed
from db.repositories.policies import policy_for
from db.repositories.requests import insert_request, lock_request
from db.uow import UnitOfWork
from domain.calendar import utc_date
from domain.capture import MoneyInput, capture_errors
from domain.enums import Channel, KycStatus, Priority, RequestEventKind, RequestStatus, RequestType, Role
from domain.errors import DomainError, UserErrorCode, first_error, not_found
from domain.money import Money, parse_money, to_usd
from domain.routing import derive_priority
from domain.sla import SlaSnapshot, initial_due_times, next_check_at
from records.rows import RequestRow
from services.author import Author
from services.requests.routing import route

__all__ = ["CreateSpec", "Created", "create_request"]

IDEMPOTENCY_KEY_MAX = 200  # idempotency_keys.key


@dataclass(frozen=True, slots=True)
class CreateSpec:
    """The create input with ids decoded (an id no row has fails like an unknown one: NOT_FOUND)."""

    customer_id: int | None
    type: RequestType
    channel: Channel
    subject: str
    description: str
    priority: Priority | None  # only honoured for staff callers
    invoice_id: int | None
    payment_id: int | None
    financial_impact: MoneyInput | None
    idempotency_key: str | None = None
    # The channel's facts (the mail channel's): the requester contact and the mailbox it came
    # through. Without a requester, a CUSTOMER author who is a contact of the customer is it.
    requester_contact_id: int | None = None
    mailbox_id: int | None = None

    def input_hash(self) -> str:
        """What makes two retries "the same input" (everything the caller gave but the key)."""
        data = asdict(self)
        for name in ("idempotency_key", "requester_contact_id", "mailbox_id"):
            data.pop(name)
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Created:
    row: RequestRow
    replayed: bool  # an earlier request returned for the same idempotency key


async def create_request(uow: UnitOfWork, *, spec: CreateSpec, author: Author) -> Created:
    """Validate, derive, route and insert a request; raises DomainError (the caller rolls back)."""
    session = uow.session
    duplicate: DomainError | None = None
    if spec.idempotency_key is not None and not 0 < len(spec.idempotency_key) <= IDEMPOTENCY_KEY_MAX:
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED,
            f"idempotencyKey must be 1 to {IDEMPOTENCY_KEY_MAX} characters",
            ("input", "idempotencyKey"),
        )
    if spec.idempotency_key is not None:
        await lock_idempotency_key(session, subject=author.subject, key=spec.idempotency_key)
        earlier = await find_idempotent_request(session, subject=author.subject, key=spec.idempotency_key)
        if earlier is not None:
            request_id, input_hash = earlier
            if input_hash == spec.input_hash():
                row = await lock_request(session, request_id=request_id)
                assert row is not None
                return Created(row, replayed=True)
            duplicate = DomainError(
                UserErrorCode.DUPLICATE,
                "this idempotencyKey was already used with a different input",
                ("input", "idempotencyKey"),
            )
    if spec.customer_id is None:
        raise DomainError(UserErrorCode.VALIDATION_FAILED, "customerId is required", ("input", "customerId"))
    today = utc_date(uow.now)
    # Rules, customer, contract, risk, invoice, payment and rates: one round trip.
    context = await capture_context(
        session,
        customer_id=spec.customer_id,
        invoice_id=spec.invoice_id,
        payment_id=spec.payment_id,
        today=today,
        scope=author.scope,
    )
    if context is None:
        raise not_found("customer", "customerId")
    rules, customer, invoice, payment = context.rules, context.customer, context.invoice, context.payment
    errors = capture_errors(
        customer_id=spec.customer_id,
        request_type=spec.type,
        subject=spec.subject,
        description=spec.description,
        financial_impact=spec.financial_impact,
        invoice_id=spec.invoice_id,
        invoice=invoice,
        payment_id=spec.payment_id,
        payment=payment,
        kyc_status=KycStatus(customer.customer.kyc_status),
        dispute_window_days=customer.dispute_window_days,
        today=today,
        rules=rules.lifecycle,
    )
    impact, impact_usd = _impact(spec, errors, context.rates)
    error = first_error([*errors, duplicate])
    if error is not None:
        raise error

    staff_choice = spec.priority if author.staff_id is not None else None
    derived = derive_priority(
        request_type=spec.type,
        impact_usd=impact_usd,
        tier=customer.tier,
        risk=customer.risk,
        rules=rules.routing,
    )
    priority = staff_choice or derived.priority
    policy = await policy_for(session, tier=customer.tier, priority=priority)
    due = initial_due_times(policy=policy.policy, start=uow.now)
    routed = await route(
        uow, request_type=spec.type, impact=impact_usd, risk=customer.risk, escalated=False, rules=rules
    )
    snapshot = SlaSnapshot(RequestStatus.NEW, policy.policy, due.first_response_due_at, due.resolution_due_at)
    values: dict[str, Any] = {
        "customer_id": spec.customer_id,
        "type": spec.type.value,
        "channel": spec.channel.value,
        "subject": spec.subject,
        "description": spec.description,
        "priority": priority.value,
        "status": RequestStatus.NEW.value,
        "financial_impact_amount": None if impact is None else impact.amount,
        "financial_impact_currency": None if impact is None else impact.currency,
        "invoice_id": spec.invoice_id,
        "payment_id": spec.payment_id,
        "team_id": routed.team_id,
        "assignee_id": routed.assignee_id,
        "created_by_subject": author.subject,
        "sla_policy_id": policy.id,
        "first_response_due_at": due.first_response_due_at,
        "resolution_due_at": due.resolution_due_at,
        "next_sla_check_at": next_check_at(snapshot, frozenset()),
        "created_at": uow.now,
        "updated_at": uow.now,
    }
    channel_values = {"mailbox_id": spec.mailbox_id}
    of_subject = None
    if spec.requester_contact_id is not None:
        channel_values["requester_contact_id"] = spec.requester_contact_id
    elif author.role is Role.CUSTOMER:
        # EMAIL.md: a portal user who is a contact of the customer is the request's requester.
        of_subject = author.subject
    row = await insert_request(session, values={**values, **channel_values}, requester_of_subject=of_subject)
    uow.audit(
        "CREATE", "ServiceRequest", row.id, None, {**values, "number": row.number, "version": row.version}
    )
    disputed_invoice = spec.invoice_id if spec.type is RequestType.BILLING_DISPUTE else None
    if disputed_invoice is not None and await set_invoice_disputed(session, invoice_id=disputed_invoice):
        uow.audit("CREATE", "Invoice", disputed_invoice, {"disputed": False}, {"disputed": True})
    priority_details = {
        "priority": priority.value,
        "priorityRule": "chosen-by-staff" if staff_choice else derived.rule,
        "priorityReason": "chosen by staff" if staff_choice else derived.reason,
    }
    uow.event(
        request_id=row.id,
        customer_id=row.customer_id,
        team_id=row.team_id,
        kind=RequestEventKind.CREATED.value,
        to_status=RequestStatus.NEW.value,
        details=priority_details,
    )
    if routed.team_id is not None:
        uow.event(
            request_id=row.id,
            customer_id=row.customer_id,
            team_id=row.team_id,
            kind=RequestEventKind.ASSIGNED.value,
            details={**routed.details, "teamId": routed.team_id, "assigneeId": routed.assignee_id},
        )
    if spec.idempotency_key is not None:
        await save_idempotency_key(
            session,
            subject=author.subject,
            key=spec.idempotency_key,
            input_hash=spec.input_hash(),
            request_id=row.id,
            now=uow.now,
        )
    return Created(row, replayed=False)


def _impact(
    spec: CreateSpec, errors: list[DomainError], rates: dict[str, Decimal]
) -> tuple[Money | None, Decimal | None]:
    """The validated impact and its USD value; a currency without a rate adds VALIDATION_FAILED."""
    if spec.financial_impact is None:
        return None, None
    try:
        impact = parse_money(
            amount=spec.financial_impact.amount,
            currency=spec.financial_impact.currency,
            field=("input", "financialImpact"),
        )
    except DomainError:
        return None, None  # capture_errors reported it
    try:
        return impact, to_usd(impact, rates)
    except DomainError as error:
        errors.append(DomainError(error.code, error.message, ("input", "financialImpact", "currency")))
        return impact, None
