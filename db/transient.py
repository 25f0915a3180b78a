"""Failures of a transaction that say nothing about its input: running it again may succeed.

PostgreSQL ends one of two transactions that wait on each other's locks (deadlock detected,
40P01; e.g. the SLA engine's batch and a mutation meeting on the metrics rollup rows or the
audit head in opposite orders), and a serializable transaction that lost a race
(serialization failure, 40001). Neither changed anything: the whole transaction can be
run again from the start.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

__all__ = ["RETRYABLE_SQLSTATES", "retryable_sqlstate"]

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def retryable_sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a deadlock or serialization failure behind `exc`, else None."""
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return state if state in RETRYABLE_SQLSTATES else None
