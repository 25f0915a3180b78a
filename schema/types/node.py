"""The Node interface and global-ID resolution for every node type, scoped to the caller.

`node`/`nodes` decode the IDs, group them by type and run one scoped
statement per type (db.queries.nodes); rows outside the caller's scope, or
of types the caller may not read at all, answer null as if they did not exist.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

import schema.enums  # noqa: F401 - registers the domain enums as GraphQL enums before any type uses them
from auth.permissions import Capability
from db.queries.nodes import NODE_TYPES, fetch_nodes
from schema import ids
from schema.context import Context
from schema.types.scope import can, customer_scope, internal_comments

__all__ = ["Node", "load_node", "load_nodes", "resolve_node_ids"]


@strawberry.interface
class Node:
    id: strawberry.ID


# Node type -> (module of its strawberry type, capability needed to read that type at all).
_TYPES: dict[str, tuple[str, Capability]] = {
    "Customer": ("customer", Capability.READ_CUSTOMERS),
    "Contract": ("customer", Capability.READ_CUSTOMERS),
    "Invoice": ("invoice", Capability.READ_REQUESTS),
    "Payment": ("invoice", Capability.READ_REQUESTS),
    "Adjustment": ("invoice", Capability.READ_REQUESTS),
    "ServiceRequest": ("request", Capability.READ_REQUESTS),
    "Comment": ("timeline", Capability.READ_REQUESTS),
    "RequestEvent": ("timeline", Capability.READ_REQUESTS),
    "Approval": ("approval", Capability.READ_APPROVALS),
    "Agent": ("agent", Capability.READ_TEAMS),
    "Team": ("agent", Capability.READ_TEAMS),
    "SlaPolicy": ("sla", Capability.READ_REQUESTS),
    "BusinessCalendar": ("sla", Capability.READ_REQUESTS),
    "AuditEntry": ("audit", Capability.READ_AUDIT),
}
assert set(_TYPES) == NODE_TYPES


def _builder(type_name: str) -> Callable[[Any], Any]:
    # Imported on use: every type module imports Node from here.
    module = importlib.import_module(f"schema.types.{_TYPES[type_name][0]}")
    return getattr(module, type_name).from_row  # type: ignore[no-any-return]


def _prime(ctx: Context, type_name: str, rows: Sequence[Any]) -> None:
    loaders = ctx.loaders
    if type_name == "ServiceRequest":
        loaders.prime_requests(rows)
        return
    loaders_by_type: dict[str, DataLoader[int, Any]] = {
        "Customer": loaders.customer,
        "Contract": loaders.contract,
        "Invoice": loaders.invoice,
        "Payment": loaders.payment,
        "Adjustment": loaders.adjustment,
        "Comment": loaders.comment,
        "Approval": loaders.approval,
        "Agent": loaders.staff,
        "Team": loaders.team,
        "SlaPolicy": loaders.policy,
        "BusinessCalendar": loaders.calendar,
    }
    loader = loaders_by_type.get(type_name)
    if loader is not None:
        for row in rows:
            loader.prime(row.id, row)


async def load_nodes(ctx: Context, type_name: str, pks: Sequence[int]) -> dict[int, Any]:
    """Strawberry objects of one node type by pk, only those that exist for the caller (fresh read)."""
    if type_name not in _TYPES or not can(ctx, _TYPES[type_name][1]) or not pks:
        return {}
    async with ctx.services.engine.connect() as conn:
        rows = await fetch_nodes(
            conn, type_name, pks, scope=customer_scope(ctx), internal=internal_comments(ctx)
        )
    _prime(ctx, type_name, list(rows.values()))
    build = _builder(type_name)
    return {pk: build(row) for pk, row in rows.items()}


async def load_node(ctx: Context, type_name: str, pk: int) -> Any:
    """One node of `type_name` if it exists for the caller, else None."""
    return (await load_nodes(ctx, type_name, [pk])).get(pk)


async def resolve_node_ids(ctx: Context, global_ids: Sequence[str]) -> list[Node | None]:
    """`nodes(ids:)`: one statement per node type, answers in the order asked (null: not found)."""
    decoded = [ids.decode(g) for g in global_ids]
    wanted: dict[str, list[int]] = defaultdict(list)
    for type_name, pk in decoded:
        wanted[type_name].append(pk)
    found: dict[tuple[str, int], Node] = {}
    for type_name, pks in wanted.items():
        for pk, obj in (await load_nodes(ctx, type_name, pks)).items():
            found[(type_name, pk)] = obj
    return [found.get(key) for key in decoded]
