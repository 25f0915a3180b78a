"""The maker-checker and ledger mutations: requestApproval, decideApproval, postAdjustment,
applyPayment (LIFECYCLE.md §1, §4; ACCESS.md).

Each resolver: authorize (FORBIDDEN when the role or scopes never allow it),
decode the IDs (BAD_USER_INPUT when malformed), run the work of
resolvers.mutations.approvals / postings in one unit of work, and answer the
payload: the first broken business rule as a userError with nothing
written, or the changed objects read back in the caller's scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from sqlalchemy.exc import IntegrityError
from strawberry.types import Info

from auth.permissions import Capability
from auth.principal import Principal
from db.constraints import constraint_error
from db.uow import UnitOfWork
from domain.capture import MoneyInput as RawMoney
from domain.enums import AdjustmentKind, ApprovalKind, Decision
from domain.errors import DomainError
from domain.lifecycle import TransitionForbidden
from records.rows import ApprovalRow, RequestRow
from resolvers.mutations.common import change, require
from schema import ids
from schema.context import Context
from schema.errors import Forbidden
from schema.inputs_finance import (
    ApplyPaymentInput,
    DecideApprovalInput,
    PostAdjustmentInput,
    RequestApprovalInput,
)
from schema.payloads import MoneyInput, user_error
from schema.payloads_finance import AdjustmentPayload, ApprovalPayload, PaymentPayload
from schema.types.approval import approval_by_id
from schema.types.invoice import adjustment_by_id, payment_by_id
from schema.types.request import service_request_by_id
from services.approvals.maker_checker import ApprovalSpec, DecisionSpec, decide_approval, request_approval
from services.author import Author
from services.finance.postings import AdjustmentSpec, PaymentSpec, apply_payment_to_invoice, post_adjustment

__all__ = ["FinanceMutations"]

Ctx = Info[Context, None]
T = TypeVar("T")

# Stands for an ID of another type: no row has it, so it fails like an unknown one (NOT_FOUND).
_NO_ROW = 0


def _pk(global_id: strawberry.ID, type_name: str) -> int:
    """The primary key named by a global ID (BAD_USER_INPUT when it does not parse)."""
    pk = ids.decode_as(global_id, type_name)
    return _NO_ROW if pk is None else pk


def _optional_pk(global_id: strawberry.ID | None, type_name: str) -> int | None:
    return None if global_id is None else _pk(global_id, type_name)


def _raw(money: MoneyInput | None) -> RawMoney | None:
    return None if money is None else RawMoney(amount=money.amount, currency=money.currency)


def _author(principal: Principal) -> Author:
    if principal.staff_id is None:  # the roles allowed here are staff roles, matched to a staff row
        raise Forbidden("not allowed: only staff members act on approvals and the ledger")
    return Author.of(principal)


async def _approval_payload(
    ctx: Context, outcome: tuple[ApprovalRow, RequestRow] | DomainError
) -> ApprovalPayload:
    """The payload of requestApproval / decideApproval: the rule broken, or both rows as now read."""
    if isinstance(outcome, DomainError):
        return ApprovalPayload(user_errors=[user_error(outcome)])
    approval, request = outcome
    return ApprovalPayload(
        approval=await approval_by_id(ctx, approval.id),
        service_request=await service_request_by_id(ctx, request.id),
    )


async def _run(ctx: Context, work: Callable[[UnitOfWork], Awaitable[T]]) -> T | DomainError:
    """`work` in one transaction, committed when it returns; a broken rule rolls everything back."""
    try:
        async with change(ctx) as uow:
            result = await work(uow)
            await uow.commit()
        return result
    except DomainError as error:
        return error
    except TransitionForbidden as exc:
        raise Forbidden(str(exc)) from exc
    except IntegrityError as exc:
        # A CHECK or unique constraint caught what a concurrent writer slipped past: same rule, same answer.
        rule = constraint_error(exc)
        if rule is None:
            raise
        return rule


@strawberry.type
class FinanceMutations:
    @strawberry.mutation
    async def request_approval(self, info: Ctx, input: RequestApprovalInput) -> ApprovalPayload:
        ctx = info.context
        author = _author(require(ctx, Capability.REQUEST_APPROVAL))
        spec = ApprovalSpec(
            request_id=_pk(input.service_request_id, "ServiceRequest"),
            expected_version=input.expected_version,
            kind=ApprovalKind(input.kind),
            amount=_raw(input.amount),
            justification=input.justification,
        )
        outcome = await _run(ctx, lambda uow: request_approval(uow, spec=spec, author=author))
        return await _approval_payload(ctx, outcome)

    @strawberry.mutation
    async def decide_approval(self, info: Ctx, input: DecideApprovalInput) -> ApprovalPayload:
        ctx = info.context
        # CUSTOMER, PARTNER and AUDITOR roles lack the capability: FORBIDDEN before any lookup.
        author = _author(require(ctx, Capability.DECIDE_APPROVAL))
        spec = DecisionSpec(
            approval_id=_pk(input.approval_id, "Approval"),
            decision=Decision(input.decision),
            comment=input.comment,
        )
        outcome = await _run(ctx, lambda uow: decide_approval(uow, spec=spec, author=author))
        return await _approval_payload(ctx, outcome)

    @strawberry.mutation
    async def post_adjustment(self, info: Ctx, input: PostAdjustmentInput) -> AdjustmentPayload:
        ctx = info.context
        author = _author(require(ctx, Capability.POST_ADJUSTMENT))
        amount = _raw(input.amount)
        assert amount is not None  # required by the schema
        spec = AdjustmentSpec(
            request_id=_pk(input.service_request_id, "ServiceRequest"),
            invoice_id=_pk(input.invoice_id, "Invoice"),
            kind=AdjustmentKind(input.kind),
            amount=amount,
            approval_id=_optional_pk(input.approval_id, "Approval"),
        )
        outcome = await _run(ctx, lambda uow: post_adjustment(uow, spec=spec, author=author))
        if isinstance(outcome, DomainError):
            return AdjustmentPayload(user_errors=[user_error(outcome)])
        adjustment, request = outcome
        return AdjustmentPayload(
            adjustment=await adjustment_by_id(ctx, adjustment.id),
            service_request=await service_request_by_id(ctx, request.id),
        )

    @strawberry.mutation
    async def apply_payment(self, info: Ctx, input: ApplyPaymentInput) -> PaymentPayload:
        ctx = info.context
        author = _author(require(ctx, Capability.POST_ADJUSTMENT))
        spec = PaymentSpec(
            request_id=_pk(input.service_request_id, "ServiceRequest"),
            payment_id=_pk(input.payment_id, "Payment"),
            invoice_id=_optional_pk(input.invoice_id, "Invoice"),
            approval_id=_optional_pk(input.approval_id, "Approval"),
        )
        outcome = await _run(ctx, lambda uow: apply_payment_to_invoice(uow, spec=spec, author=author))
        if isinstance(outcome, DomainError):
            return PaymentPayload(user_errors=[user_error(outcome)])
        payment, request = outcome
        return PaymentPayload(
            payment=await payment_by_id(ctx, payment.id),
            service_request=await service_request_by_id(ctx, request.id),
        )
