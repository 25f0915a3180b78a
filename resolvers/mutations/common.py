"""The one mutation wrapper: a service call in one transaction, its broken rule as the payload's answer.

A mutation resolver reads: authorize (`Context.require`), decode the IDs (garbage:
BAD_USER_INPUT; an ID of another type names no row: NOT_FOUND), `run` one
service, return the payload: the objects as now read in the caller's scope,
or the broken business rule as `userErrors` with nothing written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from db.constraints import constraint_error
from db.uow import UnitOfWork
from domain.errors import DomainError
from domain.lifecycle import TransitionForbidden
from resolvers.context import Context
from schema.errors import Forbidden
from services.author import Author

__all__ = ["run"]

T = TypeVar("T")


async def run(ctx: Context, work: Callable[[UnitOfWork], Awaitable[T]]) -> T | DomainError:
    """`work` (one service call) in one unit of work, committed when it returns.

    A broken business rule rolls everything back and comes back as its DomainError, for the
    payload's userErrors: also one a database constraint caught (db.constraints) when a
    concurrent writer slipped past the locked checks. A role that may never perform the
    action (TransitionForbidden) is FORBIDDEN.
    """
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
    # Rows read by loaders before the change are stale now.
    ctx.reset_loaders()
    return result
