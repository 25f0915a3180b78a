"""Requests marked as duplicates of another (markDuplicate).

`service_requests.duplicate_of_id` names the open request of the same
customer that a request was closed as a duplicate of; such a request is
CANCELLED and never its own duplicate (checks). The same-customer and
still-open rules are the service's (services.requests.duplicates).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("service_requests", sa.Column("duplicate_of_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_service_requests_duplicate_of_id_service_requests"),
        "service_requests",
        "service_requests",
        ["duplicate_of_id"],
        ["id"],
    )
    op.create_check_constraint(
        op.f("ck_service_requests_not_own_duplicate"), "service_requests", "duplicate_of_id <> id"
    )
    op.create_check_constraint(
        op.f("ck_service_requests_duplicate_cancelled"),
        "service_requests",
        "duplicate_of_id IS NULL OR status = 'CANCELLED'",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_service_requests_duplicate_cancelled"), "service_requests", type_="check")
    op.drop_constraint(op.f("ck_service_requests_not_own_duplicate"), "service_requests", type_="check")
    op.drop_constraint(
        op.f("fk_service_requests_duplicate_of_id_service_requests"), "service_requests", type_="foreignkey"
    )
    op.drop_column("service_requests", "duplicate_of_id")
