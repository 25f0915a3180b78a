"""markDuplicate over one unit of work: close a request as a duplicate of another open request of
the same customer (the same dispute often arrives by portal and by mail).

The duplicate is CANCELLED through the lifecycle's CANCEL (its rules, its
effects: pending approvals cancelled, the invoice's dispute flag cleared,
the reason as its PUBLIC message) and links the original
(`duplicate_of_id`, STATUS_CHANGED with `duplicateOfId`). The original gets
an INTERNAL note naming the duplicate and a copy of each of the duplicate's
PUBLIC comments, as their authors wrote them (a COMMENTED event each). Both
requests change version once and get their audit entries; the events go out
through the outbox with the commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.repositories.policies import policy_by_id
from db.repositories.requests import lock_request, public_comments
from db.uow import UnitOfWork
from domain.duplicates import duplicate_errors
from domain.enums import CommentVisibility, TransitionAction
from domain.errors import first_error, not_found
from domain.lifecycle import RequestFacts
from records.rows import RequestRow
from services.author import Author
from services.requests.change import RequestChange
from services.requests.transitions import TransitionSpec, perform_transition

__all__ = ["DuplicateSpec", "MarkedDuplicate", "mark_duplicate"]


@dataclass(frozen=True, slots=True)
class DuplicateSpec:
    """markDuplicate's input with ids decoded."""

    request_id: int
    expected_version: int
    duplicate_of_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class MarkedDuplicate:
    duplicate: RequestRow
    original: RequestRow


async def mark_duplicate(uow: UnitOfWork, *, spec: DuplicateSpec, author: Author) -> MarkedDuplicate:
    """CANCEL `spec.request_id` as a duplicate of `spec.duplicate_of_id` and copy its PUBLIC comments
    there. Raises DomainError by the lifecycle's precedence (nothing written once rolled back)."""
    session = uow.session
    # Both requests locked in id order, so two markings of the same pair cannot deadlock.
    locked: dict[int, RequestRow | None] = {}
    for request_id in sorted({spec.request_id, spec.duplicate_of_id}):
        locked[request_id] = await lock_request(session, request_id=request_id, scope=author.scope)
    duplicate = locked[spec.request_id]
    if duplicate is None:
        raise not_found("service request", "id")
    original = locked[spec.duplicate_of_id]
    error = first_error(
        duplicate_errors(
            duplicate_id=duplicate.id,
            duplicate_customer_id=duplicate.customer_id,
            original_id=spec.duplicate_of_id,
            original=_facts(original),
            reason=spec.reason,
        )
    )
    if error is not None:
        raise error
    assert original is not None
    # Read before the cancel writes the reason as the duplicate's own PUBLIC comment.
    comments = await public_comments(session, request_id=duplicate.id)
    cancel = TransitionSpec(
        action=TransitionAction.CANCEL,
        expected_version=spec.expected_version,
        message=spec.reason,
        duplicate_of_id=original.id,
    )
    written, _, _ = await perform_transition(uow, request_id=duplicate.id, spec=cancel, author=author)
    policy = await policy_by_id(session, policy_id=original.sla_policy_id)
    change = RequestChange(uow, original, policy=policy, author=author, action="MARK_DUPLICATE")
    await change.comment(
        f"{duplicate.number} was closed as a duplicate of this request.", CommentVisibility.INTERNAL
    )
    for comment in comments:
        await change.copy_comment(comment)
    return MarkedDuplicate(duplicate=written, original=await change.save())


def _facts(row: RequestRow | None) -> RequestFacts | None:
    """The original as the duplicate rules see it (its approvals play no part)."""
    return None if row is None else row.lifecycle_facts(has_pending_approval=False)
