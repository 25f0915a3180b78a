"""What a refused operation and every response report (LIMITS.md): codes, status, `extensions.cost`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "PERSISTED_QUERY_NOT_FOUND",
    "QUERY_TOO_COMPLEX",
    "RATE_LIMITED",
    "CostReport",
    "Refusal",
    "instant",
]

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
RATE_LIMITED = "RATE_LIMITED"
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"


@dataclass(slots=True)
class CostReport:
    """`extensions.cost`: the operation's cost and limit, and the caller's budget where one applies."""

    requested: int
    limit: int
    remaining: int | None = None
    reset_at: str | None = None  # ISO 8601, UTC (see `instant`)

    def as_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {"requested": self.requested, "limit": self.limit}
        if self.remaining is not None and self.reset_at is not None:
            report["remaining"] = self.remaining
            report["resetAt"] = self.reset_at
        return report


def instant(moment: datetime) -> str:
    """How `extensions.cost.resetAt` spells a time: ISO 8601 in UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Refusal(Exception):
    """An operation refused before it ran; it took no rate-limit points.

    `status` None: a validation error (400 with application/graphql-response+json, 200 with
    application/json, per the GraphQL-over-HTTP spec); else that HTTP status in any case.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None,
        cost: CostReport | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.cost = cost
        self.retry_after = retry_after

    def error(self) -> dict[str, Any]:
        """The GraphQL error (formatted), with the cost in its extensions when known."""
        extensions: dict[str, Any] = {"code": self.code}
        if self.cost is not None:
            extensions["cost"] = self.cost.as_dict()
        return {"message": self.message, "extensions": extensions}

    def body(self) -> dict[str, Any]:
        """A whole response: the error, and `extensions.cost` at the top level when known."""
        body: dict[str, Any] = {"errors": [self.error()]}
        if self.cost is not None:
            body["extensions"] = {"cost": self.cost.as_dict()}
        return body
