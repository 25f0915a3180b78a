"""Plain records of the email channel's rows (EMAIL.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from records.rows import Row

__all__ = ["AttachmentRow", "ContactRow", "InboundMailRow", "MailboxRow", "OutboundMailRow"]


@dataclass(frozen=True, slots=True)
class MailboxRow(Row):
    id: int
    address: str
    name: str | None
    team_id: int | None
    default_type: str
    active: bool


@dataclass(frozen=True, slots=True)
class ContactRow(Row):
    id: int
    email: str
    name: str | None
    customer_id: int
    active: bool
    bouncing: bool


@dataclass(frozen=True, slots=True)
class InboundMailRow(Row):
    id: int
    message_id: str
    mailbox_id: int | None
    from_address: str
    to_addresses: list[str]
    subject: str
    received_at: datetime
    status: str
    reason: str | None
    text_body: str
    request_id: int | None
    comment_id: int | None
    contact_id: int | None


@dataclass(frozen=True, slots=True)
class AttachmentRow(Row):
    """An attachment without its bytes (those are read only by the download)."""

    id: int
    inbound_mail_id: int | None
    request_id: int | None
    comment_id: int | None
    filename: str
    content_type: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboundMailRow(Row):
    id: int
    event_id: int
    request_id: int
    kind: str
    recipient: str
    from_address: str
    subject: str
    message_id: str
    in_reply_to: str | None
    references: str | None
    body_text: str
    body_html: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
