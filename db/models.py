"""SQLAlchemy 2 models: the persistent shape of every entity of the contract.

Money is NUMERIC(18, 2) beside a 3-letter currency; every instant is
timestamptz. Enumerations are stored as text with CHECK constraints so that
adding a value is a one-line migration. Relationships are deliberately not
declared: reads go through set-based queries and DataLoaders (resolvers/loaders.py).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain import enums as e

__all__ = [
    "Adjustment",
    "Approval",
    "ApprovalDecision",
    "AuditEntry",
    "AuditHead",
    "AuditPending",
    "Base",
    "BusinessCalendar",
    "BusinessRules",
    "Comment",
    "Contract",
    "Customer",
    "ExchangeRate",
    "FinancialStatement",
    "IdempotencyKey",
    "Invoice",
    "MetricsDurationDaily",
    "MetricsRequestDaily",
    "MetricsSlaDaily",
    "Partner",
    "PartnerCustomer",
    "Payment",
    "RateLimitWindow",
    "RequestEvent",
    "ServiceRequest",
    "SigningKey",
    "SlaPolicy",
    "Staff",
    "SubscriptionLease",
    "Team",
    "TeamMember",
    "TrustedDocument",
    "WebhookDelivery",
    "WebhookEndpoint",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(18, 2)
TZ = DateTime(timezone=True)


def _one_of(column: str, enum: type[StrEnum]) -> CheckConstraint:
    values = ", ".join(f"'{v.value}'" for v in enum)
    return CheckConstraint(f"{column} IN ({values})", name=f"{column}_valid")


def _currency(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} ~ '^[A-Z]{{3}}$'", name=f"{column}_iso4217")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _id() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(always=False), primary_key=True)


class SigningKey(Base):
    """An RS256 key pair of the built-in issuer; the newest active key signs."""

    __tablename__ = "signing_keys"
    # Exactly one of: the PEM in plaintext (development), sealed by auth.key_vault (migration 0011).
    __table_args__ = (
        CheckConstraint("num_nonnulls(private_pem, sealed_private_key) = 1", name="one_private_key"),
    )
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str | None] = mapped_column(Text)
    sealed_private_key: Mapped[str | None] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(TZ)


class BusinessRules(Base):
    """Configurable rule sets (approval matrix, routing, priority thresholds) as JSON data."""

    __tablename__ = "business_rules"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class BusinessCalendar(Base):
    __tablename__ = "business_calendars"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    # {"mon": [["09:00", "17:00"]], ...}; a day may hold several intervals.
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(JSONB)
    holidays: Mapped[list[date]] = mapped_column(ARRAY(Date), server_default=text("'{}'"))


class SlaPolicy(Base):
    __tablename__ = "sla_policies"
    __table_args__ = (
        UniqueConstraint("tier", "priority", name="uq_sla_policies_tier_priority"),
        _one_of("tier", e.SlaTier),
        _one_of("priority", e.Priority),
        CheckConstraint("first_response_seconds > 0", name="first_response_positive"),
        CheckConstraint("resolution_seconds > 0", name="resolution_positive"),
    )
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    first_response_seconds: Mapped[int] = mapped_column(Integer)
    resolution_seconds: Mapped[int] = mapped_column(Integer)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id"))


class ExchangeRate(Base):
    """How many USD one unit of `currency` is worth."""

    __tablename__ = "exchange_rates"
    __table_args__ = (_currency("currency"), CheckConstraint("usd > 0", name="usd_positive"))
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    usd: Mapped[Decimal] = mapped_column(Numeric(20, 10))
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id"))


class Staff(Base):
    """A staff member; tokens match by `sub` = email."""

    __tablename__ = "staff"
    __table_args__ = (
        _one_of("role", e.Role),
        _one_of("approval_level", e.ApprovalLevel),
        CheckConstraint("role NOT IN ('CUSTOMER', 'PARTNER')", name="role_is_staff"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )
    id: Mapped[int] = _id()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    approval_level: Mapped[str] = mapped_column(String(20))
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default=text("'{}'"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    last_assigned_at: Mapped[datetime | None] = mapped_column(TZ)


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (PrimaryKeyConstraint("team_id", "staff_id"),)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        _one_of("segment", e.CustomerSegment),
        _one_of("kyc_status", e.KycStatus),
        _one_of("risk_rating", e.RiskRating),
        CheckConstraint(
            "(credit_limit_amount IS NULL) = (credit_limit_currency IS NULL)", name="credit_limit_pair"
        ),
        CheckConstraint("credit_limit_amount IS NULL OR credit_limit_amount >= 0", name="credit_limit_sign"),
        CheckConstraint("payment_terms_days >= 0", name="payment_terms_sign"),
        Index("ix_customers_name_lower", text("lower(name)")),
    )
    id: Mapped[int] = _id()
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    segment: Mapped[str] = mapped_column(String(16), index=True)
    country: Mapped[str] = mapped_column(String(2))
    kyc_status: Mapped[str] = mapped_column(String(16), index=True)
    kyc_reviewed_at: Mapped[datetime | None] = mapped_column(TZ)
    credit_limit_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    credit_limit_currency: Mapped[str | None] = mapped_column(String(3))
    risk_rating: Mapped[str] = mapped_column(String(16), index=True)
    payment_terms_days: Mapped[int] = mapped_column(Integer, server_default=text("30"))


class Contract(Base):
    __tablename__ = "contracts"
    __table_args__ = (
        _one_of("sla_tier", e.SlaTier),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period_ordered"),
        CheckConstraint("dispute_window_days >= 0", name="dispute_window_sign"),
    )
    id: Mapped[int] = _id()
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    sla_tier: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    dispute_window_days: Mapped[int] = mapped_column(Integer, server_default=text("90"))


class FinancialStatement(Base):
    __tablename__ = "financial_statements"
    __table_args__ = (
        UniqueConstraint("customer_id", "as_of", name="uq_financial_statements_customer_as_of"),
        CheckConstraint("total_debt_service > 0", name="debt_service_positive"),
    )
    id: Mapped[int] = _id()
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    as_of: Mapped[date] = mapped_column(Date)
    net_operating_income: Mapped[Decimal] = mapped_column(MONEY)
    total_debt_service: Mapped[Decimal] = mapped_column(MONEY)
    current_assets: Mapped[Decimal | None] = mapped_column(MONEY)
    current_liabilities: Mapped[Decimal | None] = mapped_column(MONEY)


class Invoice(Base):
    """An invoice; `outstanding` is maintained in the transaction of every posting.

    The contract's status is derived (domain.invoices.invoice_status) from
    `voided`, `outstanding`, `amount` and `due_on`; OVERDUE depends on today.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        _currency("currency"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("outstanding >= 0", name="outstanding_not_negative"),
        CheckConstraint("due_on >= issued_on", name="due_after_issue"),
        Index("ix_invoices_customer_id_number", "customer_id", "number"),
    )
    id: Mapped[int] = _id()
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    outstanding: Mapped[Decimal] = mapped_column(MONEY)
    voided: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    disputed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        _currency("currency"),
        _one_of("status", e.PaymentStatus),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status <> 'POSTED' OR invoice_id IS NOT NULL", name="posted_has_invoice"),
        Index("ix_payments_customer_id_received_at", "customer_id", "received_at", "id"),
    )
    id: Mapped[int] = _id()
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    received_at: Mapped[datetime] = mapped_column(TZ)
    status: Mapped[str] = mapped_column(String(16))


