"""Request numbers keep growing past SR-999999 (lpad alone truncated them to 6 digits).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION next_service_request_number() RETURNS text
        LANGUAGE sql VOLATILE AS $$
            SELECT 'SR-' || lpad(n::text, greatest(6, length(n::text)), '0')
            FROM (SELECT nextval('service_request_number_seq') AS n) AS s
        $$
        """
    )
    op.execute("ALTER TABLE service_requests ALTER COLUMN number SET DEFAULT next_service_request_number()")


def downgrade() -> None:
    op.execute(
        "ALTER TABLE service_requests ALTER COLUMN number "
        "SET DEFAULT 'SR-' || lpad(nextval('service_request_number_seq')::text, 6, '0')"
    )
    op.execute("DROP FUNCTION next_service_request_number()")
