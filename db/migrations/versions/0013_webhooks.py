"""Partner webhooks: endpoints, secrets and deliveries (WEBHOOKS.md).

Deliveries are rows written in the event's own transaction: a statement-level
trigger on `request_events` inserts one PENDING delivery per (new event,
enabled endpoint asking for its kind) whose owner may see it. The SQL only
narrows (the owner's linked customers, no INTERNAL comment for a partner), as
a subscription's filter does; the delivery worker checks each event again with
the same rule as `requestEvents` (auth.event_access) before sending it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "status IN ('PENDING', 'RETRYING')"

# webhook-id: the text domain.webhooks.webhook_id builds.
ENQUEUE_FUNCTION = """
CREATE FUNCTION webhook_enqueue_deliveries() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO webhook_deliveries
        (endpoint_id, event_id, request_id, event_txid, webhook_id, status, attempts, next_attempt_at,
         created_at)
    SELECT w.id, e.id, e.request_id, e.txid, 'msg_' || w.id || '_' || e.id, 'PENDING', 0,
           e.occurred_at, e.occurred_at
    FROM new_events e
    JOIN webhook_endpoints w ON w.enabled AND e.kind = ANY (w.event_kinds)
    WHERE w.owner_partner_id IS NULL
       OR (EXISTS (SELECT 1 FROM partner_customers pc
                   WHERE pc.partner_id = w.owner_partner_id AND pc.customer_id = e.customer_id)
           AND NOT EXISTS (SELECT 1 FROM comments c
                           WHERE c.id = e.comment_id AND c.visibility = 'INTERNAL'))
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$fn$
"""


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("event_kinds", postgresql.ARRAY(sa.String(length=24)), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("owner_partner_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_txid", sa.BigInteger(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "cardinality(event_kinds) > 0", name=op.f("ck_webhook_endpoints_event_kinds_present")
        ),
        sa.CheckConstraint(
            "char_length(url) BETWEEN 1 AND 2048", name=op.f("ck_webhook_endpoints_url_length")
        ),
        sa.ForeignKeyConstraint(
            ["owner_partner_id"],
            ["partners.id"],
            name=op.f("fk_webhook_endpoints_owner_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        op.f("ix_webhook_endpoints_owner_partner_id"), "webhook_endpoints", ["owner_partner_id"], unique=False
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("event_txid", sa.BigInteger(), nullable=True),
        sa.Column("webhook_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'DELIVERED', 'RETRYING', 'FAILED')",
            name=op.f("ck_webhook_deliveries_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["request_events.id"], name=op.f("fk_webhook_deliveries_event_id_request_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_id_id", "webhook_deliveries", ["endpoint_id", "id"], unique=False
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text(UNFINISHED),
    )
    op.create_index(
        "ix_webhook_deliveries_unfinished",
        "webhook_deliveries",
        ["endpoint_id", "request_id", "event_txid", "event_id"],
        unique=False,
        postgresql_where=sa.text(UNFINISHED),
    )
    op.execute(ENQUEUE_FUNCTION)
    op.execute(
        "CREATE TRIGGER webhook_enqueue AFTER INSERT ON request_events "
        "REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION webhook_enqueue_deliveries()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER webhook_enqueue ON request_events")
    op.execute("DROP FUNCTION webhook_enqueue_deliveries()")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
