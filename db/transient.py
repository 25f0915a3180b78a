"""Failures that say nothing about the caller's input: a transaction to run again, a database
that cannot be reached; and the values PostgreSQL refused (the caller's input after all).

Transactions to run again:

PostgreSQL ends one of two transactions that wait on each other's locks (deadlock detected,
40P01; e.g. the SLA engine's batch and a mutation meeting on the metrics rollup rows or the
audit head in opposite orders), and a serializable transaction that lost a race
(serialization failure, 40001). Neither changed anything: the whole transaction can be
run again from the start.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError

__all__ = ["RETRYABLE_SQLSTATES", "data_exception", "database_unavailable", "retryable_sqlstate"]

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def retryable_sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a deadlock or serialization failure behind `exc`, else None."""
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return state if state in RETRYABLE_SQLSTATES else None


# Connection exceptions (08), the server shutting down or starting (57P01..57P03), too many
# connections (53300): the database cannot be reached, whatever the operation asked.
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P0", "53300")


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database cannot be reached right now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, SATimeoutError | OSError | asyncpg.exceptions.InterfaceError):
            # A pool that hands out no connection, a refused or reset socket, a closed connection.
            return True
        if isinstance(
            current, asyncpg.exceptions.PostgresConnectionError | asyncpg.exceptions.CannotConnectNowError
        ):
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False


def data_exception(exc: BaseException) -> str | None:
    """PostgreSQL's (or the driver's) message when it refused a value the caller gave (SQLSTATE
    class 22: a NUL character, a number or date out of range), else None."""
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return None
        if isinstance(current, asyncpg.exceptions.DataError):
            return str(current)
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state.startswith("22"):
            return str(getattr(current, "args", [""])[0] or current).splitlines()[0]
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None
