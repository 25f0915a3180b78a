"""The email channel: mailboxes, contacts, inbound and outbound mail, attachments (EMAIL.md).

- `mailboxes`, `contacts`: master data (IMPORT.md), natural keys the lower-cased address.
- `service_requests.requester_contact_id` / `mailbox_id`: who asked by mail and through which
  mailbox (the From of every answer); `comments.channel`: where a comment came from.
- `inbound_mails`: every received message whole, unique by Message-ID (idempotent intake).
- `attachments`: the files of received mail, bytes in the row.
- `outbound_mails`: one row per (event, recipient), the outbox of mail; `mail_cursors`: the
  planner's position in the event stream, starting at the stream head of the upgrade.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TYPES = (
    "BILLING_DISPUTE",
    "INVOICE_CORRECTION",
    "PAYMENT_INQUIRY",
    "PAYMENT_POSTING",
    "CREDIT_LIMIT_CHANGE",
    "ACCOUNT_UPDATE",
    "CONTRACT_SERVICE",
    "LETTER_OF_CREDIT",
    "DEBT_RESTRUCTURING",
    "GENERAL_INQUIRY",
)
_CHANNELS = ("PORTAL", "EMAIL", "PHONE", "SUPPORT_DESK", "CRM", "PARTNER_API")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True)


def _tz(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        _id(),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("team_id", sa.BigInteger(), sa.ForeignKey("teams.id", name="fk_mailboxes_team_id_teams")),
        sa.Column("default_type", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mailboxes"),
        sa.UniqueConstraint("address", name="uq_mailboxes_address"),
        sa.CheckConstraint(_in("default_type", _TYPES), name="ck_mailboxes_default_type_valid"),
        sa.CheckConstraint("address = lower(address)", name="ck_mailboxes_address_lower"),
    )
    op.create_table(
        "contacts",
        _id(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column(
            "customer_id",
            sa.BigInteger(),
            sa.ForeignKey("customers.id", name="fk_contacts_customer_id_customers"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("bouncing", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint("email", name="uq_contacts_email"),
        sa.CheckConstraint("email = lower(email)", name="ck_contacts_email_lower"),
    )
    op.create_index("ix_contacts_customer_id", "contacts", ["customer_id"])
    op.add_column("service_requests", sa.Column("requester_contact_id", sa.BigInteger(), nullable=True))
    op.add_column("service_requests", sa.Column("mailbox_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        "fk_service_requests_requester_contact_id_contacts",
        "service_requests",
        "contacts",
        ["requester_contact_id"],
        ["id"],
    )
    op.create_foreign_key(
        "fk_service_requests_mailbox_id_mailboxes", "service_requests", "mailboxes", ["mailbox_id"], ["id"]
    )
    op.create_index("ix_service_requests_requester_contact_id", "service_requests", ["requester_contact_id"])
    op.add_column(
        "comments", sa.Column("channel", sa.String(16), server_default=sa.text("'PORTAL'"), nullable=False)
    )
    op.create_check_constraint("ck_comments_channel_valid", "comments", _in("channel", _CHANNELS))

    op.create_table(
        "inbound_mails",
        _id(),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column(
            "mailbox_id",
            sa.BigInteger(),
            sa.ForeignKey("mailboxes.id", name="fk_inbound_mails_mailbox_id_mailboxes"),
        ),
        sa.Column("from_address", sa.String(320), nullable=False),
        sa.Column("to_addresses", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        _tz("received_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column(
            "request_id",
            sa.BigInteger(),
            sa.ForeignKey("service_requests.id", name="fk_inbound_mails_request_id_service_requests"),
        ),
        sa.Column(
            "comment_id",
            sa.BigInteger(),
            sa.ForeignKey("comments.id", name="fk_inbound_mails_comment_id_comments"),
        ),
        sa.Column(
            "contact_id",
            sa.BigInteger(),
            sa.ForeignKey("contacts.id", name="fk_inbound_mails_contact_id_contacts"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_mails"),
        sa.UniqueConstraint("message_id", name="uq_inbound_mails_message_id"),
        sa.CheckConstraint(
            _in("status", ("PROCESSED", "UNMATCHED", "IGNORED", "DISCARDED")),
            name="ck_inbound_mails_status_valid",
        ),
    )
    op.create_index("ix_inbound_mails_status_id", "inbound_mails", ["status", "id"])
    op.create_index("ix_inbound_mails_request_id", "inbound_mails", ["request_id"])

    op.create_table(
        "attachments",
        _id(),
        sa.Column(
            "inbound_mail_id",
            sa.BigInteger(),
            sa.ForeignKey("inbound_mails.id", name="fk_attachments_inbound_mail_id_inbound_mails"),
        ),
        sa.Column(
            "request_id",
            sa.BigInteger(),
            sa.ForeignKey("service_requests.id", name="fk_attachments_request_id_service_requests"),
        ),
        sa.Column(
            "comment_id",
            sa.BigInteger(),
            sa.ForeignKey("comments.id", name="fk_attachments_comment_id_comments"),
        ),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _tz("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
        sa.CheckConstraint("size >= 0", name="ck_attachments_size_sign"),
    )
    op.alter_column("attachments", "created_at", server_default=sa.func.now())
    op.create_index("ix_attachments_inbound_mail_id", "attachments", ["inbound_mail_id"])
    op.create_index("ix_attachments_request_id", "attachments", ["request_id"])
    op.create_index("ix_attachments_comment_id", "attachments", ["comment_id"])

    op.create_table(
        "outbound_mails",
        _id(),
        sa.Column(
            "event_id",
            sa.BigInteger(),
            sa.ForeignKey("request_events.id", name="fk_outbound_mails_event_id_request_events"),
            nullable=False,
        ),
        sa.Column(
            "request_id",
            sa.BigInteger(),
            sa.ForeignKey("service_requests.id", name="fk_outbound_mails_request_id_service_requests"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("from_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("in_reply_to", sa.Text(), nullable=True),
        sa.Column("references", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _tz("next_attempt_at"),
        _tz("created_at"),
        _tz("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_mails"),
        sa.UniqueConstraint("event_id", "recipient", name="uq_outbound_mails_event_recipient"),
        sa.UniqueConstraint("message_id", name="uq_outbound_mails_message_id"),
        sa.CheckConstraint(
            _in("status", ("PENDING", "SENT", "FAILED", "SKIPPED")), name="ck_outbound_mails_status_valid"
        ),
    )
    op.create_index("ix_outbound_mails_request_id_id", "outbound_mails", ["request_id", "id"])
    op.create_index(
        "ix_outbound_mails_due",
        "outbound_mails",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_table(
        "mail_cursors",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_mail_cursors"),
    )
    # Mail only what happens from now on: the planner starts at the stream head.
    op.execute(
        "INSERT INTO mail_cursors (name, txid, event_id) "
        "SELECT 'outbound', pg_snapshot_xmin(pg_current_snapshot())::text::bigint, 0"
    )


def downgrade() -> None:
    op.drop_table("mail_cursors")
    op.drop_table("outbound_mails")
    op.drop_table("attachments")
    op.drop_table("inbound_mails")
    op.drop_constraint("ck_comments_channel_valid", "comments", type_="check")
    op.drop_column("comments", "channel")
    op.drop_index("ix_service_requests_requester_contact_id", "service_requests")
    op.drop_constraint("fk_service_requests_mailbox_id_mailboxes", "service_requests", type_="foreignkey")
    op.drop_constraint(
        "fk_service_requests_requester_contact_id_contacts", "service_requests", type_="foreignkey"
    )
    op.drop_column("service_requests", "mailbox_id")
    op.drop_column("service_requests", "requester_contact_id")
    op.drop_table("contacts")
    op.drop_table("mailboxes")
