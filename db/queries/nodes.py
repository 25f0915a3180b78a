"""Global-ID look-ups: rows of one node type by primary key, scoped in SQL (one statement per type)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries.requests import fetch_request_rows
from db.queries.scope import CustomerScope, id_in, in_scope
from db.queries.timeline import comment_visible, event_visible
from db.tables import (
    ADJUSTMENTS,
    APPROVALS,
    ATTACHMENTS,
    AUDIT,
    CALENDARS,
    COMMENTS,
    CONTACTS,
    CONTRACTS,
    CUSTOMERS,
    EVENTS,
    INBOUND_MAILS,
    INVOICES,
    OUTBOUND_MAILS,
    PAYMENTS,
    POLICIES,
    REQUESTS,
    STAFF,
    TEAMS,
    columns,
)
from records.events import EventRow
from records.mail import AttachmentRow, ContactRow, InboundMailRow, OutboundMailRow
from records.rows import (
    AdjustmentRow,
    ApprovalRow,
    AuditRow,
    CalendarRow,
    CommentRow,
    ContractRow,
    CustomerRow,
    InvoiceRow,
    PaymentRow,
    PolicyRow,
    Row,
    StaffRow,
    TeamRow,
)

__all__ = ["NODE_TYPES", "WEBHOOK_NODE_TYPES", "attachment_visible", "fetch_nodes"]


@dataclass(frozen=True)
class _Source:
    table: Table
    row_type: type[Row]
    # The customer column that scopes the row (None: reference data, e.g. teams), and its join.
    customer: ColumnElement[Any] | None = None
    joined: FromClause | None = None
    key: str = "id"


_SOURCES: dict[str, _Source] = {
    "Customer": _Source(CUSTOMERS, CustomerRow, CUSTOMERS.c.id),
    "Contract": _Source(CONTRACTS, ContractRow, CONTRACTS.c.customer_id),
    "Invoice": _Source(INVOICES, InvoiceRow, INVOICES.c.customer_id),
    "Payment": _Source(PAYMENTS, PaymentRow, PAYMENTS.c.customer_id),
    "Adjustment": _Source(
        ADJUSTMENTS,
        AdjustmentRow,
        INVOICES.c.customer_id,
        ADJUSTMENTS.join(INVOICES, INVOICES.c.id == ADJUSTMENTS.c.invoice_id),
    ),
    "Comment": _Source(
        COMMENTS,
        CommentRow,
        REQUESTS.c.customer_id,
        COMMENTS.join(REQUESTS, REQUESTS.c.id == COMMENTS.c.request_id),
    ),
    "Approval": _Source(
        APPROVALS,
        ApprovalRow,
        REQUESTS.c.customer_id,
        APPROVALS.join(REQUESTS, REQUESTS.c.id == APPROVALS.c.request_id),
    ),
    "RequestEvent": _Source(EVENTS, EventRow, EVENTS.c.customer_id),
    "Agent": _Source(STAFF, StaffRow),
    "Team": _Source(TEAMS, TeamRow),
    "SlaPolicy": _Source(POLICIES, PolicyRow),
    "BusinessCalendar": _Source(CALENDARS, CalendarRow),
    "AuditEntry": _Source(AUDIT, AuditRow, key="sequence"),
    # The email channel (EMAIL.md): contacts follow their customer; mails are staff-only reads
    # (the capability decides); attachments as `attachment_visible` says.
    "Contact": _Source(CONTACTS, ContactRow, CONTACTS.c.customer_id),
    "InboundMail": _Source(INBOUND_MAILS, InboundMailRow),
    "OutboundMail": _Source(OUTBOUND_MAILS, OutboundMailRow),
    "Attachment": _Source(
        ATTACHMENTS,
        AttachmentRow,
        joined=ATTACHMENTS.outerjoin(REQUESTS, REQUESTS.c.id == ATTACHMENTS.c.request_id).outerjoin(
            COMMENTS, COMMENTS.c.id == ATTACHMENTS.c.comment_id
        ),
    ),
}
# Partner webhooks are nodes too; their owner decides who reads them (resolvers.reads.webhooks).
WEBHOOK_NODE_TYPES = frozenset({"WebhookEndpoint", "WebhookDelivery"})
NODE_TYPES = frozenset({*_SOURCES, "ServiceRequest", *WEBHOOK_NODE_TYPES})


def attachment_visible(scope: CustomerScope, *, internal: bool, held_mail: bool) -> ColumnElement[bool]:
    """Whether an attachment (joined with its request and comment) is the caller's to read: one of a
    request in the caller's customers (an INTERNAL comment's only with `internal`), or one of held
    mail not linked to a request (only with `held_mail`: staff who read mail). The download and
    `node(id:)` both ask this."""
    return or_(
        and_(
            ATTACHMENTS.c.request_id.is_not(None),
            in_scope(REQUESTS.c.customer_id, scope),
            true() if internal else or_(COMMENTS.c.id.is_(None), COMMENTS.c.visibility != "INTERNAL"),
        ),
        and_(ATTACHMENTS.c.request_id.is_(None), true() if held_mail else false()),
    )


async def fetch_nodes(
    conn: AsyncConnection,
    type_name: str,
    ids: Sequence[int],
    *,
    scope: CustomerScope,
    internal: bool,
    held_mail: bool = False,
) -> dict[int, Any]:
    """Rows of `type_name` by primary key that exist for the caller (scope, INTERNAL comments).

    ServiceRequest answers RequestRecord (with policy and calendar); the others their row type.
    """
    if not ids:
        return {}
    if type_name == "ServiceRequest":
        return {r.request.id: r for r in await fetch_request_rows(conn, ids, scope=scope)}
    src = _SOURCES[type_name]
    table = src.table
    conds: list[ColumnElement[bool]] = [id_in(table.c[src.key], ids)]
    if src.customer is not None:
        conds.append(in_scope(src.customer, scope))
    if type_name == "Comment":
        conds.append(comment_visible(internal))
    elif type_name == "RequestEvent":
        conds.append(event_visible(internal))
    elif type_name == "Attachment":
        conds.append(attachment_visible(scope, internal=internal, held_mail=held_mail))
    stmt = select(*columns(table, src.row_type)).select_from(src.joined if src.joined is not None else table)
    stmt = stmt.where(true(), *conds)
    return {r[src.key]: src.row_type.of(r) for r in (await conn.execute(stmt)).mappings()}
