"""Top-level GraphQL errors with a machine-readable `extensions.code`.

Business-rule failures are `userErrors` in payloads, not these; these are
for authorization failures and malformed arguments (ACCESS.md).
"""

from __future__ import annotations

from graphql import GraphQLError

__all__ = ["BadUserInput", "CodedError", "Forbidden", "NotFound", "Unauthenticated"]


class CodedError(GraphQLError):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": self.code})


class Forbidden(CodedError):
    """The caller's role or scopes do not allow this operation at all."""

    code = "FORBIDDEN"


class BadUserInput(CodedError):
    """Malformed arguments: out-of-range page sizes, unparsable IDs or cursors."""

    code = "BAD_USER_INPUT"


class NotFound(CodedError):
    """A query argument naming a row that does not exist for the caller (e.g. another partner's
    webhook endpoint, WEBHOOKS.md); mutations answer this as a userError instead."""

    code = "NOT_FOUND"


class Unauthenticated(CodedError):
    code = "UNAUTHENTICATED"
