"""Lazy references between the type modules (they refer to each other in cycles).

Use these in annotations, e.g. `async def customer(...) -> CustomerRef`; the
real class is imported when the schema is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry

if TYPE_CHECKING:
    from schema.types.agent import Agent, Team
    from schema.types.approval import Approval
    from schema.types.customer import Customer
    from schema.types.invoice import Adjustment, Invoice, Payment
    from schema.types.mail import Attachment, Contact
    from schema.types.request import ServiceRequest
    from schema.types.sla import BusinessCalendar, Sla, SlaPolicy
    from schema.types.timeline import Comment, RequestEvent

__all__ = [
    "AdjustmentRef",
    "AgentRef",
    "ApprovalRef",
    "AttachmentRef",
    "BusinessCalendarRef",
    "CommentRef",
    "ContactRef",
    "CustomerRef",
    "InvoiceRef",
    "PaymentRef",
    "RequestEventRef",
    "ServiceRequestRef",
    "SlaPolicyRef",
    "SlaRef",
    "TeamRef",
]

AgentRef: TypeAlias = Annotated["Agent", strawberry.lazy("schema.types.agent")]
TeamRef: TypeAlias = Annotated["Team", strawberry.lazy("schema.types.agent")]
ApprovalRef: TypeAlias = Annotated["Approval", strawberry.lazy("schema.types.approval")]
CustomerRef: TypeAlias = Annotated["Customer", strawberry.lazy("schema.types.customer")]
InvoiceRef: TypeAlias = Annotated["Invoice", strawberry.lazy("schema.types.invoice")]
PaymentRef: TypeAlias = Annotated["Payment", strawberry.lazy("schema.types.invoice")]
AdjustmentRef: TypeAlias = Annotated["Adjustment", strawberry.lazy("schema.types.invoice")]
ServiceRequestRef: TypeAlias = Annotated["ServiceRequest", strawberry.lazy("schema.types.request")]
SlaRef: TypeAlias = Annotated["Sla", strawberry.lazy("schema.types.sla")]
SlaPolicyRef: TypeAlias = Annotated["SlaPolicy", strawberry.lazy("schema.types.sla")]
BusinessCalendarRef: TypeAlias = Annotated["BusinessCalendar", strawberry.lazy("schema.types.sla")]
CommentRef: TypeAlias = Annotated["Comment", strawberry.lazy("schema.types.timeline")]
ContactRef: TypeAlias = Annotated["Contact", strawberry.lazy("schema.types.mail")]
AttachmentRef: TypeAlias = Annotated["Attachment", strawberry.lazy("schema.types.mail")]
RequestEventRef: TypeAlias = Annotated["RequestEvent", strawberry.lazy("schema.types.timeline")]
