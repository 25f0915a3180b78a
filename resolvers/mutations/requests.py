"""The request lifecycle mutations: one per business action (LIFECYCLE.md §1, ACCESS.md).

Each reads: authorize (a role or scope that never allows it: FORBIDDEN),
decode the IDs (garbage: BAD_USER_INPUT; another type: NOT_FOUND), run the
operation in one unit of work, commit, answer the fresh request. A broken
business rule answers `userErrors` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from auth.permissions import Capability, can_add_comment
from db.uow import UnitOfWork
from domain.capture import MoneyInput as DomainMoneyInput
from domain.enums import CommentVisibility, Priority, RequestType, ResolutionCode, TransitionAction
from domain.errors import DomainError, not_found
from domain.lifecycle import TransitionForbidden
from resolvers.mutations.common import change, require
from schema import ids
from schema.context import Context
from schema.errors import Forbidden
from schema.inputs_mutations import (
    AddCommentInput,
    AssignServiceRequestInput,
    CreateServiceRequestInput,
    ResolveServiceRequestInput,
    TransitionServiceRequestInput,
    TriageServiceRequestInput,
)
from schema.payloads import user_error
from schema.payloads_requests import AddCommentPayload, ServiceRequestPayload
from schema.types.request import service_request_by_id
from schema.types.timeline import comment_by_id
from services.author import Author
from services.requests.comments import add_comment
from services.requests.create import NO_ROW, CreateSpec, create_request
from services.requests.transitions import TransitionSpec, perform_transition

__all__ = ["RequestMutations"]

T = TypeVar("T")
_STAFF = Capability.STAFF_TRANSITIONS
_CUSTOMER_SIDE = Capability.CUSTOMER_TRANSITIONS


async def _run(ctx: Context, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """`work` in one transaction, committed unless it raised; the domain's FORBIDDEN surfaces as such."""
    try:
        async with change(ctx) as uow:
            result = await work(uow)
            await uow.commit()
    except TransitionForbidden as exc:
        raise Forbidden(str(exc)) from exc
    return result


async def _request_payload(ctx: Context, request_id: int) -> ServiceRequestPayload:
    return ServiceRequestPayload(service_request=await service_request_by_id(ctx, request_id), user_errors=[])


def _failed(error: DomainError) -> ServiceRequestPayload:
    return ServiceRequestPayload(service_request=None, user_errors=[user_error(error)])


async def _transition(
    info: Info[Context, None], capability: Capability, global_id: str, spec: TransitionSpec
) -> ServiceRequestPayload:
    ctx = info.context
    author = Author.of(require(ctx, capability))
    request_id = ids.decode_as(global_id, "ServiceRequest")
    if request_id is None:
        return _failed(not_found("service request", "id"))

    async def work(uow: UnitOfWork) -> int:
        row, _ = await perform_transition(uow, request_id=request_id, spec=spec, author=author)
        return row.id

    try:
        done = await _run(ctx, work)
    except DomainError as error:
        return _failed(error)
    return await _request_payload(ctx, done)


def _simple(action: TransitionAction, capability: Capability) -> Any:
    """A mutation taking TransitionServiceRequestInput (id, expectedVersion, message)."""

    async def resolve(
        info: Info[Context, None], input: TransitionServiceRequestInput
    ) -> ServiceRequestPayload:
        spec = TransitionSpec(action=action, expected_version=input.expected_version, message=input.message)
        return await _transition(info, capability, input.id, spec)

    return resolve


def _optional_id(global_id: strawberry.ID | None, type_name: str) -> tuple[int | None, bool]:
    """(pk, ok): ok is False for an ID of another type (it names nothing)."""
    if global_id is None:
        return None, True
    pk = ids.decode_as(global_id, type_name)
    return pk, pk is not None


