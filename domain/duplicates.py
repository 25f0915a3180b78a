"""Marking a request a duplicate of another (markDuplicate).

The duplicate is CANCELLED (the lifecycle's CANCEL rules apply to it); these
are the rules about the original it points to. Both requests belong to the
same customer, and the original is another request that is still open: a
closed one cannot take over the duplicate's conversation.
"""

from __future__ import annotations

from domain.capture import TEXT_MAX, text_error
from domain.enums import OPEN_STATUSES
from domain.errors import DomainError, UserErrorCode, not_found
from domain.lifecycle import RequestFacts

__all__ = ["duplicate_errors"]

_ORIGINAL = ("input", "duplicateOfId")


def duplicate_errors(
    *,
    duplicate_id: int,
    duplicate_customer_id: int,
    original_id: int,
    original: RequestFacts | None,
    reason: str,
) -> list[DomainError]:
    """What refuses marking request `duplicate_id` a duplicate of `original_id` (None: not found
    for the caller), besides the duplicate's own CANCEL rules; `first_error` picks the answer."""
    errors: list[DomainError] = []
    reason_error = text_error(reason, maximum=TEXT_MAX, field=("input", "reason"))
    if reason_error is not None:
        errors.append(reason_error)
    if original is None:
        return [*errors, not_found("service request", "duplicateOfId")]
    invalid = UserErrorCode.VALIDATION_FAILED
    if original_id == duplicate_id:
        return [*errors, DomainError(invalid, "a request cannot be a duplicate of itself", _ORIGINAL)]
    if original.customer_id != duplicate_customer_id:
        errors.append(DomainError(invalid, "the original request belongs to another customer", _ORIGINAL))
    if original.status not in OPEN_STATUSES:
        errors.append(DomainError(invalid, f"the original request is {original.status}, not open", _ORIGINAL))
    return errors
