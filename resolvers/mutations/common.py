"""The one mutation wrapper: a service call in one transaction, its broken rule as the payload's answer.

A mutation resolver reads: authorize (`Context.require`), decode the IDs (garbage:
BAD_USER_INPUT; an ID of another type names no row: NOT_FOUND), `run` one
service, return the payload: the objects as now read in the caller's scope,
or the broken business rule as `userErrors` with nothing written.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError

from db.constraints import constraint_error
from db.transient import retryable_sqlstate
from db.uow import UnitOfWork
from domain.errors import DomainError
from domain.lifecycle import TransitionForbidden
from resolvers.context import Context
from schema.errors import Forbidden
from services.author import Author

__all__ = ["MAX_ATTEMPTS", "run"]

log = logging.getLogger("casegraph.mutations")

T = TypeVar("T")

# A deadlock or serialization failure ends the transaction with nothing written; the mutation
# runs again from the start, up to this many times in all, after a short randomised pause.
MAX_ATTEMPTS = 4
_PAUSE_SECONDS = 0.02


async def run(ctx: Context, work: Callable[[UnitOfWork], Awaitable[T]]) -> T | DomainError:
    """`work` (one service call) in one unit of work, committed when it returns.

    A broken business rule rolls everything back and comes back as its DomainError, for the
    payload's userErrors: also one a database constraint caught (db.constraints) when a
    concurrent writer slipped past the locked checks. A role that may never perform the
    action (TransitionForbidden) is FORBIDDEN. A transaction PostgreSQL ended to break a
    deadlock or a serialization conflict is run again, transparently (`work` must therefore
    only act through the unit of work it is given).
    """
    attempt = 1
    while True:
        try:
            result = await _attempt(ctx, work)
        except DBAPIError as exc:
            state = retryable_sqlstate(exc)
            if state is None or attempt >= MAX_ATTEMPTS:
                raise
            log.warning(
                "mutation transaction ended by PostgreSQL (%s), attempt %d: running it again", state, attempt
            )
            await asyncio.sleep(random.uniform(0.5, 1.5) * _PAUSE_SECONDS * attempt)
            attempt += 1
            continue
        if not isinstance(result, DomainError):
            # Rows read by loaders before the change are stale now.
            ctx.reset_loaders()
        return result


async def _attempt(ctx: Context, work: Callable[[UnitOfWork], Awaitable[T]]) -> T | DomainError:
    try:
        async with UnitOfWork(
            ctx.services.sessionmaker,
            actor=Author.of(ctx.principal).recorded_as,
            now=ctx.now(),
            publisher=ctx.services.event_hub,
        ) as uow:
            result = await work(uow)
            await uow.commit()
    except DomainError as error:
        return error
    except TransitionForbidden as exc:
        raise Forbidden(str(exc)) from exc
    except IntegrityError as exc:
        rule = constraint_error(exc)
        if rule is None:
            raise
        return rule
    return result
