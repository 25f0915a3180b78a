"""Default business rules: approval matrix, routing, lifecycle, SLA and risk numbers.

The rule sets of LIFECYCLE.md written out as data (one row per name in
`business_rules`); operators may change the rows later. Kept literal here
because a migration is frozen history: it must not change when the domain's
defaults do (tests/domain/test_rules.py checks they agree at the time of writing).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RULES = {
    "approval_matrix": {
        "own_limit_usd": "1000.00",
        "rows": [
            {"kind": "INVOICE_ADJUSTMENT", "max_usd": "1000.00", "level": None, "approvals": 0},
            {"kind": "INVOICE_ADJUSTMENT", "max_usd": "10000.00", "level": "SUPERVISOR", "approvals": 1},
            {"kind": "INVOICE_ADJUSTMENT", "max_usd": "50000.00", "level": "FINANCE_MANAGER", "approvals": 1},
            {"kind": "INVOICE_ADJUSTMENT", "max_usd": None, "level": "CONTROLLER", "approvals": 2},
            {"kind": "PAYMENT_REALLOCATION", "max_usd": "1000.00", "level": None, "approvals": 0},
            {"kind": "PAYMENT_REALLOCATION", "max_usd": "10000.00", "level": "SUPERVISOR", "approvals": 1},
            {
                "kind": "PAYMENT_REALLOCATION",
                "max_usd": "50000.00",
                "level": "FINANCE_MANAGER",
                "approvals": 1,
            },
            {"kind": "PAYMENT_REALLOCATION", "max_usd": None, "level": "CONTROLLER", "approvals": 2},
            {"kind": "WRITE_OFF", "max_usd": "10000.00", "level": "SUPERVISOR", "approvals": 1},
            {"kind": "WRITE_OFF", "max_usd": None, "level": "CONTROLLER", "approvals": 1},
            {
                "kind": "CREDIT_LIMIT_CHANGE",
                "max_usd": "50000.00",
                "level": "FINANCE_MANAGER",
                "approvals": 1,
            },
            {"kind": "CREDIT_LIMIT_CHANGE", "max_usd": None, "level": "CONTROLLER", "approvals": 2},
            {"kind": "ACCOUNT_CHANGE", "max_usd": None, "level": "SUPERVISOR", "approvals": 1},
        ],
        "risk_escalation": {
            "kinds": ["CREDIT_LIMIT_CHANGE"],
            "risk_ratings": ["HIGH", "CRITICAL"],
            "dscr_below": "1.25",
            "level": "CONTROLLER",
            "approvals": 2,
        },
    },
    "routing": {
        "priority_thresholds_usd": [
            {"min_usd": "50000.00", "priority": "URGENT"},
            {"min_usd": "10000.00", "priority": "HIGH"},
            {"min_usd": "1000.00", "priority": "MEDIUM"},
        ],
        "default_priority": "LOW",
        "tier_floors": {"ENTERPRISE": "MEDIUM"},
        "type_floors": {
            "CREDIT_LIMIT_CHANGE": "MEDIUM",
            "LETTER_OF_CREDIT": "MEDIUM",
            "DEBT_RESTRUCTURING": "MEDIUM",
        },
        "risk_raise": ["HIGH", "CRITICAL"],
        "team_by_type": {
            "BILLING_DISPUTE": "Billing",
            "INVOICE_CORRECTION": "Billing",
            "PAYMENT_INQUIRY": "Cash Application",
            "PAYMENT_POSTING": "Cash Application",
            "CREDIT_LIMIT_CHANGE": "Credit",
            "LETTER_OF_CREDIT": "Credit",
            "DEBT_RESTRUCTURING": "Credit",
            "ACCOUNT_UPDATE": "Customer Master",
            "CONTRACT_SERVICE": "Customer Service",
            "GENERAL_INQUIRY": "Customer Service",
        },
        "escalation_team": "Finance Escalations",
        "escalation_impact_usd": "50000.00",
        "escalation_risk_ratings": ["CRITICAL"],
    },
    "lifecycle": {"reopen_window_days": 14, "auto_close_days": 7, "default_dispute_window_days": 90},
    "sla": {"at_risk_fraction": "0.8"},
    "risk": {
        "dscr_bands": [
            {"min_dscr": "2.0", "rating": "LOW"},
            {"min_dscr": "1.25", "rating": "MEDIUM"},
            {"min_dscr": "1.0", "rating": "HIGH"},
        ],
        "below": "CRITICAL",
    },
}

_TABLE = sa.table("business_rules", sa.column("name", sa.String), sa.column("rules", postgresql.JSONB))


def upgrade() -> None:
    op.bulk_insert(_TABLE, [{"name": name, "rules": rules} for name, rules in RULES.items()])


def downgrade() -> None:
    op.execute(_TABLE.delete().where(_TABLE.c.name.in_(list(RULES))))
