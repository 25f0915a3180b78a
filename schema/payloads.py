"""Mutation vocabulary shared by every payload: UserError and the input MoneyInput."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.errors import DomainError
from domain.errors import UserErrorCode as DomainUserErrorCode

__all__ = ["MoneyInput", "UserError", "UserErrorCode", "user_error"]

UserErrorCode = strawberry.enum(DomainUserErrorCode)
# For annotations: mypy cannot use the decorated value as a type.
_Code = DomainUserErrorCode


@strawberry.type
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault, e.g. ['input', 'disputedAmount']."
    )
    message: str
    code: _Code


@strawberry.input
class MoneyInput:
    amount: Decimal
    currency: str


def user_error(error: DomainError) -> UserError:
    return UserError(field=list(error.field) if error.field else None, message=error.message, code=error.code)
