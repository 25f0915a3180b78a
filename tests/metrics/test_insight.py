"""Customer insight (reporting.customer_insight, db.queries.financial_health) against values
worked out by hand over tests/metrics/data.py (NOW = Nov 20 12:00)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.queries.financial_health import effective_risk_ratings, financial_health
from domain.enums import RiskRating
from records.insight import FinancialHealthRow, PaymentBehaviorRow
from reporting.customer_insight import payment_behavior
from tests.metrics.data import NOW, Ids, insert_data_set


@pytest.fixture
async def ids(engine: AsyncEngine) -> Ids:
    async with engine.begin() as conn:
        return await insert_data_set(conn)


async def test_payment_behavior(engine: AsyncEngine, ids: Ids) -> None:
    async with engine.connect() as conn:
        rows = await payment_behavior(conn, [ids.c1, ids.c2, ids.c3], NOW)
    # C1's year (issued 2025-11-20 .. 2026-11-20, not void): I1, I3, I4, I5, I8 (I6 too old, I7 void).
    # Fully paid with a POSTED payment: I1 on Oct 21 (Oct 1 -> 20 days), I3 on Jul 15 (Jun 1 -> 44 days;
    # P4 REVERSED ignored): mean (20 + 44) / 2 = 32. Late: I3 (paid Jul 15 > due Jul 1), I4 (unpaid,
    # due Nov 14 < Nov 20); I5 not yet due, I8 settled without payment -> 2 / 5.
    # Disputes: open R2, R9; created since Aug 22 12:00: R1, R2, R9, R10 (R11 May 1 too old) -> 4 >= 3.
    assert rows[ids.c1] == PaymentBehaviorRow(
        average_days_to_pay=32.0,
        late_payment_ratio=0.4,
        open_disputes=2,
        disputes_last_90_days=4,
        recurring_disputes=True,
    )
    # C2: only I2, unpaid and due Dec 1 -> no mean, 0 / 1 late. Disputes: R3 open; R3, R8 recent.
    assert rows[ids.c2] == PaymentBehaviorRow(
        average_days_to_pay=None,
        late_payment_ratio=0.0,
        open_disputes=1,
        disputes_last_90_days=2,
        recurring_disputes=False,
    )
    # C3: nothing at all.
    assert rows[ids.c3] == PaymentBehaviorRow(
        average_days_to_pay=None,
        late_payment_ratio=0.0,
        open_disputes=0,
        disputes_last_90_days=0,
        recurring_disputes=False,
    )


async def test_payment_behavior_of_an_empty_batch(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await payment_behavior(conn, [], NOW) == {}


async def test_financial_health_from_the_latest_statement(engine: AsyncEngine, ids: Ids) -> None:
    async with engine.connect() as conn:
        rows = await financial_health(conn, [ids.c1, ids.c2, ids.c3, ids.c4])
    # C1: 2026-06-30 (not 2025-12-31): 250000 / 200000 = 1.25 -> MEDIUM (the band's lower edge);
    # current ratio 150000 / 100000 = 1.5.
    assert rows[ids.c1] == FinancialHealthRow(
        as_of=date(2026, 6, 30),
        dscr=Decimal("1.25"),
        current_ratio=Decimal("1.5"),
        risk_rating=RiskRating.MEDIUM,
    )
    # C2: 90 / 100 = 0.9 < 1.0 -> CRITICAL; no current assets -> no current ratio.
    assert rows[ids.c2] == FinancialHealthRow(
        as_of=date(2026, 3, 31), dscr=Decimal("0.9"), current_ratio=None, risk_rating=RiskRating.CRITICAL
    )
    assert rows[ids.c3] is None  # no statement
    # C4: 400 / 200 = 2 -> LOW; liabilities 0 -> no current ratio.
    assert rows[ids.c4] == FinancialHealthRow(
        as_of=date(2026, 9, 30), dscr=Decimal(2), current_ratio=None, risk_rating=RiskRating.LOW
    )


async def test_effective_risk_is_the_worse_of_imported_and_statement(engine: AsyncEngine, ids: Ids) -> None:
    async with engine.connect() as conn:
        ratings = await effective_risk_ratings(conn, [ids.c1, ids.c2, ids.c3, ids.c4, 999_999])
    assert ratings == {
        ids.c1: RiskRating.MEDIUM,  # imported LOW, statement MEDIUM
        ids.c2: RiskRating.CRITICAL,  # imported HIGH, statement CRITICAL
        ids.c3: RiskRating.HIGH,  # imported HIGH, no statement
        ids.c4: RiskRating.MEDIUM,  # imported MEDIUM, statement LOW
    }
