"""Business-rule failures carrying the contract's `UserErrorCode`.

A mutation that breaks several rules reports only the first by the order of
LIFECYCLE.md §1; `first_error` is the one place that order is applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["DomainError", "UserErrorCode", "first_error", "not_found"]


class UserErrorCode(StrEnum):
    """The contract's error codes, declared in reporting precedence (first wins)."""

    NOT_FOUND = "NOT_FOUND"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    KYC_NOT_VERIFIED = "KYC_NOT_VERIFIED"
    OUTSIDE_DISPUTE_WINDOW = "OUTSIDE_DISPUTE_WINDOW"
    AMOUNT_EXCEEDS_OUTSTANDING = "AMOUNT_EXCEEDS_OUTSTANDING"
    SEGREGATION_OF_DUTIES = "SEGREGATION_OF_DUTIES"
    APPROVAL_LIMIT_EXCEEDED = "APPROVAL_LIMIT_EXCEEDED"
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
    DUPLICATE = "DUPLICATE"

    @property
    def precedence(self) -> int:
        """0 for the code reported first when several rules fail."""
        return _PRECEDENCE[self]


_PRECEDENCE = {code: index for index, code in enumerate(UserErrorCode)}


class DomainError(Exception):
    """A broken business rule: the mutation changes nothing and answers a userError."""

    def __init__(self, code: UserErrorCode, message: str, field: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # Path to the input field at fault, e.g. ("input", "financialImpact", "amount").
        self.field = field

    def __repr__(self) -> str:
        return f"DomainError({self.code.value}, {self.message!r}, field={self.field!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DomainError):
            return NotImplemented
        return (self.code, self.message, self.field) == (other.code, other.message, other.field)

    def __hash__(self) -> int:
        return hash((self.code, self.message, self.field))


def first_error(errors: Iterable[DomainError | None]) -> DomainError | None:
    """The error to report: lowest precedence, the earliest given on ties; None when all passed."""
    best: DomainError | None = None
    for error in errors:
        if error is not None and (best is None or error.code.precedence < best.code.precedence):
            best = error
    return best


def not_found(what: str, field: str) -> DomainError:
    """NOT_FOUND for the input field naming a row that does not exist for the caller."""
    return DomainError(UserErrorCode.NOT_FOUND, f"{what} not found", ("input", field))
