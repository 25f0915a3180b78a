"""Partner webhooks as SQL (WEBHOOKS.md): `webhookEndpoints` and `webhookDeliveries`.

The same rules as resolvers.reads.webhooks: MANAGE_WEBHOOKS or FORBIDDEN (answered by the
resolver path); a PARTNER manages its own endpoints, an ADMIN every one (db.repositories.webhooks.
owned_by, embedded); an endpoint the caller does not manage, or an ID of another type, is
NOT_FOUND, which the resolver path reports (the statement writes REFUSED for it). A delivery's
event is read as the resolver reads it (by id, unscoped: deliveries exist only for events their
endpoint's owner may see); its relations are scoped like every RequestEvent's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from graphql import FieldNode
from sqlalchemy import literal_column

from auth.permissions import Capability
from db.queries.webhooks import DELIVERY_ORDER, ENDPOINT_ORDER
from db.repositories.webhooks import owned_by
from db.tables import WEBHOOK_ENDPOINTS
from domain.enums import Role
from planner.builder import Binding, Builder, Unplannable
from planner.connections import Listing, compile_connection
from planner.objects import Handler, _bool, _datetime, _id, _int, _text, compile_object, to_one
from planner.sa import embed
from planner.sql import REFUSED, json_text

__all__ = ["HANDLERS", "ROOT_FIELDS", "TABLES"]

TABLES = {"WebhookEndpoint": "webhook_endpoints", "WebhookDelivery": "webhook_deliveries"}


def _manager(b: Builder) -> None:
    """resolvers.reads.webhooks.endpoint_owner: FORBIDDEN without MANAGE_WEBHOOKS."""
    if not b.access.can(Capability.MANAGE_WEBHOOKS):
        raise Unplannable("forbidden", Capability.MANAGE_WEBHOOKS.value)
    if Role.PARTNER in b.access.roles:
        b.check(_no_partner)


def _no_partner(binding: Binding) -> str | None:
    # A PARTNER token without a partner id would manage every endpoint (owned_by(None)): rare
    # enough for the resolver path to decide.
    return "no_partner_id" if binding.principal.partner_id is None else None


def _owned(b: Builder, alias: str) -> str:
    """db.repositories.webhooks.owned_by for the caller: a partner its own endpoints, else all."""
    if Role.PARTNER not in b.access.roles:
        return embed(owned_by(None), {WEBHOOK_ENDPOINTS: alias})
    partner = b.shared("partner_id", lambda binding: binding.principal.partner_id, "bigint")
    return embed(owned_by(literal_column(partner)), {WEBHOOK_ENDPOINTS: alias})  # type: ignore[arg-type]


def _objects(b: Builder, type_name: str) -> Callable[[str, list[FieldNode]], str]:
    return lambda row, nodes: compile_object(b, type_name, row, nodes)


def _endpoints(b: Builder, nodes: list[FieldNode]) -> str:
    """webhookEndpoints: those the caller manages, oldest first."""
    _manager(b)
    definition = b.field_definition("Query", "webhookEndpoints")
    listing = Listing("webhook_endpoints", "WebhookEndpoint", ENDPOINT_ORDER, lambda a: [_owned(b, a)])
    return compile_connection(
        b, nodes, definition, "WebhookEndpointConnection", listing, _objects(b, "WebhookEndpoint")
    )


def _endpoint_pk(supply: Callable[[Binding], dict[str, Any]], binding: Binding) -> int | None:
    from schema import ids

    return ids.decode_as(supply(binding)["endpointId"], "WebhookEndpoint")


def _endpoint_check(supply: Callable[[Binding], dict[str, Any]], binding: Binding) -> str | None:
    from schema import ids
    from schema.errors import BadUserInput

    try:
        found = ids.decode_as(supply(binding)["endpointId"], "WebhookEndpoint")
    except BadUserInput:
        return "bad_id"
    return "not_found" if found is None else None


def _statuses(supply: Callable[[Binding], dict[str, Any]], binding: Binding) -> list[str]:
    return [str(getattr(v, "value", v)) for v in supply(binding)["status"]]


def _deliveries(b: Builder, nodes: list[FieldNode]) -> str:
    """webhookDeliveries(endpointId:): one managed endpoint's log, newest first; REFUSED (the
    resolver path's NOT_FOUND) when the caller does not manage that endpoint."""
    _manager(b)
    definition = b.field_definition("Query", "webhookDeliveries")
    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])
    b.check(partial(_endpoint_check, supply))
    endpoint = b.param(partial(_endpoint_pk, supply), "bigint")
    conditions = [f"xrq.endpoint_id = {endpoint}"]
    if args.get("status") is not None:
        # db.queries.webhooks._deliveries: `status IN (...)`; an empty list matches nothing.
        conditions.append(f"xrq.status = ANY({b.param(partial(_statuses, supply), 'text[]')})")
    listing = Listing(
        "webhook_deliveries",
        "WebhookDelivery",
        DELIVERY_ORDER,
        lambda a: [c.replace("xrq.", f"{a}.") for c in conditions],
    )
    value = compile_connection(
        b, nodes, definition, "WebhookDeliveryConnection", listing, _objects(b, "WebhookDelivery")
    )
    e = b.alias("w")
    managed = f"EXISTS (SELECT 1 FROM webhook_endpoints {e} WHERE {e}.id = {endpoint} AND {_owned(b, e)})"
    return f"CASE WHEN {managed} THEN {value} ELSE {REFUSED} END"


def _owner_client_id(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """db.queries.webhooks: the owning partner's client id (an outer join; null for an ADMIN's)."""
    return json_text(f"(SELECT p.client_id FROM partners p WHERE p.id = {row}.owner_partner_id)")


def _event_kinds(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    return f"array_to_json({row}.event_kinds)::text"


def _endpoint(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    return to_one(b, "WebhookEndpoint", f"{row}.endpoint_id", nodes)


def _event(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    # resolvers.reads.webhooks: db.queries.webhooks.events_by_id, by id alone.
    return to_one(b, "RequestEvent", f"{row}.event_id", nodes)


HANDLERS: dict[str, dict[str, Handler]] = {
    "WebhookEndpoint": {
        "id": _id("WebhookEndpoint"),
        "url": _text("url"),
        "description": _text("description"),
        "eventKinds": _event_kinds,
        "enabled": _bool("enabled"),
        "disabledReason": _text("disabled_reason"),
        "createdAt": _datetime("created_at"),
        "ownerClientId": _owner_client_id,
    },
    "WebhookDelivery": {
        "id": _id("WebhookDelivery"),
        "endpoint": _endpoint,
        "event": _event,
        "webhookId": _text("webhook_id"),
        "status": _text("status"),
        "attempts": _int("attempts"),
        "nextAttemptAt": _datetime("next_attempt_at"),
        "lastStatusCode": _int("last_status_code"),
        "lastError": _text("last_error"),
        "lastResponseBody": _text("last_response_body"),
        "createdAt": _datetime("created_at"),
        "deliveredAt": _datetime("delivered_at"),
    },
}

ROOT_FIELDS = {"webhookEndpoints": _endpoints, "webhookDeliveries": _deliveries}
