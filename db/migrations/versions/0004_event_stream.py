"""Event stream: an index on request_events (txid, id), the order subscribers read in.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_request_events_txid_id", "request_events", ["txid", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_request_events_txid_id", table_name="request_events")
