"""The maker-checker and ledger mutations: requestApproval, decideApproval, postAdjustment,
applyPayment (LIFECYCLE.md §1, §4; ACCESS.md).

Each reads: authorize (FORBIDDEN when the role or scopes never allow it),
decode the IDs, `run` one service (services.approvals, services.finance),
answer the changed objects read back in the caller's scope, or the first
broken business rule as a userError with nothing written.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.permissions import Capability
from domain.capture import MoneyInput as RawMoney
from domain.enums import AdjustmentKind, ApprovalKind, Decision
from domain.errors import DomainError
from records.rows import ApprovalRow, RequestRow
from resolvers.context import Context
from resolvers.mutations.common import run
from resolvers.nodes import node_of
from schema import ids
from schema.errors import Forbidden
from schema.inputs_finance import (
    ApplyPaymentInput,
    DecideApprovalInput,
    PostAdjustmentInput,
    RequestApprovalInput,
)
from schema.payloads import MoneyInput, user_error
from schema.payloads_finance import AdjustmentPayload, ApprovalPayload, PaymentPayload
from schema.types.approval import Approval
from schema.types.invoice import Adjustment, Payment
from schema.types.request import ServiceRequest
from services.approvals.maker_checker import ApprovalSpec, DecisionSpec, decide_approval, request_approval
from services.author import Author
from services.finance.postings import AdjustmentSpec, PaymentSpec, apply_payment_to_invoice, post_adjustment

__all__ = ["FinanceMutations"]

Ctx = Info[Context, None]


def _raw(money: MoneyInput | None) -> RawMoney | None:
    return None if money is None else RawMoney(amount=money.amount, currency=money.currency)


def _staff_author(ctx: Context, capability: Capability) -> Author:
    author = Author.of(ctx.require(capability))
    if author.staff_id is None:  # the roles allowed here are staff roles, matched to a staff row
        raise Forbidden("not allowed: only staff members act on approvals and the ledger")
    return author


async def _approval_payload(
    ctx: Context, outcome: tuple[ApprovalRow, RequestRow] | DomainError
) -> ApprovalPayload:
    """The payload of requestApproval / decideApproval: the rule broken, or both rows as now read."""
    if isinstance(outcome, DomainError):
        return ApprovalPayload(user_errors=[user_error(outcome)])
    approval, request = outcome
    return ApprovalPayload(
        approval=await node_of(ctx, Approval, approval.id),
        service_request=await node_of(ctx, ServiceRequest, request.id),
    )


@strawberry.type
class FinanceMutations:
    @strawberry.mutation
    async def request_approval(self, info: Ctx, input: RequestApprovalInput) -> ApprovalPayload:
        ctx = info.context
        author = _staff_author(ctx, Capability.REQUEST_APPROVAL)
        spec = ApprovalSpec(
            request_id=ids.row_id(input.service_request_id, "ServiceRequest"),
            expected_version=input.expected_version,
            kind=ApprovalKind(input.kind),
            amount=_raw(input.amount),
            justification=input.justification,
        )
        outcome = await run(ctx, lambda uow: request_approval(uow, spec=spec, author=author))
        return await _approval_payload(ctx, outcome)

    @strawberry.mutation
    async def decide_approval(self, info: Ctx, input: DecideApprovalInput) -> ApprovalPayload:
        ctx = info.context
        # CUSTOMER, PARTNER and AUDITOR roles lack the capability: FORBIDDEN before any lookup.
        author = _staff_author(ctx, Capability.DECIDE_APPROVAL)
        spec = DecisionSpec(
            approval_id=ids.row_id(input.approval_id, "Approval"),
            decision=Decision(input.decision),
            comment=input.comment,
        )
        outcome = await run(ctx, lambda uow: decide_approval(uow, spec=spec, author=author))
        return await _approval_payload(ctx, outcome)

    @strawberry.mutation
    async def post_adjustment(self, info: Ctx, input: PostAdjustmentInput) -> AdjustmentPayload:
        ctx = info.context
        author = _staff_author(ctx, Capability.POST_ADJUSTMENT)
        amount = _raw(input.amount)
        assert amount is not None  # required by the schema
        spec = AdjustmentSpec(
            request_id=ids.row_id(input.service_request_id, "ServiceRequest"),
            invoice_id=ids.row_id(input.invoice_id, "Invoice"),
            kind=AdjustmentKind(input.kind),
            amount=amount,
            approval_id=ids.optional_row_id(input.approval_id, "Approval"),
        )
        outcome = await run(ctx, lambda uow: post_adjustment(uow, spec=spec, author=author))
        if isinstance(outcome, DomainError):
            return AdjustmentPayload(user_errors=[user_error(outcome)])
        adjustment, request = outcome
        return AdjustmentPayload(
            adjustment=await node_of(ctx, Adjustment, adjustment.id),
            service_request=await node_of(ctx, ServiceRequest, request.id),
        )

    @strawberry.mutation
    async def apply_payment(self, info: Ctx, input: ApplyPaymentInput) -> PaymentPayload:
        ctx = info.context
        author = _staff_author(ctx, Capability.POST_ADJUSTMENT)
        spec = PaymentSpec(
            request_id=ids.row_id(input.service_request_id, "ServiceRequest"),
            payment_id=ids.row_id(input.payment_id, "Payment"),
            invoice_id=ids.optional_row_id(input.invoice_id, "Invoice"),
            approval_id=ids.optional_row_id(input.approval_id, "Approval"),
        )
        outcome = await run(ctx, lambda uow: apply_payment_to_invoice(uow, spec=spec, author=author))
        if isinstance(outcome, DomainError):
            return PaymentPayload(user_errors=[user_error(outcome)])
        payment, request = outcome
        return PaymentPayload(
            payment=await node_of(ctx, Payment, payment.id),
            service_request=await node_of(ctx, ServiceRequest, request.id),
        )
