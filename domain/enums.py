"""The business vocabulary shared by every layer (names fixed by the contract)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AdjustmentKind",
    "ApprovalKind",
    "ApprovalLevel",
    "ApprovalStatus",
    "Channel",
    "CommentVisibility",
    "CustomerSegment",
    "Decision",
    "InboundMailStatus",
    "InvoiceStatus",
    "KycStatus",
    "OutboundMailStatus",
    "PaymentStatus",
    "Priority",
    "RequestEventKind",
    "RequestStatus",
    "RequestType",
    "ResolutionCode",
    "RiskRating",
    "Role",
    "SlaState",
    "SlaTarget",
    "SlaTier",
    "TransitionAction",
    "WebhookDeliveryStatus",
]


class Role(StrEnum):
    CUSTOMER = "CUSTOMER"
    AGENT = "AGENT"
    SUPERVISOR = "SUPERVISOR"
    FINANCE = "FINANCE"
    ADMIN = "ADMIN"
    PARTNER = "PARTNER"
    AUDITOR = "AUDITOR"


class ApprovalLevel(StrEnum):
    """Ordered authority: AGENT < SUPERVISOR < FINANCE_MANAGER < CONTROLLER."""

    AGENT = "AGENT"
    SUPERVISOR = "SUPERVISOR"
    FINANCE_MANAGER = "FINANCE_MANAGER"
    CONTROLLER = "CONTROLLER"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_LEVEL_RANK = {
    ApprovalLevel.AGENT: 0,
    ApprovalLevel.SUPERVISOR: 1,
    ApprovalLevel.FINANCE_MANAGER: 2,
    ApprovalLevel.CONTROLLER: 3,
}


class KycStatus(StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


class RiskRating(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _RISK_RANK[self]


class CustomerSegment(StrEnum):
    ENTERPRISE = "ENTERPRISE"
    MID_MARKET = "MID_MARKET"
    SMB = "SMB"
    PUBLIC_SECTOR = "PUBLIC_SECTOR"


_RISK_RANK = {r: i for i, r in enumerate(RiskRating)}


class SlaTier(StrEnum):
    STANDARD = "STANDARD"
    PREMIUM = "PREMIUM"
    ENTERPRISE = "ENTERPRISE"


class InvoiceStatus(StrEnum):
    OPEN = "OPEN"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    OVERDUE = "OVERDUE"
    VOID = "VOID"


class PaymentStatus(StrEnum):
    POSTED = "POSTED"
    UNAPPLIED = "UNAPPLIED"
    REVERSED = "REVERSED"


class AdjustmentKind(StrEnum):
    CREDIT_MEMO = "CREDIT_MEMO"
    DEBIT_MEMO = "DEBIT_MEMO"
    WRITE_OFF = "WRITE_OFF"


class RequestType(StrEnum):
    BILLING_DISPUTE = "BILLING_DISPUTE"
    INVOICE_CORRECTION = "INVOICE_CORRECTION"
    PAYMENT_INQUIRY = "PAYMENT_INQUIRY"
    PAYMENT_POSTING = "PAYMENT_POSTING"
    CREDIT_LIMIT_CHANGE = "CREDIT_LIMIT_CHANGE"
    ACCOUNT_UPDATE = "ACCOUNT_UPDATE"
    CONTRACT_SERVICE = "CONTRACT_SERVICE"
    LETTER_OF_CREDIT = "LETTER_OF_CREDIT"
    DEBT_RESTRUCTURING = "DEBT_RESTRUCTURING"
    GENERAL_INQUIRY = "GENERAL_INQUIRY"


class Channel(StrEnum):
    PORTAL = "PORTAL"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    SUPPORT_DESK = "SUPPORT_DESK"
    CRM = "CRM"
    PARTNER_API = "PARTNER_API"


class Priority(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    URGENT = "URGENT"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {p: i for i, p in enumerate(Priority)}


class RequestStatus(StrEnum):
    NEW = "NEW"
    TRIAGED = "TRIAGED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_ON_CUSTOMER = "WAITING_ON_CUSTOMER"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


OPEN_STATUSES = frozenset(
    {
        RequestStatus.NEW,
        RequestStatus.TRIAGED,
        RequestStatus.IN_PROGRESS,
        RequestStatus.WAITING_ON_CUSTOMER,
        RequestStatus.PENDING_APPROVAL,
    }
)


class SlaState(StrEnum):
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    BREACHED = "BREACHED"
    PAUSED = "PAUSED"
    MET = "MET"


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "FIRST_RESPONSE"
    RESOLUTION = "RESOLUTION"


class ResolutionCode(StrEnum):
    ADJUSTMENT_POSTED = "ADJUSTMENT_POSTED"
    NO_ADJUSTMENT_NEEDED = "NO_ADJUSTMENT_NEEDED"
    PAYMENT_REAPPLIED = "PAYMENT_REAPPLIED"
    CREDIT_LIMIT_CHANGED = "CREDIT_LIMIT_CHANGED"
    ACCOUNT_UPDATED = "ACCOUNT_UPDATED"
    INFORMATION_PROVIDED = "INFORMATION_PROVIDED"
    REJECTED = "REJECTED"
    DUPLICATE = "DUPLICATE"


class TransitionAction(StrEnum):
    TRIAGE = "TRIAGE"
    ASSIGN = "ASSIGN"
    START_WORK = "START_WORK"
    REQUEST_CUSTOMER_INFO = "REQUEST_CUSTOMER_INFO"
    PROVIDE_CUSTOMER_INFO = "PROVIDE_CUSTOMER_INFO"
    REQUEST_APPROVAL = "REQUEST_APPROVAL"
    RESOLVE = "RESOLVE"
    CLOSE = "CLOSE"
    REOPEN = "REOPEN"
    CANCEL = "CANCEL"
    ESCALATE = "ESCALATE"


class CommentVisibility(StrEnum):
    PUBLIC = "PUBLIC"
    INTERNAL = "INTERNAL"


class ApprovalKind(StrEnum):
    INVOICE_ADJUSTMENT = "INVOICE_ADJUSTMENT"
    WRITE_OFF = "WRITE_OFF"
    CREDIT_LIMIT_CHANGE = "CREDIT_LIMIT_CHANGE"
    ACCOUNT_CHANGE = "ACCOUNT_CHANGE"
    PAYMENT_REALLOCATION = "PAYMENT_REALLOCATION"


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class Decision(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


class RequestEventKind(StrEnum):
    CREATED = "CREATED"
    TRIAGED = "TRIAGED"
    ASSIGNED = "ASSIGNED"
    STATUS_CHANGED = "STATUS_CHANGED"
    COMMENTED = "COMMENTED"
    APPROVAL_REQUESTED = "APPROVAL_REQUESTED"
    APPROVAL_DECIDED = "APPROVAL_DECIDED"
    ADJUSTMENT_POSTED = "ADJUSTMENT_POSTED"
    PAYMENT_APPLIED = "PAYMENT_APPLIED"
    SLA_AT_RISK = "SLA_AT_RISK"
    SLA_BREACHED = "SLA_BREACHED"
    ESCALATED = "ESCALATED"


class InboundMailStatus(StrEnum):
    PROCESSED = "PROCESSED"
    UNMATCHED = "UNMATCHED"
    IGNORED = "IGNORED"
    DISCARDED = "DISCARDED"


class OutboundMailStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class WebhookDeliveryStatus(StrEnum):
    """Where one webhook delivery stands (WEBHOOKS.md)."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"
