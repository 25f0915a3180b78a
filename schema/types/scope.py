"""What the caller may see, as the GraphQL types ask it (auth.permissions decides)."""

from __future__ import annotations

import functools
from datetime import UTC, date

from auth.permissions import Capability, has
from auth.principal import Principal
from db.queries.scope import CustomerScope
from schema.context import Context
from schema.errors import Forbidden

__all__ = ["Capability", "can", "customer_scope", "internal_comments", "require", "today", "visible"]


def customer_scope(ctx: Context) -> CustomerScope:
    """The caller's customers (None: all) — applied in SQL on every read path."""
    return ctx.principal.customer_ids


# `has` rebuilds the roles' capability set on each call, and a page of 50 requests asks a few
# hundred times; principals are immutable (and reused for a few seconds by server.authn).
_has = functools.lru_cache(maxsize=4096)(has)


def can(ctx: Context, capability: Capability) -> bool:
    """Whether the caller's roles and token scopes grant `capability`."""
    return _has(ctx.principal, capability)


def require(ctx: Context, capability: Capability) -> Principal:
    """The caller, when their roles and token scopes grant `capability`; else FORBIDDEN (top-level)."""
    principal = ctx.principal
    if not has(principal, capability):
        raise Forbidden(f"not allowed: {capability.value.lower().replace('_', ' ')}")
    return principal


def visible(ctx: Context, customer_id: int) -> bool:
    """Whether a row of this customer exists for the caller (defence in depth beside the SQL scope)."""
    return ctx.principal.sees_customer(customer_id)


def internal_comments(ctx: Context) -> bool:
    """Whether INTERNAL comments (and events about them) exist for the caller."""
    return has(ctx.principal, Capability.READ_INTERNAL_COMMENTS)


def today(ctx: Context) -> date:
    """The business date of the operation's clock (UTC)."""
    return ctx.now().astimezone(UTC).date()
