"""The JSON bodies of webhook deliveries (WEBHOOKS.md), read in batches for a claimed page.

An event's body carries the request as it is when the attempt is made (its
number, status, priority, version, customer), the event's facts and, when
the owner may see them, its comment and approval. The body is signed as the
exact bytes sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from auth.permissions import Capability, has
from auth.principal import Principal
from db.queries.lookups import rows_by_ids
from db.tables import APPROVALS, COMMENTS, CUSTOMERS, EVENTS, REQUESTS
from records.events import EventRow
from records.rows import ApprovalRow, CommentRow
from schema import ids
from schema.scalars import serialize_datetime

__all__ = ["EventFacts", "event_body", "load_facts", "ping_body"]


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the bodies of a page of deliveries need, read once for the page."""

    events: dict[int, EventRow]
    requests: dict[int, dict[str, Any]]
    comments: dict[int, CommentRow]
    approvals: dict[int, ApprovalRow]


async def load_facts(conn: AsyncConnection, event_ids: Sequence[int]) -> EventFacts:
    """The events, their requests (with the customer's external reference), comments, approvals."""
    events = await rows_by_ids(conn, EVENTS, EventRow, event_ids)
    request_ids = sorted({e.request_id for e in events.values()})
    requests: dict[int, dict[str, Any]] = {}
    if request_ids:
        r = REQUESTS.c
        stmt = (
            select(r.id, r.number, r.status, r.priority, r.version, CUSTOMERS.c.external_ref)
            .join(CUSTOMERS, CUSTOMERS.c.id == r.customer_id)
            .where(r.id.in_(request_ids))
        )
        requests = {row.id: dict(row._mapping) for row in await conn.execute(stmt)}
    comment_ids = [e.comment_id for e in events.values() if e.comment_id is not None]
    approval_ids = [e.approval_id for e in events.values() if e.approval_id is not None]
    comments = await rows_by_ids(conn, COMMENTS, CommentRow, comment_ids) if comment_ids else {}
    approvals = await rows_by_ids(conn, APPROVALS, ApprovalRow, approval_ids) if approval_ids else {}
    return EventFacts(events, requests, comments, approvals)


def event_body(facts: EventFacts, event: EventRow, owner: Principal) -> bytes:
    """`{"type", "timestamp", "data": {...}}` of an event, as the owner may see it."""
    request = facts.requests[event.request_id]
    comment = facts.comments.get(event.comment_id) if event.comment_id is not None else None
    approval = facts.approvals.get(event.approval_id) if event.approval_id is not None else None
    if approval is not None and not has(owner, Capability.READ_APPROVALS):
        approval = None  # as RequestEvent.approval answers such a caller
    data: dict[str, Any] = {
        "eventId": ids.encode("RequestEvent", event.id),
        "cursor": event.cursor_token,
        "serviceRequest": {
            "id": ids.encode("ServiceRequest", request["id"]),
            "number": request["number"],
            "status": request["status"],
            "priority": request["priority"],
            "version": request["version"],
            "customerExternalRef": request["external_ref"],
        },
        "fromStatus": event.from_status,
        "toStatus": event.to_status,
        "actorName": event.actor_name,
        "comment": None,
        "approval": None,
    }
    if comment is not None:
        gid = ids.encode("Comment", comment.id)
        data["comment"] = {"id": gid, "body": comment.body, "visibility": comment.visibility}
    if approval is not None:
        gid = ids.encode("Approval", approval.id)
        data["approval"] = {"id": gid, "kind": approval.kind, "status": approval.status}
    return _dump({"type": event.kind, "timestamp": serialize_datetime(event.occurred_at), "data": data})


def ping_body(endpoint_id: int, now: datetime) -> bytes:
    """sendTestWebhook's body."""
    data = {"endpointId": ids.encode("WebhookEndpoint", endpoint_id)}
    return _dump({"type": "PING", "timestamp": serialize_datetime(now), "data": data})


def _dump(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)
