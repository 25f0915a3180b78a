"""What every mutation resolver shares: who acts, one transaction, errors to payloads.

A mutation reads: authorize (`require`), open `change(...)`, lock what it
changes, ask the domain, write, record events and audit, commit, and return
its payload. A `DomainError` raised anywhere inside becomes the payload's
`userErrors` with nothing written (the transaction is rolled back).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from auth.permissions import Capability, PermissionDenied, has
from auth.principal import Principal
from db.uow import ChangeActor, UnitOfWork
from domain.lifecycle import Actor
from schema.context import Context
from schema.errors import Forbidden

__all__ = ["change", "change_actor", "domain_actor", "require"]


def require(ctx: Context, capability: Capability) -> Principal:
    """The caller, when their role and scopes allow `capability` at all; else FORBIDDEN."""
    principal = ctx.principal
    if not has(principal, capability):
        raise Forbidden(f"not allowed: {capability.value.lower().replace('_', ' ')}")
    return principal


def change_actor(principal: Principal) -> ChangeActor:
    return ChangeActor(subject=principal.subject, name=principal.display_name, staff_id=principal.staff_id)


def domain_actor(principal: Principal, customer_id: int) -> Actor:
    """The lifecycle's view of the caller acting on a request of `customer_id`."""
    return Actor(
        roles=principal.roles,
        staff_id=principal.staff_id,
        acts_for_customer=principal.sees_customer(customer_id),
    )


@asynccontextmanager
async def change(ctx: Context) -> AsyncIterator[UnitOfWork]:
    """One transaction for one mutation; PermissionDenied inside becomes FORBIDDEN."""
    try:
        async with UnitOfWork(
            ctx.services.sessionmaker,
            actor=change_actor(ctx.principal),
            now=ctx.now(),
            publisher=ctx.services.extras.get("event_hub"),
        ) as uow:
            yield uow
    except PermissionDenied as exc:
        raise Forbidden(str(exc)) from exc
    # Rows read by loaders before the change are stale now.
    ctx.reset_loaders()
