"""addComment over one unit of work: a comment is a change of its request (version + 1, COMMENTED).

A staff PUBLIC comment is the first response when there was none; a
customer's PUBLIC comment while WAITING_ON_CUSTOMER resumes the request like
PROVIDE_CUSTOMER_INFO (domain.lifecycle.comment_effect decides both).
"""

from __future__ import annotations

from db.repositories.policies import policy_by_id
from db.repositories.requests import lock_request
from db.uow import UnitOfWork
from domain.capture import TEXT_MAX, text_error
from domain.enums import Channel, CommentVisibility, RequestStatus
from domain.errors import not_found
from domain.lifecycle import comment_effect
from records.rows import RequestRow
from services.author import Author
from services.requests.change import RequestChange
from services.requests.transitions import resume_waiting

__all__ = ["add_comment"]


async def add_comment(
    uow: UnitOfWork,
    *,
    request_id: int,
    body: str,
    visibility: CommentVisibility,
    author: Author,
    channel: Channel = Channel.PORTAL,
    locked: RequestRow | None = None,
) -> tuple[RequestRow, int]:
    """(the request as written, the new comment's id); raises DomainError.

    `locked`: the request as the caller locked it in this transaction, within `author.scope`
    (the mail channel reads its status first); otherwise it is locked here.
    """
    row = locked or await lock_request(uow.session, request_id=request_id, scope=author.scope)
    if row is None:
        raise not_found("service request", "serviceRequestId")
    error = text_error(body, maximum=TEXT_MAX, field=("input", "body"))
    if error is not None:
        raise error
    policy = await policy_by_id(uow.session, policy_id=row.sla_policy_id)
    change = RequestChange(uow, row, policy=policy, author=author, action="ADD_COMMENT", channel=channel)
    effect = comment_effect(status=RequestStatus(row.status), actor=author.actor, visibility=visibility)
    if effect.resumes:
        resume_waiting(change)
    comment_id = await change.comment(body, visibility)
    return await change.save(), comment_id
