"""Default SLA policies, the built-in business calendar and the audit chain's genesis.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WEEKDAYS = (
    '{"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]], "wed": [["09:00", "17:00"]], '
    '"thu": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]]}'
)

# (tier, priority, first response minutes, resolution minutes, business hours?) per LIFECYCLE.md §3.
_POLICIES = [
    ("STANDARD", "URGENT", 60, 480, True),
    ("STANDARD", "HIGH", 240, 1440, True),
    ("STANDARD", "MEDIUM", 480, 2880, True),
    ("STANDARD", "LOW", 1440, 7200, True),
    ("PREMIUM", "URGENT", 30, 240, True),
    ("PREMIUM", "HIGH", 120, 960, True),
    ("PREMIUM", "MEDIUM", 240, 1920, True),
    ("PREMIUM", "LOW", 480, 4800, True),
    ("ENTERPRISE", "URGENT", 15, 240, False),
    ("ENTERPRISE", "HIGH", 60, 720, False),
    ("ENTERPRISE", "MEDIUM", 240, 1440, False),
    ("ENTERPRISE", "LOW", 480, 2880, False),
]


def upgrade() -> None:
    op.execute(
        "INSERT INTO business_calendars (name, time_zone, weekly_hours) "
        f"VALUES ('Standard business hours', 'UTC', '{_WEEKDAYS}'::jsonb)"
    )
    for tier, priority, first, resolution, business in _POLICIES:
        calendar = (
            "(SELECT id FROM business_calendars WHERE name = 'Standard business hours')"
            if business
            else "NULL"
        )
        op.execute(
            "INSERT INTO sla_policies (name, tier, priority, first_response_seconds, resolution_seconds, "
            f"calendar_id) VALUES ('{tier.title()} {priority.title()}', '{tier}', '{priority}', "
            f"{first * 60}, {resolution * 60}, {calendar})"
        )
    op.execute("INSERT INTO audit_head (id, sequence, hash) VALUES (1, 0, repeat('0', 64))")
    op.execute("INSERT INTO exchange_rates (currency, usd) VALUES ('USD', 1)")


def downgrade() -> None:
    op.execute("DELETE FROM exchange_rates WHERE currency = 'USD'")
    op.execute("DELETE FROM audit_head")
    op.execute("DELETE FROM sla_policies")
    op.execute("DELETE FROM business_calendars WHERE name = 'Standard business hours'")