@strawberry.type
class RequestMutations:
    @strawberry.mutation
    async def create_service_request(
        self, info: Info[Context, None], input: CreateServiceRequestInput
    ) -> ServiceRequestPayload:
        ctx = info.context
        principal = require(ctx, Capability.CREATE_REQUEST)
        if input.customer_id is None:
            customer_id = principal.customer_id if principal.is_customer else None
        else:
            customer_id = ids.decode_as(input.customer_id, "Customer") or NO_ROW
        invoice_id, invoice_ok = _optional_id(input.invoice_id, "Invoice")
        payment_id, payment_ok = _optional_id(input.payment_id, "Payment")
        impact = input.financial_impact
        spec = CreateSpec(
            customer_id=customer_id,
            type=RequestType(input.type),
            channel=input.channel,
            subject=input.subject,
            description=input.description,
            priority=None if input.priority is None else Priority(input.priority),
            invoice_id=invoice_id if invoice_ok else NO_ROW,
            payment_id=payment_id if payment_ok else NO_ROW,
            financial_impact=None if impact is None else DomainMoneyInput(impact.amount, impact.currency),
            idempotency_key=input.idempotency_key,
        )
        author = Author.of(principal)
        try:
            created = await _run(ctx, lambda uow: create_request(uow, spec=spec, author=author))
        except DomainError as error:
            return _failed(error)
        return await _request_payload(ctx, created.row.id)

    @strawberry.mutation
    async def triage_service_request(
        self, info: Info[Context, None], input: TriageServiceRequestInput
    ) -> ServiceRequestPayload:
        spec = TransitionSpec(
            action=TransitionAction.TRIAGE,
            expected_version=input.expected_version,
            new_type=None if input.type is None else RequestType(input.type),
            new_priority=None if input.priority is None else Priority(input.priority),
        )
        return await _transition(info, _STAFF, input.id, spec)

    @strawberry.mutation
    async def assign_service_request(
        self, info: Info[Context, None], input: AssignServiceRequestInput
    ) -> ServiceRequestPayload:
        require(info.context, _STAFF)
        assignee_id, assignee_ok = _optional_id(input.assignee_id, "Agent")
        team_id, team_ok = _optional_id(input.team_id, "Team")
        if not assignee_ok:
            return _failed(not_found("agent", "assigneeId"))
        if not team_ok:
            return _failed(not_found("team", "teamId"))
        spec = TransitionSpec(
            action=TransitionAction.ASSIGN,
            expected_version=input.expected_version,
            assignee_id=assignee_id,
            team_id=team_id,
        )
        return await _transition(info, _STAFF, input.id, spec)

    start_work = strawberry.mutation(_simple(TransitionAction.START_WORK, _STAFF))
    request_customer_info = strawberry.mutation(_simple(TransitionAction.REQUEST_CUSTOMER_INFO, _STAFF))
    provide_customer_info = strawberry.mutation(
        _simple(TransitionAction.PROVIDE_CUSTOMER_INFO, _CUSTOMER_SIDE)
    )
    escalate_service_request = strawberry.mutation(_simple(TransitionAction.ESCALATE, _STAFF))

    @strawberry.mutation
    async def resolve_service_request(
        self, info: Info[Context, None], input: ResolveServiceRequestInput
    ) -> ServiceRequestPayload:
        spec = TransitionSpec(
            action=TransitionAction.RESOLVE,
            expected_version=input.expected_version,
            code=ResolutionCode(input.code),
            summary=input.summary,
        )
        return await _transition(info, _STAFF, input.id, spec)

    close_service_request = strawberry.mutation(_simple(TransitionAction.CLOSE, _CUSTOMER_SIDE))
    reopen_service_request = strawberry.mutation(_simple(TransitionAction.REOPEN, _CUSTOMER_SIDE))
    cancel_service_request = strawberry.mutation(_simple(TransitionAction.CANCEL, _CUSTOMER_SIDE))

    @strawberry.mutation
    async def add_comment(self, info: Info[Context, None], input: AddCommentInput) -> AddCommentPayload:
        ctx = info.context
        principal = ctx.principal
        visibility = CommentVisibility(input.visibility)
        if not can_add_comment(principal, visibility):
            raise Forbidden(f"not allowed: {visibility.value.lower()} comments")
        author = Author.of(principal)
        request_id = ids.decode_as(input.service_request_id, "ServiceRequest")
        if request_id is None:
            error = not_found("service request", "serviceRequestId")
            return AddCommentPayload(comment=None, service_request=None, user_errors=[user_error(error)])
        body = input.body

        async def work(uow: UnitOfWork) -> tuple[int, int]:
            row, comment_id = await add_comment(
                uow, request_id=request_id, body=body, visibility=visibility, author=author
            )
            return row.id, comment_id

        try:
            done_id, comment_id = await _run(ctx, work)
        except DomainError as error:
            return AddCommentPayload(comment=None, service_request=None, user_errors=[user_error(error)])
        return AddCommentPayload(
            comment=await comment_by_id(ctx, comment_id),
            service_request=await service_request_by_id(ctx, done_id),
            user_errors=[],
        )
