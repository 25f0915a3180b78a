"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:33:17.221077
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE service_request_number_seq")
    op.create_table(
        "audit_entries",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_subject", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_audit_entries")),
    )
    op.create_index(
        "ix_audit_entries_entity", "audit_entries", ["entity_type", "entity_id", "sequence"], unique=False
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "business_calendars",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("weekly_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("holidays", postgresql.ARRAY(sa.Date()), server_default=sa.text("'{}'"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_business_calendars_name")),
    )
    op.create_table(
        "business_rules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_business_rules")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("kyc_status", sa.String(length=16), nullable=False),
        sa.Column("kyc_reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("credit_limit_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("credit_limit_currency", sa.String(length=3), nullable=True),
        sa.Column("risk_rating", sa.String(length=16), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), server_default=sa.text("30"), nullable=False),
        sa.CheckConstraint(
            "kyc_status IN ('PENDING', 'VERIFIED', 'EXPIRED', 'REJECTED')",
            name=op.f("ck_customers_kyc_status_valid"),
        ),
        sa.CheckConstraint(
            "risk_rating IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')",
            name=op.f("ck_customers_risk_rating_valid"),
        ),
        sa.CheckConstraint(
            "segment IN ('ENTERPRISE', 'MID_MARKET', 'SMB', 'PUBLIC_SECTOR')",
            name=op.f("ck_customers_segment_valid"),
        ),
        sa.CheckConstraint(
            "(credit_limit_amount IS NULL) = (credit_limit_currency IS NULL)",
            name=op.f("ck_customers_credit_limit_pair"),
        ),
        sa.CheckConstraint(
            "credit_limit_amount IS NULL OR credit_limit_amount >= 0",
            name=op.f("ck_customers_credit_limit_sign"),
        ),
        sa.CheckConstraint("payment_terms_days >= 0", name=op.f("ck_customers_payment_terms_sign")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_customers_external_ref")),
    )
    op.create_index(op.f("ix_customers_kyc_status"), "customers", ["kyc_status"], unique=False)
    op.create_index("ix_customers_name_lower", "customers", [sa.literal_column("lower(name)")], unique=False)
    op.create_index(op.f("ix_customers_risk_rating"), "customers", ["risk_rating"], unique=False)
    op.create_index(op.f("ix_customers_segment"), "customers", ["segment"], unique=False)
    op.create_table(
        "exchange_rates",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("usd", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_exchange_rates_currency_iso4217")),
        sa.CheckConstraint("usd > 0", name=op.f("ck_exchange_rates_usd_positive")),
        sa.PrimaryKeyConstraint("currency", name=op.f("pk_exchange_rates")),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=True),
        sa.Column(
            "scopes", postgresql.ARRAY(sa.String(length=64)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("client_id", name=op.f("uq_partners_client_id")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("approval_level", sa.String(length=20), nullable=False),
        sa.Column(
            "skills", postgresql.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "approval_level IN ('AGENT', 'SUPERVISOR', 'FINANCE_MANAGER', 'CONTROLLER')",
            name=op.f("ck_staff_approval_level_valid"),
        ),
        sa.CheckConstraint(
            "role IN ('CUSTOMER', 'AGENT', 'SUPERVISOR', 'FINANCE', 'ADMIN', 'PARTNER', 'AUDITOR')",
            name=op.f("ck_staff_role_valid"),
        ),
        sa.CheckConstraint("role NOT IN ('CUSTOMER', 'PARTNER')", name=op.f("ck_staff_role_is_staff")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_staff_email_lowercase")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_email")),
    )
    op.create_table(
        "contracts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("sla_tier", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("dispute_window_days", sa.Integer(), server_default=sa.text("90"), nullable=False),
        sa.CheckConstraint(
            "sla_tier IN ('STANDARD', 'PREMIUM', 'ENTERPRISE')", name=op.f("ck_contracts_sla_tier_valid")
        ),
        sa.CheckConstraint("dispute_window_days >= 0", name=op.f("ck_contracts_dispute_window_sign")),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on", name=op.f("ck_contracts_period_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contracts_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("number", name=op.f("uq_contracts_number")),
    )
    op.create_index(op.f("ix_contracts_customer_id"), "contracts", ["customer_id"], unique=False)
    op.create_table(
        "financial_statements",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("net_operating_income", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("total_debt_service", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("current_assets", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("current_liabilities", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.CheckConstraint(
            "total_debt_service > 0", name=op.f("ck_financial_statements_debt_service_positive")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_financial_statements_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_financial_statements")),
        sa.UniqueConstraint("customer_id", "as_of", name="uq_financial_statements_customer_as_of"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("outstanding", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("voided", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("disputed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_invoices_currency_iso4217")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_invoices_amount_positive")),
        sa.CheckConstraint("due_on >= issued_on", name=op.f("ck_invoices_due_after_issue")),
        sa.CheckConstraint("outstanding >= 0", name=op.f("ck_invoices_outstanding_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_invoices_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    op.create_index("ix_invoices_customer_id_number", "invoices", ["customer_id", "number"], unique=False)
    op.create_table(
        "partner_customers",
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_partner_customers_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_customers_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", "customer_id", name=op.f("pk_partner_customers")),
    )
    op.create_index(
        op.f("ix_partner_customers_customer_id"), "partner_customers", ["customer_id"], unique=False
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("first_response_seconds", sa.Integer(), nullable=False),
        sa.Column("resolution_seconds", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')", name=op.f("ck_sla_policies_priority_valid")
        ),
        sa.CheckConstraint(
            "tier IN ('STANDARD', 'PREMIUM', 'ENTERPRISE')", name=op.f("ck_sla_policies_tier_valid")
        ),
        sa.CheckConstraint(
            "first_response_seconds > 0", name=op.f("ck_sla_policies_first_response_positive")
        ),
        sa.CheckConstraint("resolution_seconds > 0", name=op.f("ck_sla_policies_resolution_positive")),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["business_calendars.id"],
            name=op.f("fk_sla_policies_calendar_id_business_calendars"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("tier", "priority", name="uq_sla_policies_tier_priority"),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("calendar_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["calendar_id"], ["business_calendars.id"], name=op.f("fk_teams_calendar_id_business_calendars")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_payments_currency_iso4217")),
        sa.CheckConstraint(
            "status <> 'POSTED' OR invoice_id IS NOT NULL", name=op.f("ck_payments_posted_has_invoice")
        ),
        sa.CheckConstraint(
            "status IN ('POSTED', 'UNAPPLIED', 'REVERSED')", name=op.f("ck_payments_status_valid")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_payments_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("reference", name=op.f("uq_payments_reference")),
    )
    op.create_index(
        "ix_payments_customer_id_received_at", "payments", ["customer_id", "received_at", "id"], unique=False
    )
    op.create_index(op.f("ix_payments_invoice_id"), "payments", ["invoice_id"], unique=False)
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_team_members_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_members_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", "staff_id", name=op.f("pk_team_members")),
    )
    op.create_index(op.f("ix_team_members_staff_id"), "team_members", ["staff_id"], unique=False)
    op.create_table(
        "service_requests",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "number",
            sa.String(length=32),
            server_default=sa.text("'SR-' || lpad(nextval('service_request_number_seq')::text, 6, '0')"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column(
            "priority_rank",
            sa.Integer(),
            sa.Computed(
                "CASE priority WHEN 'LOW' THEN 0 WHEN 'MEDIUM' THEN 1 WHEN 'HIGH' THEN 2 ELSE 3 END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("financial_impact_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("financial_impact_currency", sa.String(length=3), nullable=True),
        sa.Column("invoice_id", sa.BigInteger(), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("escalated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_by_subject", sa.String(length=320), nullable=False),
        sa.Column("sla_policy_id", sa.BigInteger(), nullable=False),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_seconds", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("first_response_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at_risk_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_at_risk_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_sla_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_code", sa.String(length=32), nullable=True),
        sa.Column("resolution_summary", sa.Text(), nullable=True),
        sa.Column("resolved_by_id", sa.BigInteger(), nullable=True),
        sa.Column("reopened_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("in_progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_on_customer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_approval_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple', number || ' ' || subject || ' ' || description)", persisted=True
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'RESOLVED') <= (resolved_at IS NOT NULL AND resolution_code IS NOT NULL)",
            name=op.f("ck_service_requests_resolved_has_resolution"),
        ),
        sa.CheckConstraint(
            "(status = 'WAITING_ON_CUSTOMER') = (paused_at IS NOT NULL)",
            name=op.f("ck_service_requests_paused_iff_waiting"),
        ),
        sa.CheckConstraint(
            "channel IN ('PORTAL', 'EMAIL', 'PHONE', 'SUPPORT_DESK', 'CRM', 'PARTNER_API')",
            name=op.f("ck_service_requests_channel_valid"),
        ),
        sa.CheckConstraint(
            "financial_impact_currency ~ '^[A-Z]{3}$'",
            name=op.f("ck_service_requests_financial_impact_currency_iso4217"),
        ),
        sa.CheckConstraint(
            "priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')", name=op.f("ck_service_requests_priority_valid")
        ),
        sa.CheckConstraint(
            "resolution_code IN ('ADJUSTMENT_POSTED', 'NO_ADJUSTMENT_NEEDED', 'PAYMENT_REAPPLIED', 'CREDIT_LIMIT_CHANGED', 'ACCOUNT_UPDATED', 'INFORMATION_PROVIDED', 'REJECTED', 'DUPLICATE')",
            name=op.f("ck_service_requests_resolution_code_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('NEW', 'TRIAGED', 'IN_PROGRESS', 'WAITING_ON_CUSTOMER', 'PENDING_APPROVAL', 'RESOLVED', 'CLOSED', 'CANCELLED')",
            name=op.f("ck_service_requests_status_valid"),
        ),
        sa.CheckConstraint(
            "type IN ('BILLING_DISPUTE', 'INVOICE_CORRECTION', 'PAYMENT_INQUIRY', 'PAYMENT_POSTING', 'CREDIT_LIMIT_CHANGE', 'ACCOUNT_UPDATE', 'CONTRACT_SERVICE', 'LETTER_OF_CREDIT', 'DEBT_RESTRUCTURING', 'GENERAL_INQUIRY')",
            name=op.f("ck_service_requests_type_valid"),
        ),
        sa.CheckConstraint(
            "(financial_impact_amount IS NULL) = (financial_impact_currency IS NULL)",
            name=op.f("ck_service_requests_financial_impact_pair"),
        ),
        sa.CheckConstraint(
            "char_length(description) BETWEEN 1 AND 10000",
            name=op.f("ck_service_requests_description_length"),
        ),
        sa.CheckConstraint(
            "char_length(subject) BETWEEN 1 AND 200", name=op.f("ck_service_requests_subject_length")
        ),
        sa.CheckConstraint(
            "financial_impact_amount IS NULL OR financial_impact_amount > 0",
            name=op.f("ck_service_requests_financial_impact_sign"),
        ),
        sa.CheckConstraint("paused_seconds >= 0", name=op.f("ck_service_requests_paused_seconds_sign")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_service_requests_version_positive")),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["staff.id"], name=op.f("fk_service_requests_assignee_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_service_requests_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_service_requests_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_service_requests_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["staff.id"], name=op.f("fk_service_requests_resolved_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["sla_policy_id"],
            ["sla_policies.id"],
            name=op.f("fk_service_requests_sla_policy_id_sla_policies"),
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_service_requests_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
        sa.UniqueConstraint("number", name=op.f("uq_service_requests_number")),
    )
    op.create_index(
        "ix_service_requests_assignee_id_status", "service_requests", ["assignee_id", "status"], unique=False
    )
    op.create_index(
        "ix_service_requests_created_at_id", "service_requests", ["created_at", "id"], unique=False
    )
    op.create_index(
        "ix_service_requests_customer_id_created_at",
        "service_requests",
        ["customer_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_service_requests_financial_impact_id",
        "service_requests",
        ["financial_impact_amount", "id"],
        unique=False,
    )
    op.create_index("ix_service_requests_invoice_id", "service_requests", ["invoice_id"], unique=False)
    op.create_index(
        "ix_service_requests_next_sla_check_at",
        "service_requests",
        ["next_sla_check_at"],
        unique=False,
        postgresql_where=sa.text("next_sla_check_at IS NOT NULL"),
    )
    op.create_index("ix_service_requests_payment_id", "service_requests", ["payment_id"], unique=False)
    op.create_index(
        "ix_service_requests_priority_rank_id", "service_requests", ["priority_rank", "id"], unique=False
    )
    op.create_index(
        "ix_service_requests_resolution_due_at_id",
        "service_requests",
        ["resolution_due_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_service_requests_search",
        "service_requests",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_service_requests_status_created_at", "service_requests", ["status", "created_at"], unique=False
    )
    op.create_index(
        "ix_service_requests_team_id_status", "service_requests", ["team_id", "status"], unique=False
    )
    op.create_index(
        "ix_service_requests_updated_at_id", "service_requests", ["updated_at", "id"], unique=False
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("amount_usd", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column(
            "consumed_amount", sa.Numeric(precision=18, scale=2), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("required_level", sa.String(length=20), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_approvals_currency_iso4217")),
        sa.CheckConstraint(
            "kind IN ('INVOICE_ADJUSTMENT', 'WRITE_OFF', 'CREDIT_LIMIT_CHANGE', 'ACCOUNT_CHANGE', 'PAYMENT_REALLOCATION')",
            name=op.f("ck_approvals_kind_valid"),
        ),
        sa.CheckConstraint(
            "required_level IN ('AGENT', 'SUPERVISOR', 'FINANCE_MANAGER', 'CONTROLLER')",
            name=op.f("ck_approvals_required_level_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED')",
            name=op.f("ck_approvals_status_valid"),
        ),
        sa.CheckConstraint("(amount IS NULL) = (currency IS NULL)", name=op.f("ck_approvals_amount_pair")),
        sa.CheckConstraint("amount IS NULL OR amount > 0", name=op.f("ck_approvals_amount_positive")),
        sa.CheckConstraint(
            "consumed_amount >= 0 AND consumed_amount <= coalesce(amount, 0)",
            name=op.f("ck_approvals_consumed_within"),
        ),
        sa.CheckConstraint("required_approvals >= 1", name=op.f("ck_approvals_required_approvals_positive")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["service_requests.id"], name=op.f("fk_approvals_request_id_service_requests")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["staff.id"], name=op.f("fk_approvals_requested_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index("ix_approvals_request_id", "approvals", ["request_id"], unique=False)
    op.create_index(
        "ix_approvals_status_requested_at", "approvals", ["status", "requested_at", "id"], unique=False
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("author_subject", sa.String(length=320), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "author_role IN ('CUSTOMER', 'AGENT', 'SUPERVISOR', 'FINANCE', 'ADMIN', 'PARTNER', 'AUDITOR')",
            name=op.f("ck_comments_author_role_valid"),
        ),
        sa.CheckConstraint("visibility IN ('PUBLIC', 'INTERNAL')", name=op.f("ck_comments_visibility_valid")),
        sa.CheckConstraint("char_length(body) BETWEEN 1 AND 10000", name=op.f("ck_comments_body_length")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["service_requests.id"], name=op.f("fk_comments_request_id_service_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index("ix_comments_request_id_id", "comments", ["request_id", "id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_requests.id"],
            name=op.f("fk_idempotency_keys_request_id_service_requests"),
        ),
        sa.PrimaryKeyConstraint("subject", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "adjustments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("approval_id", sa.BigInteger(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("posted_by_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_adjustments_currency_iso4217")),
        sa.CheckConstraint(
            "kind IN ('CREDIT_MEMO', 'DEBIT_MEMO', 'WRITE_OFF')", name=op.f("ck_adjustments_kind_valid")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_adjustments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_adjustments_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_adjustments_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["posted_by_id"], ["staff.id"], name=op.f("fk_adjustments_posted_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["service_requests.id"], name=op.f("fk_adjustments_request_id_service_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjustments")),
    )
    op.create_index("ix_adjustments_invoice_id", "adjustments", ["invoice_id"], unique=False)
    op.create_index("ix_adjustments_posted_at", "adjustments", ["posted_at"], unique=False)
    op.create_index("ix_adjustments_request_id", "adjustments", ["request_id"], unique=False)
    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("approval_id", sa.BigInteger(), nullable=False),
        sa.Column("approver_id", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "decision IN ('APPROVE', 'REJECT')", name=op.f("ck_approval_decisions_decision_valid")
        ),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_approval_decisions_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["staff.id"], name=op.f("fk_approval_decisions_approver_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decisions")),
        sa.UniqueConstraint("approval_id", "approver_id", name="uq_approval_decisions_approval_approver"),
    )
    op.create_table(
        "request_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("pg_current_xact_id()::text::bigint"),
            nullable=False,
        ),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_subject", sa.String(length=320), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=True),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("approval_id", sa.BigInteger(), nullable=True),
        sa.Column("sla_target", sa.String(length=16), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "from_status IN ('NEW', 'TRIAGED', 'IN_PROGRESS', 'WAITING_ON_CUSTOMER', 'PENDING_APPROVAL', 'RESOLVED', 'CLOSED', 'CANCELLED')",
            name=op.f("ck_request_events_from_status_valid"),
        ),
        sa.CheckConstraint(
            "kind IN ('CREATED', 'TRIAGED', 'ASSIGNED', 'STATUS_CHANGED', 'COMMENTED', 'APPROVAL_REQUESTED', 'APPROVAL_DECIDED', 'ADJUSTMENT_POSTED', 'PAYMENT_APPLIED', 'SLA_AT_RISK', 'SLA_BREACHED', 'ESCALATED')",
            name=op.f("ck_request_events_kind_valid"),
        ),
        sa.CheckConstraint(
            "sla_target IN ('FIRST_RESPONSE', 'RESOLUTION')", name=op.f("ck_request_events_sla_target_valid")
        ),
        sa.CheckConstraint(
            "to_status IN ('NEW', 'TRIAGED', 'IN_PROGRESS', 'WAITING_ON_CUSTOMER', 'PENDING_APPROVAL', 'RESOLVED', 'CLOSED', 'CANCELLED')",
            name=op.f("ck_request_events_to_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_request_events_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_request_events_comment_id_comments")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_requests.id"],
            name=op.f("fk_request_events_request_id_service_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_events")),
    )
    op.create_index("ix_request_events_kind_id", "request_events", ["kind", "id"], unique=False)
    op.create_index("ix_request_events_occurred_at", "request_events", ["occurred_at"], unique=False)
    op.create_index("ix_request_events_request_id_id", "request_events", ["request_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_request_events_request_id_id", table_name="request_events")
    op.drop_index("ix_request_events_occurred_at", table_name="request_events")
    op.drop_index("ix_request_events_kind_id", table_name="request_events")
    op.drop_table("request_events")
    op.drop_table("approval_decisions")
    op.drop_index("ix_adjustments_request_id", table_name="adjustments")
    op.drop_index("ix_adjustments_posted_at", table_name="adjustments")
    op.drop_index("ix_adjustments_invoice_id", table_name="adjustments")
    op.drop_table("adjustments")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_comments_request_id_id", table_name="comments")
    op.drop_table("comments")
    op.drop_index("ix_approvals_status_requested_at", table_name="approvals")
    op.drop_index("ix_approvals_request_id", table_name="approvals")
    op.drop_table("approvals")
    op.drop_index("ix_service_requests_updated_at_id", table_name="service_requests")
    op.drop_index("ix_service_requests_team_id_status", table_name="service_requests")
    op.drop_index("ix_service_requests_status_created_at", table_name="service_requests")
    op.drop_index("ix_service_requests_search", table_name="service_requests", postgresql_using="gin")
    op.drop_index("ix_service_requests_resolution_due_at_id", table_name="service_requests")
    op.drop_index("ix_service_requests_priority_rank_id", table_name="service_requests")
    op.drop_index("ix_service_requests_payment_id", table_name="service_requests")
    op.drop_index(
        "ix_service_requests_next_sla_check_at",
        table_name="service_requests",
        postgresql_where=sa.text("next_sla_check_at IS NOT NULL"),
    )
    op.drop_index("ix_service_requests_invoice_id", table_name="service_requests")
    op.drop_index("ix_service_requests_financial_impact_id", table_name="service_requests")
    op.drop_index("ix_service_requests_customer_id_created_at", table_name="service_requests")
    op.drop_index("ix_service_requests_created_at_id", table_name="service_requests")
    op.drop_index("ix_service_requests_assignee_id_status", table_name="service_requests")
    op.drop_table("service_requests")
    op.drop_index(op.f("ix_team_members_staff_id"), table_name="team_members")
    op.drop_table("team_members")
    op.drop_index(op.f("ix_payments_invoice_id"), table_name="payments")
    op.drop_index("ix_payments_customer_id_received_at", table_name="payments")
    op.drop_table("payments")
    op.drop_table("teams")
    op.drop_table("sla_policies")
    op.drop_index(op.f("ix_partner_customers_customer_id"), table_name="partner_customers")
    op.drop_table("partner_customers")
    op.drop_index("ix_invoices_customer_id_number", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("financial_statements")
    op.drop_index(op.f("ix_contracts_customer_id"), table_name="contracts")
    op.drop_table("contracts")
    op.drop_table("staff")
    op.drop_table("signing_keys")
    op.drop_table("partners")
    op.drop_table("exchange_rates")
    op.drop_index(op.f("ix_customers_segment"), table_name="customers")
    op.drop_index(op.f("ix_customers_risk_rating"), table_name="customers")
    op.drop_index("ix_customers_name_lower", table_name="customers")
    op.drop_index(op.f("ix_customers_kyc_status"), table_name="customers")
    op.drop_table("customers")
    op.drop_table("business_rules")
    op.drop_table("business_calendars")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_entries_entity", table_name="audit_entries")
    op.drop_table("audit_entries")
    op.execute("DROP SEQUENCE service_request_number_seq")
