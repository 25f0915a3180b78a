"""reporting.metrics.service_metrics against hand-computed values over tests/metrics/data.py.

Flags of R1..R9 (the window set; R10/R11 were created before the window),
at NOW = Nov 20 12:00:

| req | team | cust | type | status | 1st resp (s) | resolution (s) | breached | at risk | age bucket |
|-----|------|------|------|--------|--------------|----------------|----------|---------|------------|
| R1 | T1 | C1 | BILLING_DISPUTE | CLOSED | 600 | 86,400 | no | - | - |
| R2 | T1 | C1 | BILLING_DISPUTE | IN_PROGRESS | 1,200 | - | no | no: 18h of 24h = 75% | 0-1d (18h) |
| R3 | T1 | C2 | BILLING_DISPUTE | WAITING (paused) | 3,000 | - | no (paused) | no (paused) | 3-7d (3.5d) |
| R4 | T2 | C2 | CREDIT_LIMIT_CHANGE | NEW | - | - | no | yes: 3h of 3.5h = 86% | 0-1d (3h) |
| R5 | T2 | C1 | PAYMENT_INQUIRY | TRIAGED | 1,800 | - | yes: due Nov 15 passed | - | 7d+ (10d) |
| R6 | T1 | C1 | INVOICE_CORRECTION | RESOLVED (reopened once) | 7,200 | 172,800 | yes (1st resp) | - | - |
| R7 | T2 | C2 | GENERAL_INQUIRY | CANCELLED | - | - | no | - | - |
| R8 | T1 | C2 | BILLING_DISPUTE | CLOSED | 300 | 345,600 | yes (resolution) | - | - |
| R9 | T1 | C1 | BILLING_DISPUTE | IN_PROGRESS (reopened) | 900 | - (open) | no | no: 11.5d of 16d | 7d+ |
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.money import Money
from reporting.metrics import AgingRow, CountRow, DurationRow, MetricsRow, service_metrics
from tests.metrics.data import END, NOW, START, Ids, insert_data_set


@pytest.fixture
async def ids(engine: AsyncEngine) -> Ids:
    async with engine.begin() as conn:
        return await insert_data_set(conn)


async def _metrics(
    engine: AsyncEngine,
    *,
    start: datetime = START,
    end: datetime = END,
    team_id: int | None = None,
    customer_id: int | None = None,
    types: list[str] | None = None,
    customer_ids: frozenset[int] | None = None,
) -> MetricsRow:
    async with engine.connect() as conn:
        return await service_metrics(
            conn,
            start=start,
            end=end,
            now=NOW,
            team_id=team_id,
            customer_id=customer_id,
            types=types,
            customer_ids=customer_ids,
        )


def counts(**by_key: int) -> list[CountRow]:
    return [CountRow(key=k, count=v) for k, v in sorted(by_key.items())]


def aging(a: int, b: int, c: int, d: int) -> list[AgingRow]:
    return [AgingRow("0-1d", a), AgingRow("1-3d", b), AgingRow("3-7d", c), AgingRow("7d+", d)]


def duration(count: int, average: float, p50: float, p90: float) -> DurationRow:
    # Floats from interpolation: compared approximately (pytest.approx stands in for the floats).
    stats: list[Any] = [pytest.approx(average), pytest.approx(p50), pytest.approx(p90)]
    return DurationRow(count, *stats)


def money(*pairs: tuple[str, str]) -> list[Money]:
    return [Money(Decimal(amount), currency) for currency, amount in pairs]


NO_DURATION = DurationRow(count=0, average_seconds=None, p50_seconds=None, p90_seconds=None)


async def test_all_requests_of_the_window(engine: AsyncEngine, ids: Ids) -> None:
    m = await _metrics(engine)
    assert (m.start, m.end) == (START, END)
    assert m.created_count == 9  # R1..R9
    assert m.resolved_count == 3  # R1, R6, R8 (R9 was reopened: open again)
    assert m.open_count == 5  # R2, R3, R4, R5, R9
    assert m.by_status == counts(
        CANCELLED=1, CLOSED=2, IN_PROGRESS=2, NEW=1, RESOLVED=1, TRIAGED=1, WAITING_ON_CUSTOMER=1
    )
    assert m.by_type == counts(
        BILLING_DISPUTE=5, CREDIT_LIMIT_CHANGE=1, GENERAL_INQUIRY=1, INVOICE_CORRECTION=1, PAYMENT_INQUIRY=1
    )
    assert m.by_channel == counts(CRM=1, EMAIL=2, PHONE=2, PORTAL=4)
    assert m.by_priority == counts(HIGH=3, LOW=2, MEDIUM=3, URGENT=1)
    # [300, 600, 900, 1200, 1800, 3000, 7200]: mean 15000/7; p50 = 4th value = 1200;
    # p90 at rank 6 * 0.9 = 5.4: 3000 + 0.4 * (7200 - 3000) = 4680.
    assert m.first_response_time == duration(7, 15000 / 7, 1200, 4680)
    # [86400, 172800, 345600]: mean 604800/3 = 201600; p50 172800; p90 at rank 1.8: 172800 + 0.8 * 172800.
    assert m.resolution_time == duration(3, 201600, 172800, 311040)
    # Resolution due in the window and decided: R1 (met), R5 (open past due), R6 (in time but its
    # first response breached), R8 (late), R10 (met; created before the window) -> 2 / 5.
    # Left out: R2 (due, not yet), R3 (paused), R4/R9 (due after the window), R7 (cancelled).
    assert m.sla_compliance == pytest.approx(0.4)
    assert m.breached_count == 3  # R5, R6, R8
    assert m.at_risk_count == 1  # R4
    assert m.backlog_aging == aging(2, 0, 1, 2)  # R2, R4 | - | R3 | R5, R9
    # Open disputes: R2 250.50 USD + R9 75.25 USD; R3 1000.00 EUR.
    assert m.disputed_amount_open == money(("EUR", "1000.00"), ("USD", "325.75"))
    # In [START, END): R1 +100.00 USD, R6 debit -30.10 USD, R10 +15.55 USD (at START); R8 write-off
    # +200.00 EUR. Out: R10's 40.00 (before), R3's 10.00 EUR (at END).
    assert m.adjustments_posted == money(("EUR", "200.00"), ("USD", "85.45"))
    # Decided in the window: 3600 (R1), 7200 (R8), 108000 (R10): mean 39600; p50 7200;
    # p90 at rank 1.8: 7200 + 0.8 * (108000 - 7200) = 87840.
    assert m.approval_turnaround == duration(3, 39600, 7200, 87840)
    # Ever resolved: R1, R6, R8, R9; reopened: R6, R9 -> 2 / 4.
    assert m.reopen_rate == pytest.approx(0.5)


async def test_team_filter(engine: AsyncEngine, ids: Ids) -> None:
    m = await _metrics(engine, team_id=ids.t1)
    assert m.created_count == 6  # R1, R2, R3, R6, R8, R9
    assert m.resolved_count == 3
    assert m.open_count == 3  # R2, R3, R9
    assert m.by_status == counts(CLOSED=2, IN_PROGRESS=2, RESOLVED=1, WAITING_ON_CUSTOMER=1)
    assert m.by_type == counts(BILLING_DISPUTE=5, INVOICE_CORRECTION=1)
    assert m.by_channel == counts(EMAIL=2, PHONE=1, PORTAL=3)
    assert m.by_priority == counts(HIGH=2, MEDIUM=3, URGENT=1)
    # [300, 600, 900, 1200, 3000, 7200]: mean 13200/6 = 2200; p50 at rank 2.5: (900 + 1200) / 2 = 1050;
    # p90 at rank 4.5: 3000 + 0.5 * 4200 = 5100.
    assert m.first_response_time == duration(6, 2200, 1050, 5100)
    assert m.resolution_time == duration(3, 201600, 172800, 311040)
    assert m.sla_compliance == pytest.approx(1 / 3)  # R1 met; R6, R8 not (R5, R10 are team T2)
    assert m.breached_count == 2  # R6, R8
    assert m.at_risk_count == 0
    assert m.backlog_aging == aging(1, 0, 1, 1)  # R2 | - | R3 | R9
    assert m.disputed_amount_open == money(("EUR", "1000.00"), ("USD", "325.75"))
    # R10 (15.55) is team T2: 100.00 - 30.10 = 69.90 USD.
    assert m.adjustments_posted == money(("EUR", "200.00"), ("USD", "69.90"))
    # [3600, 7200]: mean 5400; p50 5400; p90 3600 + 0.9 * 3600 = 6840.
    assert m.approval_turnaround == duration(2, 5400, 5400, 6840)
    assert m.reopen_rate == pytest.approx(0.5)  # R6, R9 of R1, R6, R8, R9

    other = await _metrics(engine, team_id=ids.t2)
    assert other.created_count == 3  # R4, R5, R7
    assert other.sla_compliance == pytest.approx(0.5)  # R5 breached, R10 met
    assert other.adjustments_posted == money(("USD", "15.55"))
    assert other.approval_turnaround == duration(1, 108000, 108000, 108000)
    assert other.reopen_rate is None  # none of R4, R5, R7 was ever resolved


async def test_customer_filter_and_a_second_currency(engine: AsyncEngine, ids: Ids) -> None:
    m = await _metrics(engine, customer_id=ids.c2)
    assert m.created_count == 4  # R3, R4, R7, R8
    assert (m.resolved_count, m.open_count) == (1, 2)
    assert m.by_status == counts(CANCELLED=1, CLOSED=1, NEW=1, WAITING_ON_CUSTOMER=1)
    assert m.by_type == counts(BILLING_DISPUTE=2, CREDIT_LIMIT_CHANGE=1, GENERAL_INQUIRY=1)
    assert m.by_channel == counts(PHONE=2, PORTAL=2)
    assert m.by_priority == counts(HIGH=2, LOW=1, MEDIUM=1)
    # [300, 3000]: mean 1650; p50 1650; p90 300 + 0.9 * 2700 = 2730.
    assert m.first_response_time == duration(2, 1650, 1650, 2730)
    assert m.resolution_time == duration(1, 345600, 345600, 345600)
    assert m.sla_compliance == 0.0  # R8 only, breached
    assert (m.breached_count, m.at_risk_count) == (1, 1)  # R8; R4
    assert m.backlog_aging == aging(1, 0, 1, 0)  # R4 | - | R3 | -
    assert m.disputed_amount_open == money(("EUR", "1000.00"))
    assert m.adjustments_posted == money(("EUR", "200.00"))
    assert m.approval_turnaround == duration(1, 7200, 7200, 7200)
    assert m.reopen_rate == 0.0  # R8 resolved, never reopened


async def test_type_filter(engine: AsyncEngine, ids: Ids) -> None:
    m = await _metrics(engine, types=["PAYMENT_INQUIRY", "CREDIT_LIMIT_CHANGE"])
    assert (m.created_count, m.resolved_count, m.open_count) == (2, 0, 2)  # R4, R5
    assert m.by_status == counts(NEW=1, TRIAGED=1)
    assert m.by_type == counts(CREDIT_LIMIT_CHANGE=1, PAYMENT_INQUIRY=1)
    assert m.by_channel == counts(CRM=1, PHONE=1)
    assert m.by_priority == counts(HIGH=1, LOW=1)
    assert m.first_response_time == duration(1, 1800, 1800, 1800)
    assert m.resolution_time == NO_DURATION
    assert m.sla_compliance == 0.0  # R5
    assert (m.breached_count, m.at_risk_count) == (1, 1)
    assert m.backlog_aging == aging(1, 0, 0, 1)
    assert m.disputed_amount_open == []
    assert m.adjustments_posted == []
    assert m.approval_turnaround == NO_DURATION
    assert m.reopen_rate is None


async def test_filters_combine_and_the_callers_scope_applies(engine: AsyncEngine, ids: Ids) -> None:
    both = await _metrics(engine, team_id=ids.t1, customer_id=ids.c1, types=["BILLING_DISPUTE"])
    assert both.created_count == 3  # R1, R2, R9
    assert both.disputed_amount_open == money(("USD", "325.75"))
    scoped = await _metrics(engine, customer_ids=frozenset({ids.c1}))
    assert scoped.created_count == 5  # R1, R2, R5, R6, R9
    assert scoped.adjustments_posted == money(("USD", "85.45"))  # R1, R6, R10
    nobody = await _metrics(engine, customer_ids=frozenset())
    assert nobody.created_count == 0
    assert nobody.adjustments_posted == []


async def test_empty_window(engine: AsyncEngine, ids: Ids) -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    m = await _metrics(engine, start=start, end=end)
    assert m == MetricsRow(
        start=start,
        end=end,
        created_count=0,
        resolved_count=0,
        open_count=0,
        by_status=[],
        by_type=[],
        by_channel=[],
        by_priority=[],
        first_response_time=NO_DURATION,
        resolution_time=NO_DURATION,
        sla_compliance=None,
        breached_count=0,
        at_risk_count=0,
        backlog_aging=aging(0, 0, 0, 0),
        disputed_amount_open=[],
        adjustments_posted=[],
        approval_turnaround=NO_DURATION,
        reopen_rate=None,
    )


async def test_empty_database(engine: AsyncEngine) -> None:
    m = await _metrics(engine)
    assert (m.created_count, m.sla_compliance, m.reopen_rate) == (0, None, None)
    assert m.backlog_aging == aging(0, 0, 0, 0)
