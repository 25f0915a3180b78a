"""Global-ID resolution for every node type, scoped to the caller: `node`, `nodes`, and the fresh
reads mutation payloads answer with.

The IDs are decoded and grouped by type, one scoped statement runs per type
(db.queries.nodes); rows outside the caller's scope, or of types the caller
may not read at all, answer null as if they did not exist.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from strawberry.dataloader import DataLoader

from auth.permissions import Capability
from db.queries import webhooks as webhook_queries
from db.queries.nodes import NODE_TYPES, WEBHOOK_NODE_TYPES, fetch_nodes
from records.rows import RequestRecord
from resolvers.context import Context
from resolvers.reads.webhooks import endpoint_owner
from schema import ids
from schema.types.agent import Agent, Team
from schema.types.approval import Approval
from schema.types.audit import AuditEntry
from schema.types.customer import Contract, Customer
from schema.types.invoice import Adjustment, Invoice, Payment
from schema.types.mail import Attachment, Contact, InboundMail, OutboundMail
from schema.types.node import Node
from schema.types.request import ServiceRequest
from schema.types.sla import BusinessCalendar, SlaPolicy
from schema.types.timeline import Comment, RequestEvent
from schema.types.webhook import WebhookDelivery, WebhookEndpoint

__all__ = ["load_nodes", "node_from_record", "node_of", "resolve_node_ids"]

N = TypeVar("N", bound=Node)

# Node type -> (its strawberry type's constructor from a row, the capability to read that type at all).
_TYPES: dict[str, tuple[Callable[[Any], Node], Capability]] = {
    "Customer": (Customer.from_row, Capability.READ_CUSTOMERS),
    "Contract": (Contract.from_row, Capability.READ_CUSTOMERS),
    "Invoice": (Invoice.from_row, Capability.READ_REQUESTS),
    "Payment": (Payment.from_row, Capability.READ_REQUESTS),
    "Adjustment": (Adjustment.from_row, Capability.READ_REQUESTS),
    "ServiceRequest": (ServiceRequest.from_row, Capability.READ_REQUESTS),
    "Comment": (Comment.from_row, Capability.READ_REQUESTS),
    "RequestEvent": (RequestEvent.from_row, Capability.READ_REQUESTS),
    "Approval": (Approval.from_row, Capability.READ_APPROVALS),
    "Agent": (Agent.from_row, Capability.READ_TEAMS),
    "Team": (Team.from_row, Capability.READ_TEAMS),
    "SlaPolicy": (SlaPolicy.from_row, Capability.READ_REQUESTS),
    "BusinessCalendar": (BusinessCalendar.from_row, Capability.READ_REQUESTS),
    "AuditEntry": (AuditEntry.from_row, Capability.READ_AUDIT),
    "Contact": (Contact.from_row, Capability.READ_CUSTOMERS),
    "Attachment": (Attachment.from_row, Capability.READ_REQUESTS),
    "InboundMail": (InboundMail.from_row, Capability.READ_MAIL),
    "OutboundMail": (OutboundMail.from_row, Capability.READ_MAIL),
}
assert set(_TYPES) | WEBHOOK_NODE_TYPES == NODE_TYPES


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


async def _webhook_nodes(ctx: Context, type_name: str, pks: Sequence[int]) -> dict[int, Node]:
    """Endpoints and deliveries of the endpoints the caller manages (a partner its own, an ADMIN
    all); nothing for anyone else, as if they did not exist. Two or three statements whatever the
    number of IDs."""
    if not ctx.can(Capability.MANAGE_WEBHOOKS):
        return {}
    owner = endpoint_owner(ctx)
    async with ctx.loaders.connection() as conn:
        if type_name == "WebhookEndpoint":
            views = await webhook_queries.endpoint_views(conn, pks, owner=owner)
            return {pk: WebhookEndpoint.from_row(*view) for pk, view in views.items()}
        deliveries = await webhook_queries.deliveries_by_id(conn, list(pks))
        endpoints = await webhook_queries.endpoint_views(
            conn, sorted({d.endpoint_id for d in deliveries.values()}), owner=owner
        )
        mine = {pk: d for pk, d in deliveries.items() if d.endpoint_id in endpoints}
        events = await webhook_queries.events_by_id(
            conn, [d.event_id for d in mine.values() if d.event_id is not None]
        )
    return {
        pk: WebhookDelivery.from_row(
            delivery,
            endpoint=WebhookEndpoint.from_row(*endpoints[delivery.endpoint_id]),
            event=None if delivery.event_id is None else events.get(delivery.event_id),
        )
        for pk, delivery in mine.items()
    }


async def load_nodes(ctx: Context, type_name: str, pks: Sequence[int]) -> dict[int, Node]:
    """Strawberry objects of one node type by pk, only those that exist for the caller (fresh read)."""
    if type_name in WEBHOOK_NODE_TYPES and pks:
        return await _webhook_nodes(ctx, type_name, pks)
    if type_name not in _TYPES or not pks:
        return {}
    build, capability = _TYPES[type_name]
    if not ctx.can(capability):
        return {}
    async with ctx.loaders.connection() as conn:
        rows = await fetch_nodes(
            conn,
            type_name,
            pks,
            scope=ctx.principal.customer_ids,
            internal=ctx.sees_internal_comments(),
            held_mail=ctx.can(Capability.READ_MAIL),
        )
    _prime(ctx, type_name, list(rows.values()))
    return {pk: build(row) for pk, row in rows.items()}


async def node_of(ctx: Context, node_type: type[N], pk: int) -> N | None:
    """The `node_type` object of row `pk` if it exists for the caller (scoped, fresh read): what
    mutation payloads answer with."""
    return cast(N | None, (await load_nodes(ctx, node_type.__name__, [pk])).get(pk))


def node_from_record(ctx: Context, record: RequestRecord) -> ServiceRequest | None:
    """A mutation payload's request from the row its transaction wrote (within the author's scope, as
    it was locked there): what `node_of` would read back after the commit, without the read."""
    build, capability = _TYPES["ServiceRequest"]
    if not ctx.can(capability):
        return None
    ctx.loaders.prime_requests([record])
    return cast(ServiceRequest, build(record))


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
