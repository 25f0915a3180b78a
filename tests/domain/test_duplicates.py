"""domain.duplicates: the rules about the original a duplicate points to."""

from __future__ import annotations

from domain.duplicates import duplicate_errors
from domain.enums import RequestStatus
from domain.errors import UserErrorCode, first_error
from domain.lifecycle import RequestFacts

ORIGINAL = ("input", "duplicateOfId")


def _original(status: RequestStatus = RequestStatus.IN_PROGRESS, customer_id: int = 7) -> RequestFacts:
    return RequestFacts(
        status=status,
        customer_id=customer_id,
        version=3,
        assignee_id=None,
        resolved_at=None,
        has_pending_approval=False,
    )


def _errors(
    original: RequestFacts | None, *, original_id: int = 2, reason: str = "Same dispute."
) -> list[tuple[UserErrorCode, tuple[str, ...] | None]]:
    errors = duplicate_errors(
        duplicate_id=1, duplicate_customer_id=7, original_id=original_id, original=original, reason=reason
    )
    return [(e.code, e.field) for e in errors]


def test_an_open_request_of_the_same_customer_may_be_the_original() -> None:
    for status in (RequestStatus.NEW, RequestStatus.TRIAGED, RequestStatus.PENDING_APPROVAL):
        assert _errors(_original(status)) == []


def test_the_original_must_exist_be_another_request_of_the_customer_and_be_open() -> None:
    assert _errors(None) == [(UserErrorCode.NOT_FOUND, ORIGINAL)]
    assert _errors(_original(), original_id=1) == [(UserErrorCode.VALIDATION_FAILED, ORIGINAL)]
    assert _errors(_original(customer_id=8)) == [(UserErrorCode.VALIDATION_FAILED, ORIGINAL)]
    for status in (RequestStatus.RESOLVED, RequestStatus.CLOSED, RequestStatus.CANCELLED):
        assert _errors(_original(status)) == [(UserErrorCode.VALIDATION_FAILED, ORIGINAL)]


def test_the_reason_is_required_and_not_found_comes_first() -> None:
    assert _errors(_original(), reason=" ") == [(UserErrorCode.VALIDATION_FAILED, ("input", "reason"))]
    errors = duplicate_errors(
        duplicate_id=1, duplicate_customer_id=7, original_id=2, original=None, reason=""
    )
    chosen = first_error(errors)
    assert chosen is not None and chosen.code is UserErrorCode.NOT_FOUND and chosen.field == ORIGINAL