class Partner(Base):
    __tablename__ = "partners"
    id: Mapped[int] = _id()
    client_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # A salted, slow hash (hashlib.scrypt); null until `casegraph partner-secret` issues one.
    secret_hash: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class PartnerCustomer(Base):
    __tablename__ = "partner_customers"
    __table_args__ = (PrimaryKeyConstraint("partner_id", "customer_id"),)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)


class ServiceRequest(Base):
    """A customer's service request with one timestamp per status and stored SLA due times."""

    __tablename__ = "service_requests"
    __table_args__ = (
        _one_of("type", e.RequestType),
        _one_of("channel", e.Channel),
        _one_of("priority", e.Priority),
        _one_of("status", e.RequestStatus),
        _one_of("resolution_code", e.ResolutionCode),
        _currency("financial_impact_currency"),
        CheckConstraint(
            "(financial_impact_amount IS NULL) = (financial_impact_currency IS NULL)",
            name="financial_impact_pair",
        ),
        CheckConstraint(
            "financial_impact_amount IS NULL OR financial_impact_amount > 0", name="financial_impact_sign"
        ),
        CheckConstraint("char_length(subject) BETWEEN 1 AND 200", name="subject_length"),
        CheckConstraint("char_length(description) BETWEEN 1 AND 10000", name="description_length"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("paused_seconds >= 0", name="paused_seconds_sign"),
        CheckConstraint(
            "(status = 'RESOLVED') <= (resolved_at IS NOT NULL AND resolution_code IS NOT NULL)",
            name="resolved_has_resolution",
        ),
        CheckConstraint(
            "(status = 'WAITING_ON_CUSTOMER') = (paused_at IS NOT NULL)", name="paused_iff_waiting"
        ),
        # markDuplicate: a duplicate is CANCELLED and names another request (migration 0008).
        CheckConstraint("duplicate_of_id <> id", name="not_own_duplicate"),
        CheckConstraint("duplicate_of_id IS NULL OR status = 'CANCELLED'", name="duplicate_cancelled"),
        Index("ix_service_requests_created_at_id", "created_at", "id"),
        Index("ix_service_requests_updated_at_id", "updated_at", "id"),
        Index("ix_service_requests_priority_rank_id", "priority_rank", "id"),
        Index("ix_service_requests_resolution_due_at_id", "resolution_due_at", "id"),
        Index("ix_service_requests_financial_impact_id", "financial_impact_amount", "id"),
        Index("ix_service_requests_customer_id_created_at", "customer_id", "created_at", "id"),
        Index("ix_service_requests_team_id_status", "team_id", "status"),
        Index("ix_service_requests_assignee_id_status", "assignee_id", "status"),
        Index("ix_service_requests_status_created_at", "status", "created_at"),
        Index("ix_service_requests_invoice_id", "invoice_id"),
        Index("ix_service_requests_payment_id", "payment_id"),
        Index("ix_service_requests_search", "search_vector", postgresql_using="gin"),
        Index(
            "ix_service_requests_next_sla_check_at",
            "next_sla_check_at",
            postgresql_where=text("next_sla_check_at IS NOT NULL"),
        ),
        # Metrics (reporting/metrics.py, migration 0005): index-only scans of a window of requests.
        Index(
            "ix_service_requests_metrics_created_at",
            "created_at",
            postgresql_include=[
                "status",
                "type",
                "channel",
                "priority",
                "team_id",
                "customer_id",
                "first_responded_at",
                "first_response_due_at",
                "resolution_due_at",
                "resolved_at",
                "first_response_breached_at",
                "resolution_breached_at",
                "reopened_count",
            ],
        ),
        Index(
            "ix_service_requests_metrics_open",
            "created_at",
            postgresql_include=[
                "status",
                "type",
                "team_id",
                "customer_id",
                "paused_at",
                "first_responded_at",
                "first_response_due_at",
                "resolution_due_at",
                "resolved_at",
                "first_response_breached_at",
                "resolution_breached_at",
                "financial_impact_amount",
                "financial_impact_currency",
            ],
            postgresql_where=text(
                "status IN ('IN_PROGRESS', 'NEW', 'PENDING_APPROVAL', 'TRIAGED', 'WAITING_ON_CUSTOMER')"
            ),
        ),
        Index(
            "ix_service_requests_metrics_customer_created_at",
            "customer_id",
            "created_at",
            postgresql_include=[
                "status",
                "type",
                "channel",
                "priority",
                "team_id",
                "first_responded_at",
                "first_response_due_at",
                "resolution_due_at",
                "resolved_at",
                "first_response_breached_at",
                "resolution_breached_at",
                "reopened_count",
            ],
        ),
        Index(
            "ix_service_requests_metrics_customer_resolution_due_at",
            "customer_id",
            "resolution_due_at",
            postgresql_include=[
                "status",
                "type",
                "team_id",
                "resolved_at",
                "paused_at",
                "first_responded_at",
                "first_response_due_at",
                "first_response_breached_at",
                "resolution_breached_at",
            ],
        ),
        Index(
            "ix_service_requests_metrics_open_due",
            "resolution_due_at",
            postgresql_include=["paused_at", "resolution_breached_at", "team_id", "type", "customer_id"],
            postgresql_where=text(
                "status IN ('IN_PROGRESS', 'NEW', 'PENDING_APPROVAL', 'TRIAGED', 'WAITING_ON_CUSTOMER')"
            ),
        ),
        Index(
            "ix_service_requests_metrics_resolution_due_at",
            "resolution_due_at",
            postgresql_include=[
                "status",
                "type",
                "team_id",
                "customer_id",
                "resolved_at",
                "paused_at",
                "first_responded_at",
                "first_response_due_at",
                "first_response_breached_at",
                "resolution_breached_at",
            ],
        ),
        # The raw values of one histogram bucket, for exact percentiles (reporting/metrics.py).
        Index(
            "ix_service_requests_metrics_fr_bucket",
            text("metrics_bucket(metrics_seconds(first_responded_at, created_at))"),
            "created_at",
            postgresql_include=["first_responded_at", "team_id", "type", "customer_id"],
            postgresql_where=text("first_responded_at IS NOT NULL"),
        ),
        Index(
            "ix_service_requests_metrics_res_bucket",
            text("metrics_bucket(metrics_seconds(resolved_at, created_at))"),
            "created_at",
            postgresql_include=["resolved_at", "team_id", "type", "customer_id"],
            postgresql_where=text("status IN ('RESOLVED', 'CLOSED')"),
        ),
    )
    id: Mapped[int] = _id()
    number: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        server_default=text("next_service_request_number()"),
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(16))
    # Ordering key for ORDER BY priority (LOW=0 .. URGENT=3).
    priority_rank: Mapped[int] = mapped_column(
        Integer,
        Computed(
            "CASE priority WHEN 'LOW' THEN 0 WHEN 'MEDIUM' THEN 1 WHEN 'HIGH' THEN 2 ELSE 3 END",
            persisted=True,
        ),
    )
    status: Mapped[str] = mapped_column(String(24))
    financial_impact_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    financial_impact_currency: Mapped[str | None] = mapped_column(String(3))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    escalated: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_by_subject: Mapped[str] = mapped_column(String(320))
    # SLA: the policy and the stored due instants (moved by pauses, kept on escalation).
    sla_policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"))
    first_response_due_at: Mapped[datetime] = mapped_column(TZ)
    resolution_due_at: Mapped[datetime] = mapped_column(TZ)
    first_responded_at: Mapped[datetime | None] = mapped_column(TZ)
    paused_at: Mapped[datetime | None] = mapped_column(TZ)
    paused_seconds: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    first_response_breached_at: Mapped[datetime | None] = mapped_column(TZ)
    resolution_breached_at: Mapped[datetime | None] = mapped_column(TZ)
    first_response_at_risk_at: Mapped[datetime | None] = mapped_column(TZ)
    resolution_at_risk_at: Mapped[datetime | None] = mapped_column(TZ)
    # The earliest instant the SLA engine must look at this request again (null: nothing pending).
    next_sla_check_at: Mapped[datetime | None] = mapped_column(TZ)
    # Resolution.
    resolution_code: Mapped[str | None] = mapped_column(String(32))
    resolution_summary: Mapped[str | None] = mapped_column(Text)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reopened_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # One timestamp per status (the latest entry into it).
    triaged_at: Mapped[datetime | None] = mapped_column(TZ)
    in_progress_at: Mapped[datetime | None] = mapped_column(TZ)
    waiting_on_customer_at: Mapped[datetime | None] = mapped_column(TZ)
    pending_approval_at: Mapped[datetime | None] = mapped_column(TZ)
    resolved_at: Mapped[datetime | None] = mapped_column(TZ)
    closed_at: Mapped[datetime | None] = mapped_column(TZ)
    cancelled_at: Mapped[datetime | None] = mapped_column(TZ)
    # The open request of the same customer this one was closed as a duplicate of.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"))
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('simple', number || ' ' || subject || ' ' || description)",
            persisted=True,
        ),
    )


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        _one_of("visibility", e.CommentVisibility),
        _one_of("author_role", e.Role),
        CheckConstraint("char_length(body) BETWEEN 1 AND 10000", name="body_length"),
        Index("ix_comments_request_id_id", "request_id", "id"),
    )
    id: Mapped[int] = _id()
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))
    author_subject: Mapped[str] = mapped_column(String(320))
    author_name: Mapped[str] = mapped_column(String(200))
    author_role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (
        _one_of("kind", e.ApprovalKind),
        _one_of("status", e.ApprovalStatus),
        _one_of("required_level", e.ApprovalLevel),
        _currency("currency"),
        CheckConstraint("(amount IS NULL) = (currency IS NULL)", name="amount_pair"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        CheckConstraint("required_approvals >= 1", name="required_approvals_positive"),
        CheckConstraint(
            "consumed_amount >= 0 AND consumed_amount <= coalesce(amount, 0)", name="consumed_within"
        ),
        Index("ix_approvals_request_id", "request_id"),
        Index("ix_approvals_status_requested_at", "status", "requested_at", "id"),
        # Metrics: approval turnaround over approvals decided in a window (migration 0005).
        Index(
            "ix_approvals_decided_at",
            "decided_at",
            postgresql_include=["status", "requested_at", "request_id"],
            postgresql_where=text("decided_at IS NOT NULL"),
        ),
    )
    id: Mapped[int] = _id()
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    amount_usd: Mapped[Decimal | None] = mapped_column(MONEY)
    consumed_amount: Mapped[Decimal] = mapped_column(MONEY, server_default=text("0"))
    required_level: Mapped[str] = mapped_column(String(20))
    required_approvals: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    justification: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    requested_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(TZ)


class ApprovalDecision(Base):
    __tablename__ = "approval_decisions"
    __table_args__ = (
        _one_of("decision", e.Decision),
        # Segregation of duties at rest: one decision per person per approval.
        UniqueConstraint("approval_id", "approver_id", name="uq_approval_decisions_approval_approver"),
    )
    id: Mapped[int] = _id()
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"))
    approver_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    decision: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class Adjustment(Base):
    __tablename__ = "adjustments"
    __table_args__ = (
        _one_of("kind", e.AdjustmentKind),
        _currency("currency"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_adjustments_invoice_id", "invoice_id"),
        Index("ix_adjustments_request_id", "request_id"),
        Index("ix_adjustments_posted_at", "posted_at"),
    )
    id: Mapped[int] = _id()
    kind: Mapped[str] = mapped_column(String(16))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    posted_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    posted_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))


