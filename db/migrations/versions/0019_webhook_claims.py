"""Webhook claims per endpoint: the sender takes each enabled endpoint's earliest due deliveries
(as many as it has free slots for) instead of scanning every due delivery in time order, so a
dead endpoint's backlog costs nothing to the others' claims. The time-ordered index it replaces
served that scan only.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "status IN ('PENDING', 'RETRYING')"


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_endpoint_due",
        "webhook_deliveries",
        ["endpoint_id", "next_attempt_at", "id"],
        unique=False,
        postgresql_where=sa.text(UNFINISHED),
    )
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")


def downgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text(UNFINISHED),
    )
    op.drop_index("ix_webhook_deliveries_endpoint_due", table_name="webhook_deliveries")
