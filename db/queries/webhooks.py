"""Reads of webhook endpoints and their delivery log, within what the caller manages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db import models as m
from db.queries import keyset
from db.queries.keyset import KeyPart, Ordering, Page, PageRequest
from db.queries.lookups import rows_by_ids
from db.repositories.webhooks import owned_by
from db.tables import EVENTS, WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, columns
from records.events import EventRow
from records.webhooks import WebhookDeliveryRow, WebhookEndpointRow

__all__ = [
    "DELIVERY_ORDER",
    "ENDPOINT_ORDER",
    "EndpointView",
    "count_deliveries",
    "count_endpoints",
    "deliveries_by_id",
    "endpoint_view",
    "endpoint_views",
    "events_by_id",
    "fetch_delivery_page",
    "fetch_endpoint_page",
]

E = WEBHOOK_ENDPOINTS.c
D = WEBHOOK_DELIVERIES.c
PARTNERS = m.Partner.__table__

ENDPOINT_ORDER = Ordering("WebhookEndpoint:ID", (KeyPart(E.id, "int"),))
DELIVERY_ORDER = Ordering("WebhookDelivery:ID:DESC", (KeyPart(D.id, "int"),), descending=True)

EndpointView = tuple[WebhookEndpointRow, str | None]


def _endpoints(cols: Sequence[Any], owner: int | None) -> Select[Any]:
    joined = WEBHOOK_ENDPOINTS.outerjoin(PARTNERS, PARTNERS.c.id == E.owner_partner_id)
    return select(*cols).select_from(joined).where(owned_by(owner))


def _view(r: Any) -> EndpointView:
    return WebhookEndpointRow.of(r), r["owner_client_id"]


def _endpoint_cols() -> list[Any]:
    return [*columns(WEBHOOK_ENDPOINTS, WebhookEndpointRow), PARTNERS.c.client_id.label("owner_client_id")]


async def fetch_endpoint_page(
    conn: AsyncConnection, *, owner: int | None, page: PageRequest
) -> tuple[Page, list[EndpointView]]:
    """Endpoints the caller manages (`owner`: a partner's id; None: all), oldest first."""
    result = await keyset.fetch_page(conn, _endpoints(_endpoint_cols(), owner), ENDPOINT_ORDER, page)
    return result, [_view(r) for r in result.rows]


async def count_endpoints(conn: AsyncConnection, *, owner: int | None) -> int:
    return await keyset.count(conn, _endpoints([E.id], owner))


async def endpoint_view(conn: AsyncConnection, *, endpoint_id: int, owner: int | None) -> EndpointView | None:
    return (await endpoint_views(conn, [endpoint_id], owner=owner)).get(endpoint_id)


async def endpoint_views(
    conn: AsyncConnection, endpoint_ids: Sequence[int], *, owner: int | None
) -> dict[int, EndpointView]:
    """The endpoints among `endpoint_ids` that the caller manages, by id, in one statement."""
    stmt = _endpoints(_endpoint_cols(), owner).where(E.id.in_(list(endpoint_ids)))
    return {r["id"]: _view(r) for r in (await conn.execute(stmt)).mappings()}


def _deliveries(cols: Sequence[Any], endpoint_id: int, statuses: Sequence[str] | None) -> Select[Any]:
    conds: list[ColumnElement[bool]] = [D.endpoint_id == endpoint_id]
    if statuses is not None:
        conds.append(D.status.in_(sorted(set(statuses))))
    return select(*cols).where(*conds)


async def fetch_delivery_page(
    conn: AsyncConnection, *, endpoint_id: int, statuses: Sequence[str] | None, page: PageRequest
) -> tuple[Page, list[WebhookDeliveryRow]]:
    """One endpoint's deliveries, newest first."""
    base = _deliveries(columns(WEBHOOK_DELIVERIES, WebhookDeliveryRow), endpoint_id, statuses)
    result = await keyset.fetch_page(conn, base, DELIVERY_ORDER, page)
    return result, [WebhookDeliveryRow.of(r) for r in result.rows]


async def count_deliveries(conn: AsyncConnection, *, endpoint_id: int, statuses: Sequence[str] | None) -> int:
    return await keyset.count(conn, _deliveries([D.id], endpoint_id, statuses))


async def events_by_id(conn: AsyncConnection, event_ids: Sequence[int]) -> dict[int, EventRow]:
    """The events of a page of deliveries, in one statement."""
    return await rows_by_ids(conn, EVENTS, EventRow, event_ids)


async def deliveries_by_id(
    conn: AsyncConnection, delivery_ids: Sequence[int]
) -> dict[int, WebhookDeliveryRow]:
    """Deliveries by primary key (`node(id:)`; whose endpoint they are decides who may read them)."""
    return await rows_by_ids(conn, WEBHOOK_DELIVERIES, WebhookDeliveryRow, delivery_ids)
