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
from db.uow import UnitOfWork
from schema.context import Context
from schema.errors import Forbidden
from services.author import Author

__all__ = ["change", "require"]


def require(ctx: Context, capability: Capability) -> Principal:
    """The caller, when their role and scopes allow `capability` at all; else FORBIDDEN."""
    principal = ctx.principal
    if not has(principal, capability):
        raise Forbidden(f"not allowed: {capability.value.lower().replace('_', ' ')}")
    return principal


@asynccontextmanager
async def change(ctx: Context) -> AsyncIterator[UnitOfWork]:
    """One transaction for one mutation; PermissionDenied inside becomes FORBIDDEN."""
    try:
        async with UnitOfWork(
            ctx.services.sessionmaker,
            actor=Author.of(ctx.principal).recorded_as,
            now=ctx.now(),
            publisher=ctx.services.extras.get("event_hub"),
        ) as uow:
            yield uow
    except PermissionDenied as exc:
        raise Forbidden(str(exc)) from exc
    # Rows read by loaders before the change are stale now.
    ctx.reset_loaders()