class RequestEvent(Base):
    """The transactional outbox and the request timeline.

    `txid` is the writing transaction's id: subscribers only advance past
    events whose transaction is older than every transaction still running
    (pg_snapshot_xmin), so an event that commits late is never skipped.
    """

    __tablename__ = "request_events"
    __table_args__ = (
        _one_of("kind", e.RequestEventKind),
        _one_of("from_status", e.RequestStatus),
        _one_of("to_status", e.RequestStatus),
        _one_of("sla_target", e.SlaTarget),
        Index("ix_request_events_request_id_id", "request_id", "id"),
        Index("ix_request_events_kind_id", "kind", "id"),
        Index("ix_request_events_occurred_at", "occurred_at"),
        # Stream order of db.events.fetch_after.
        Index("ix_request_events_txid_id", "txid", "id"),
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text("pg_current_xact_id()::text::bigint"))
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    kind: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    actor_subject: Mapped[str] = mapped_column(String(320))
    actor_name: Mapped[str] = mapped_column(String(200))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    sla_target: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(TZ)
    # Request's customer and team at the time, for subscriber filtering without a join.
    customer_id: Mapped[int] = mapped_column(BigInteger)
    team_id: Mapped[int | None] = mapped_column(BigInteger)
    # Extra facts, e.g. {"rule": "...", "reason": "..."} on ASSIGNED.
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class AuditHead(Base):
    """The single row holding the chain's tip; updating it serializes appenders (no forks)."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity_type", "entity_id", "sequence"),)
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(TZ)
    actor_subject: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditPending(Base):
    """Entries of a transaction not yet chained: the commit-time trigger of migration 0007 moves them
    to audit_entries (numbered and hashed) and deletes them, so committed rows never stay here."""

    __tablename__ = "audit_pending"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(TZ)
    actor_subject: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # canonical text of the entry up to its sequence number (db.audit.canonical_prefix)
    canonical_prefix: Mapped[str] = mapped_column(Text)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (PrimaryKeyConstraint("subject", "key"),)
    subject: Mapped[str] = mapped_column(String(320))
    key: Mapped[str] = mapped_column(String(200))
    input_hash: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


# ------------------------------------------------------------------ metrics rollups (migration 0005) --
# Kept by statement-level triggers on service_requests in the transaction of every change (never
# stale); read by reporting/metrics.py. team_key is the team id, 0 for none. Written by triggers only.


_SHARD = text("(pg_backend_pid() % 16)")


class MetricsRequestDaily(Base):
    """Requests per UTC creation day, team, type and status / channel / priority: counts, duration sums."""

    __tablename__ = "metrics_request_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    team_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    # 'status' (with every measure), 'channel' or 'priority' (counts only); key: its value.
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(24), primary_key=True)
    # Writers on different connections upsert different rows (migration 0007); readers sum over shards.
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=_SHARD)
    n: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    breach_recorded: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ever_resolved: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reopened: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    fr_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    fr_seconds: Mapped[Decimal] = mapped_column(Numeric, server_default=text("0"))
    res_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    res_seconds: Mapped[Decimal] = mapped_column(Numeric, server_default=text("0"))


class MetricsDurationDaily(Base):
    """Histogram of first-response ('F') and resolution ('R') times per UTC creation day (metrics_bucket)."""

    __tablename__ = "metrics_duration_daily"
    __table_args__ = (
        Index(
            "ix_metrics_duration_daily_day",
            "day",
            postgresql_include=["team_key", "type", "metric", "bucket", "n"],
        ),
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    team_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    metric: Mapped[str] = mapped_column(String(1), primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    # Writers on different connections upsert different rows (migration 0007); readers sum over shards.
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=_SHARD)
    n: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class MetricsSlaDaily(Base):
    """Settled resolution SLAs (resolved, or resolution breach recorded) per UTC due day: due and met."""

    __tablename__ = "metrics_sla_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    team_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Writers on different connections upsert different rows (migration 0007); readers sum over shards.
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=_SHARD)
    due: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    met: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class RateLimitWindow(Base):
    """Sliding-window counter of one rate-limit key (LIMITS.md); changed only by rate_limit_acquire()."""

    __tablename__ = "rate_limit_windows"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(TZ)
    current_count: Mapped[int] = mapped_column(BigInteger)
    previous_count: Mapped[int] = mapped_column(BigInteger)
    # Both windows are over then: the row may be deleted.
    expires_at: Mapped[datetime] = mapped_column(TZ, index=True)


class SubscriptionLease(Base):
    """One live subscription of a principal, renewed by its server process until it ends."""

    __tablename__ = "subscription_leases"
    lease: Mapped[str] = mapped_column(Text, primary_key=True)
    principal: Mapped[str] = mapped_column(Text, index=True)
    expires_at: Mapped[datetime] = mapped_column(TZ)


class TrustedDocument(Base):
    """A registered GraphQL document (`casegraph documents register`), by the SHA-256 of its text."""

    __tablename__ = "trusted_documents"
    __table_args__ = (CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class WebhookEndpoint(Base):
    """A partner's (or, with no owner, an ADMIN's) destination for request events (WEBHOOKS.md)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("cardinality(event_kinds) > 0", name="event_kinds_present"),
        CheckConstraint("char_length(url) BETWEEN 1 AND 2048", name="url_length"),
    )
    id: Mapped[int] = _id()
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    event_kinds: Mapped[list[str]] = mapped_column(ARRAY(String(24)))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The partner owning it; null: an ADMIN's endpoint, which may receive every event.
    owner_partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(TZ)
    # The stream position when it was created: `redeliverWebhooks` without `after` starts here.
    created_txid: Mapped[int] = mapped_column(BigInteger)
    # Sealed with auth.key_vault (OAUTH_KEY_ENCRYPTION_KEY), or `plain:` in development.
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(TZ)
    last_success_at: Mapped[datetime | None] = mapped_column(TZ)
    # Start of the current run of failed attempts (None: the last attempt succeeded).
    failing_since: Mapped[datetime | None] = mapped_column(TZ)


class WebhookDelivery(Base):
    """One event for one endpoint (or a PING): written in the event's transaction, then attempted."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        _one_of("status", e.WebhookDeliveryStatus),
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
        # What the delivery worker claims from.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('PENDING', 'RETRYING')"),
        ),
        # Per-request order at one endpoint: earlier unfinished deliveries hold later ones back.
        Index(
            "ix_webhook_deliveries_unfinished",
            "endpoint_id",
            "request_id",
            "event_txid",
            "event_id",
            postgresql_where=text("status IN ('PENDING', 'RETRYING')"),
        ),
    )
    id: Mapped[int] = _id()
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # Null for a PING (sendTestWebhook).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("request_events.id"))
    request_id: Mapped[int | None] = mapped_column(BigInteger)
    event_txid: Mapped[int | None] = mapped_column(BigInteger)
    webhook_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZ)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ)
    delivered_at: Mapped[datetime | None] = mapped_column(TZ)
