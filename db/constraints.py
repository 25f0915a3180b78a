"""Database constraints that back a business rule, and the rule each one stands for.

The services check every rule with the rows locked; a CHECK or unique
constraint is the last line of defence when a concurrent writer slipped
past. `constraint_error` turns such a violation back into the rule's
DomainError, so every caller answers it like the locked check would.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from domain.errors import DomainError, UserErrorCode

__all__ = ["constraint_error"]


# Constraint names (db.models naming convention) and the business rule each one backs.
_CONSTRAINT_RULES = {
    "ck_approvals_consumed_within": DomainError(
        UserErrorCode.APPROVAL_REQUIRED,
        "the approval's remaining amount does not cover this amount",
        ("input", "approvalId"),
    ),
    "ck_invoices_outstanding_not_negative": DomainError(
        UserErrorCode.AMOUNT_EXCEEDS_OUTSTANDING,
        "the amount exceeds the invoice's outstanding amount",
        ("input", "amount", "amount"),
    ),
    "uq_approval_decisions_approval_approver": DomainError(
        UserErrorCode.SEGREGATION_OF_DUTIES, "the approvals of one approval come from distinct people"
    ),
}


def constraint_error(exc: IntegrityError) -> DomainError | None:
    """The business rule a violated database constraint stands for (the last line of defence
    behind the locked checks), or None for any other integrity error."""
    name = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None) or getattr(
        exc.orig, "constraint_name", None
    )
    if name is None:
        text = str(exc.orig)
        name = next((n for n in _CONSTRAINT_RULES if n in text), None)
    return _CONSTRAINT_RULES.get(name) if name is not None else None
