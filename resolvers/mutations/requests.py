"""The request lifecycle mutations: one per business action (LIFECYCLE.md §1, ACCESS.md).

Each reads: authorize (a role or scope that never allows it: FORBIDDEN),
decode the IDs, `run` one service (services.requests), answer the fresh
request, or the broken business rule as `userErrors` with nothing written.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from auth.permissions import Capability, can_add_comment, transition_capability
from db.uow import UnitOfWork
from domain.capture import MoneyInput as DomainMoneyInput
from domain.enums import CommentVisibility, Priority, RequestType, ResolutionCode, TransitionAction
from domain.errors import DomainError, not_found
from records.rows import RequestRecord
from resolvers.context import Context
from resolvers.mutations.common import run
from resolvers.nodes import node_from_record, node_of
from schema import ids
from schema.errors import Forbidden
from schema.inputs_mutations import (
    AddCommentInput,
    AssignServiceRequestInput,
    CreateServiceRequestInput,
    MarkDuplicateInput,
    ResolveServiceRequestInput,
    TransitionServiceRequestInput,
    TriageServiceRequestInput,
)
from schema.payloads import user_error
from schema.payloads_requests import AddCommentPayload, MarkDuplicatePayload, ServiceRequestPayload
from schema.types.request import ServiceRequest
from schema.types.timeline import Comment
from services.author import Author
from services.requests.comments import add_comment
from services.requests.create import CreateSpec, create_request
from services.requests.duplicates import DuplicateSpec, mark_duplicate
from services.requests.transitions import TransitionSpec, perform_transition

__all__ = ["RequestMutations"]

Ctx = Info[Context, None]


async def _request_payload(ctx: Context, outcome: int | DomainError) -> ServiceRequestPayload:
    """The payload of a request mutation: the rule broken, or the request as now read."""
    if isinstance(outcome, DomainError):
        return ServiceRequestPayload(service_request=None, user_errors=[user_error(outcome)])
    return ServiceRequestPayload(service_request=await node_of(ctx, ServiceRequest, outcome), user_errors=[])


async def _transition(info: Ctx, global_id: str, spec: TransitionSpec) -> ServiceRequestPayload:
    ctx = info.context
    author = Author.of(ctx.require(transition_capability(spec.action)))
    request_id = ids.row_id(global_id, "ServiceRequest")

    async def work(uow: UnitOfWork) -> RequestRecord:
        return (await perform_transition(uow, request_id=request_id, spec=spec, author=author)).record

    outcome = await run(ctx, work)
    if isinstance(outcome, DomainError):
        return ServiceRequestPayload(service_request=None, user_errors=[user_error(outcome)])
    # The request as this transaction wrote it (UPDATE ... RETURNING): no read after the commit.
    return ServiceRequestPayload(service_request=node_from_record(ctx, outcome), user_errors=[])


def _simple(action: TransitionAction) -> Any:
    """A mutation taking TransitionServiceRequestInput (id, expectedVersion, message)."""

    async def resolve(info: Ctx, input: TransitionServiceRequestInput) -> ServiceRequestPayload:
        spec = TransitionSpec(action=action, expected_version=input.expected_version, message=input.message)
        return await _transition(info, input.id, spec)

    return resolve


@strawberry.type
class RequestMutations:
    @strawberry.mutation
    async def create_service_request(
        self, info: Ctx, input: CreateServiceRequestInput
    ) -> ServiceRequestPayload:
        ctx = info.context
        principal = ctx.require(Capability.CREATE_REQUEST)
        if input.customer_id is None:
            customer_id = principal.customer_id if principal.is_customer else None
        else:
            customer_id = ids.row_id(input.customer_id, "Customer")
        impact = input.financial_impact
        spec = CreateSpec(
            customer_id=customer_id,
            type=RequestType(input.type),
            channel=input.channel,
            subject=input.subject,
            description=input.description,
            priority=None if input.priority is None else Priority(input.priority),
            invoice_id=ids.optional_row_id(input.invoice_id, "Invoice"),
            payment_id=ids.optional_row_id(input.payment_id, "Payment"),
            financial_impact=None if impact is None else DomainMoneyInput(impact.amount, impact.currency),
            idempotency_key=input.idempotency_key,
        )
        author = Author.of(principal)

        async def work(uow: UnitOfWork) -> int:
            return (await create_request(uow, spec=spec, author=author)).row.id

        return await _request_payload(ctx, await run(ctx, work))

    @strawberry.mutation
    async def triage_service_request(
        self, info: Ctx, input: TriageServiceRequestInput
    ) -> ServiceRequestPayload:
        spec = TransitionSpec(
            action=TransitionAction.TRIAGE,
            expected_version=input.expected_version,
            new_type=None if input.type is None else RequestType(input.type),
            new_priority=None if input.priority is None else Priority(input.priority),
        )
        return await _transition(info, input.id, spec)

    @strawberry.mutation
    async def assign_service_request(
        self, info: Ctx, input: AssignServiceRequestInput
    ) -> ServiceRequestPayload:
        info.context.require(transition_capability(TransitionAction.ASSIGN))
        assignee_id, assignee_ok = ids.decode_optional_as(input.assignee_id, "Agent")
        team_id, team_ok = ids.decode_optional_as(input.team_id, "Team")
        if not assignee_ok:
            return await _request_payload(info.context, not_found("agent", "assigneeId"))
        if not team_ok:
            return await _request_payload(info.context, not_found("team", "teamId"))
        spec = TransitionSpec(
            action=TransitionAction.ASSIGN,
            expected_version=input.expected_version,
            assignee_id=assignee_id,
            team_id=team_id,
        )
        return await _transition(info, input.id, spec)

    start_work = strawberry.mutation(_simple(TransitionAction.START_WORK))
    request_customer_info = strawberry.mutation(_simple(TransitionAction.REQUEST_CUSTOMER_INFO))
    provide_customer_info = strawberry.mutation(_simple(TransitionAction.PROVIDE_CUSTOMER_INFO))
    escalate_service_request = strawberry.mutation(_simple(TransitionAction.ESCALATE))

    @strawberry.mutation
    async def resolve_service_request(
        self, info: Ctx, input: ResolveServiceRequestInput
    ) -> ServiceRequestPayload:
        spec = TransitionSpec(
            action=TransitionAction.RESOLVE,
            expected_version=input.expected_version,
            code=ResolutionCode(input.code),
            summary=input.summary,
        )
        return await _transition(info, input.id, spec)

    close_service_request = strawberry.mutation(_simple(TransitionAction.CLOSE))
    reopen_service_request = strawberry.mutation(_simple(TransitionAction.REOPEN))
    cancel_service_request = strawberry.mutation(_simple(TransitionAction.CANCEL))

    @strawberry.mutation
    async def add_comment(self, info: Ctx, input: AddCommentInput) -> AddCommentPayload:
        ctx = info.context
        principal = ctx.principal
        visibility = CommentVisibility(input.visibility)
        if not can_add_comment(principal, visibility):
            raise Forbidden(f"not allowed: {visibility.value.lower()} comments")
        author = Author.of(principal)
        request_id = ids.row_id(input.service_request_id, "ServiceRequest")
        body = input.body

        async def work(uow: UnitOfWork) -> tuple[int, int]:
            row, comment_id = await add_comment(
                uow, request_id=request_id, body=body, visibility=visibility, author=author
            )
            return row.id, comment_id

        outcome = await run(ctx, work)
        if isinstance(outcome, DomainError):
            return AddCommentPayload(comment=None, service_request=None, user_errors=[user_error(outcome)])
        request_pk, comment_id = outcome
        return AddCommentPayload(
            comment=await node_of(ctx, Comment, comment_id),
            service_request=await node_of(ctx, ServiceRequest, request_pk),
            user_errors=[],
        )

    @strawberry.mutation(
        description=(
            "Staff: close a request as a duplicate of another open request of the same customer; "
            "its PUBLIC comments are copied there."
        )
    )
    async def mark_duplicate(self, info: Ctx, input: MarkDuplicateInput) -> MarkDuplicatePayload:
        ctx = info.context
        author = Author.of(ctx.require(Capability.STAFF_TRANSITIONS))
        spec = DuplicateSpec(
            request_id=ids.row_id(input.id, "ServiceRequest"),
            expected_version=input.expected_version,
            duplicate_of_id=ids.row_id(input.duplicate_of_id, "ServiceRequest"),
            reason=input.reason,
        )
        outcome = await run(ctx, lambda uow: mark_duplicate(uow, spec=spec, author=author))
        if isinstance(outcome, DomainError):
            return MarkDuplicatePayload(user_errors=[user_error(outcome)])
        return MarkDuplicatePayload(service_request=await node_of(ctx, ServiceRequest, outcome.duplicate.id))
