"""The tables as SQLAlchemy Core objects, and the select list of each row record (records.rows)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.sql.elements import Label

from db import models as m
from records.rows import Row

__all__ = [
    "ADJUSTMENTS",
    "APPROVALS",
    "ATTACHMENTS",
    "AUDIT",
    "CALENDARS",
    "COMMENTS",
    "CONTACTS",
    "CONTRACTS",
    "CUSTOMERS",
    "DECISIONS",
    "EVENTS",
    "INBOUND_MAILS",
    "INVOICES",
    "MAILBOXES",
    "MAIL_CURSORS",
    "OUTBOUND_MAILS",
    "PARTNER_CUSTOMERS",
    "PAYMENTS",
    "POLICIES",
    "REQUESTS",
    "STAFF",
    "TEAMS",
    "TEAM_MEMBERS",
    "WEBHOOK_DELIVERIES",
    "WEBHOOK_ENDPOINTS",
    "columns",
]


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


CUSTOMERS = _t(m.Customer)
CONTRACTS = _t(m.Contract)
INVOICES = _t(m.Invoice)
PAYMENTS = _t(m.Payment)
STAFF = _t(m.Staff)
TEAMS = _t(m.Team)
TEAM_MEMBERS = _t(m.TeamMember)
POLICIES = _t(m.SlaPolicy)
CALENDARS = _t(m.BusinessCalendar)
REQUESTS = _t(m.ServiceRequest)
COMMENTS = _t(m.Comment)
APPROVALS = _t(m.Approval)
DECISIONS = _t(m.ApprovalDecision)
ADJUSTMENTS = _t(m.Adjustment)
EVENTS = _t(m.RequestEvent)
AUDIT = _t(m.AuditEntry)
PARTNER_CUSTOMERS = _t(m.PartnerCustomer)
MAILBOXES = _t(m.Mailbox)
CONTACTS = _t(m.Contact)
INBOUND_MAILS = _t(m.InboundMail)
ATTACHMENTS = _t(m.Attachment)
OUTBOUND_MAILS = _t(m.OutboundMail)
MAIL_CURSORS = _t(m.MailCursor)
WEBHOOK_ENDPOINTS = _t(m.WebhookEndpoint)
WEBHOOK_DELIVERIES = _t(m.WebhookDelivery)

_COLUMNS: dict[tuple[Table, type, str], tuple[Label[Any], ...]] = {}


def columns(table: Table, row_type: type[Row], prefix: str = "") -> list[Label[Any]]:
    """The select list producing `row_type` (labels carry `prefix` when several tables are joined)."""
    # Built once per (table, row type, prefix): labels are immutable and may be shared by statements.
    labels = _COLUMNS.get((table, row_type, prefix))
    if labels is None:
        labels = tuple(table.c[f.name].label(prefix + f.name) for f in fields(row_type))  # type: ignore[arg-type]
        _COLUMNS[(table, row_type, prefix)] = labels
    return list(labels)
