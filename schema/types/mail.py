"""The email channel's types (EMAIL.md): Contact, Attachment, InboundMail, OutboundMail."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from domain.enums import CommentVisibility, InboundMailStatus, OutboundMailStatus
from records.mail import AttachmentRow, ContactRow, InboundMailRow, OutboundMailRow
from schema import ids
from schema.context import TypeContext
from schema.types.node import Node
from schema.types.ready import now_or_later, optional, required
from schema.types.refs import CustomerRef, ServiceRequestRef

__all__ = ["Attachment", "Contact", "InboundMail", "OutboundMail", "attachment_path", "visible_attachments"]

Ctx = Info[TypeContext, None]


def attachment_path(attachment_id: int) -> str:
    return f"/attachments/{ids.encode('Attachment', attachment_id)}"


@strawberry.type(description="A customer's e-mail address casegraph knows (master data, EMAIL.md).")
class Contact(Node):
    row: strawberry.Private[ContactRow]
    email: str
    name: str | None
    active: bool
    bouncing: bool = strawberry.field(description="Mail to it bounced: casegraph sends it nothing more.")

    @classmethod
    def from_row(cls, row: ContactRow) -> Contact:
        return cls(
            id=strawberry.ID(ids.encode("Contact", row.id)),
            row=row,
            email=row.email,
            name=row.name,
            active=row.active,
            bouncing=row.bouncing,
        )

    @strawberry.field
    def customer(self, info: Ctx) -> CustomerRef:
        from schema.types.customer import Customer

        return required(info.context.loaders.customer, self.row.customer_id, Customer.from_row)


@strawberry.type(description="A file received with a mail, stored by casegraph.")
class Attachment(Node):
    row: strawberry.Private[AttachmentRow]
    filename: str
    content_type: str
    size: int
    created_at: datetime
    url: str = strawberry.field(description="Path of an authenticated GET (bearer token) that downloads it.")

    @classmethod
    def from_row(cls, row: AttachmentRow) -> Attachment:
        return cls(
            id=strawberry.ID(ids.encode("Attachment", row.id)),
            row=row,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            created_at=row.created_at,
            url=attachment_path(row.id),
        )


async def visible_attachments(info: Ctx, rows: list[AttachmentRow]) -> list[Attachment]:
    """The attachments the caller may see: those of INTERNAL comments are for staff only."""
    ctx = info.context
    if not ctx.sees_internal_comments():
        comment_ids = [r.comment_id for r in rows if r.comment_id is not None]
        comments = await ctx.loaders.comment.load_many(comment_ids)
        internal = {
            c.id for c in comments if c is not None and c.visibility == CommentVisibility.INTERNAL.value
        }
        rows = [r for r in rows if r.comment_id not in internal]
    return [Attachment.from_row(r) for r in rows]


@strawberry.type(description="A received message, stored whole; staff only (EMAIL.md).")
class InboundMail(Node):
    row: strawberry.Private[InboundMailRow]
    message_id: str
    from_: str = strawberry.field(name="from")
    to: list[str]
    subject: str
    received_at: datetime
    status: InboundMailStatus
    reason: str | None
    text_body: str = strawberry.field(description="The whole text, quoted history included.")

    @classmethod
    def from_row(cls, row: InboundMailRow) -> InboundMail:
        return cls(
            id=strawberry.ID(ids.encode("InboundMail", row.id)),
            row=row,
            message_id=row.message_id,
            from_=row.from_address,
            to=list(row.to_addresses),
            subject=row.subject,
            received_at=row.received_at,
            status=InboundMailStatus(row.status),
            reason=row.reason,
            text_body=row.text_body,
        )

    @strawberry.field
    def service_request(self, info: Ctx) -> ServiceRequestRef | None:
        from schema.types.request import ServiceRequest

        if self.row.request_id is None:
            return None
        return optional(info.context.loaders.service_request, self.row.request_id, ServiceRequest.from_row)

    @strawberry.field
    def attachments(self, info: Ctx) -> list[Attachment]:
        build = lambda rows: [Attachment.from_row(r) for r in rows]  # noqa: E731
        return now_or_later(info.context.loaders.attachments_by_inbound, self.row.id, build)


@strawberry.type(description="A mail casegraph sends: one per (event, recipient); staff only (EMAIL.md).")
class OutboundMail(Node):
    row: strawberry.Private[OutboundMailRow]
    to: list[str]
    subject: str
    status: OutboundMailStatus
    attempts: int
    last_error: str | None = strawberry.field(description="The SMTP server's last answer when it failed.")
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: OutboundMailRow) -> OutboundMail:
        return cls(
            id=strawberry.ID(ids.encode("OutboundMail", row.id)),
            row=row,
            to=[row.recipient],
            subject=row.subject,
            status=OutboundMailStatus(row.status),
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )

    @strawberry.field
    def service_request(self, info: Ctx) -> ServiceRequestRef | None:
        from schema.types.request import ServiceRequest

        return optional(info.context.loaders.service_request, self.row.request_id, ServiceRequest.from_row)
