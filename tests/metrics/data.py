"""A small, hand-made data set for the metrics and insight tests (every timestamp chosen by hand).

NOW = 2026-11-20 12:00 UTC; the metrics window is [2026-11-01, 2026-11-21).
Teams T1 (Billing) and T2 (Credit); customers C1 (USD) and C2 (EUR), C3
(nothing), C4 (a statement only). Requests R1..R11, see `REQUESTS` below:
the expected values in the tests are worked out from this table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import (
    Adjustment,
    Approval,
    Customer,
    FinancialStatement,
    Invoice,
    Payment,
    ServiceRequest,
    SlaPolicy,
    Staff,
    Team,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 21, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
S = timedelta(seconds=1)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Ids:
    """Primary keys of the inserted rows, by the names used in the tests."""

    t1: int = 0
    t2: int = 0
    c1: int = 0
    c2: int = 0
    c3: int = 0
    c4: int = 0
    requests: dict[str, int] | None = None


def _request(
    *,
    customer: int,
    team: int,
    type: str,
    channel: str,
    priority: str,
    status: str,
    created: datetime,
    responded: timedelta | None,
    first_due: timedelta,
    resolution_due: datetime,
    policy: int,
    resolved: datetime | None = None,
    impact: tuple[str, str] | None = None,
    invoice: int | None = None,
    reopened: int = 0,
    first_breached: datetime | None = None,
    resolution_breached: datetime | None = None,
    paused: datetime | None = None,
) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "team_id": team,
        "type": type,
        "channel": channel,
        "priority": priority,
        "status": status,
        "subject": "s",
        "description": "d",
        "created_by_subject": "t@example.com",
        "sla_policy_id": policy,
        "created_at": created,
        "updated_at": created,
        "first_responded_at": None if responded is None else created + responded,
        "first_response_due_at": created + first_due,
        "resolution_due_at": resolution_due,
        "resolved_at": resolved,
        "resolution_code": "NO_ADJUSTMENT_NEEDED" if resolved is not None else None,
        "financial_impact_amount": None if impact is None else Decimal(impact[0]),
        "financial_impact_currency": None if impact is None else impact[1],
        "invoice_id": invoice,
        "reopened_count": reopened,
        "paused_at": paused,
        "first_response_breached_at": first_breached,
        "resolution_breached_at": resolution_breached,
    }


async def _ids(conn: AsyncConnection, statement: Any) -> list[int]:
    return list((await conn.execute(statement)).scalars())


async def insert_data_set(conn: AsyncConnection) -> Ids:
    """Insert the whole data set; returns the ids the tests refer to."""
    ids = Ids()
    policy = (await conn.execute(select(SlaPolicy.id).limit(1))).scalar_one()
    ids.t1, ids.t2 = await _ids(
        conn, insert(Team).values([{"name": "Billing"}, {"name": "Credit"}]).returning(Team.id)
    )
    staff = (
        await conn.execute(
            insert(Staff)
            .values(email="agent@example.com", name="Agent", role="AGENT", approval_level="SUPERVISOR")
            .returning(Staff.id)
        )
    ).scalar_one()
    customer = {"segment": "SMB", "country": "DE", "kyc_status": "VERIFIED"}
    ids.c1, ids.c2, ids.c3, ids.c4 = await _ids(
        conn,
        insert(Customer)
        .values(
            [
                {"external_ref": "C1", "name": "One", "risk_rating": "LOW", **customer},
                {"external_ref": "C2", "name": "Two", "risk_rating": "HIGH", **customer},
                {"external_ref": "C3", "name": "Three", "risk_rating": "HIGH", **customer},
                {"external_ref": "C4", "name": "Four", "risk_rating": "MEDIUM", **customer},
            ]
        )
        .returning(Customer.id),
    )
    c1, c2 = ids.c1, ids.c2

    def invoice(
        number: str,
        customer: int,
        issued: date,
        due: date,
        amount: str,
        currency: str,
        outstanding: str,
        voided: bool = False,
    ) -> dict[str, Any]:
        return {
            "number": number,
            "customer_id": customer,
            "issued_on": issued,
            "due_on": due,
            "amount": Decimal(amount),
            "currency": currency,
            "outstanding": Decimal(outstanding),
            "voided": voided,
        }

    i1, i2, i3, _i4, _i5, i6, _i7, _i8 = await _ids(
        conn,
        insert(Invoice)
        .values(
            [
                # I1: paid in full by P1 + P2, last on Oct 21 -> 20 days, before due Oct 31 (on time).
                invoice("I1", c1, date(2026, 10, 1), date(2026, 10, 31), "1000.00", "USD", "0.00"),
                invoice("I2", c2, date(2026, 11, 1), date(2026, 12, 1), "2000.00", "EUR", "2000.00"),
                # I3: paid in full by P3 on Jul 15 -> 44 days, after due Jul 1 (late).
                invoice("I3", c1, date(2026, 6, 1), date(2026, 7, 1), "300.00", "USD", "0.00"),
                # I4: unpaid, due Nov 14 < today Nov 20 (late).
                invoice("I4", c1, date(2026, 10, 15), date(2026, 11, 14), "500.00", "USD", "500.00"),
                # I5: unpaid, not yet due (not late).
                invoice("I5", c1, date(2026, 11, 10), date(2026, 12, 10), "200.00", "USD", "200.00"),
                # I6: issued more than 365 days before today: outside the year.
                invoice("I6", c1, date(2025, 10, 1), date(2025, 10, 31), "100.00", "USD", "0.00"),
                # I7: voided: ignored.
                invoice("I7", c1, date(2026, 9, 1), date(2026, 9, 2), "100.00", "USD", "100.00", voided=True),
                # I8: settled without a payment (credit memo): in the year, neither paid nor late.
                invoice("I8", c1, date(2026, 9, 1), date(2026, 10, 1), "100.00", "USD", "0.00"),
            ]
        )
        .returning(Invoice.id),
    )

    def payment(
        ref: str, invoice: int, amount: str, received: datetime, status: str = "POSTED"
    ) -> dict[str, Any]:
        return {
            "reference": ref,
            "customer_id": c1,
            "invoice_id": invoice,
            "amount": Decimal(amount),
            "currency": "USD",
            "received_at": received,
            "status": status,
        }

    await conn.execute(
        insert(Payment).values(
            [
                payment("P1", i1, "400.00", at(10, 10, 9)),
                payment("P2", i1, "600.00", at(10, 21, 23)),
                payment("P3", i3, "300.00", at(7, 15, 8)),
                payment("P4", i3, "300.00", at(8, 1), status="REVERSED"),  # not POSTED: ignored
                payment("P6", i6, "100.00", datetime(2025, 12, 20, tzinfo=UTC)),
            ]
        )
    )

    t1, t2 = ids.t1, ids.t2
    req = functools.partial(_request, policy=policy)
    rows = {
        "R1": req(
            customer=c1,
            team=t1,
            type="BILLING_DISPUTE",
            channel="PORTAL",
            priority="HIGH",
            status="CLOSED",
            created=at(11, 2, 10),
            responded=600 * S,
            first_due=H,
            resolution_due=at(11, 4, 10),
            resolved=at(11, 3, 10),
            impact=("100.00", "USD"),
            invoice=i1,
        ),
        "R2": req(
            customer=c1,
            team=t1,
            type="BILLING_DISPUTE",
            channel="EMAIL",
            priority="URGENT",
            status="IN_PROGRESS",
            created=at(11, 19, 18),
            responded=1200 * S,
            first_due=H,
            resolution_due=at(11, 20, 18),
            impact=("250.50", "USD"),
            invoice=i1,
        ),
        "R3": req(
            customer=c2,
            team=t1,
            type="BILLING_DISPUTE",
            channel="PORTAL",
            priority="MEDIUM",
            status="WAITING_ON_CUSTOMER",
            created=at(11, 17),
            responded=3000 * S,
            first_due=4 * H,
            resolution_due=at(11, 19),
            paused=at(11, 18, 9),
            impact=("1000.00", "EUR"),
            invoice=i2,
        ),
        "R4": req(
            customer=c2,
            team=t2,
            type="CREDIT_LIMIT_CHANGE",
            channel="PHONE",
            priority="HIGH",
            status="NEW",
            created=at(11, 20, 9),
            responded=None,
            first_due=3 * H + 30 * 60 * S,
            resolution_due=at(11, 22, 9),
        ),
        "R5": req(
            customer=c1,
            team=t2,
            type="PAYMENT_INQUIRY",
            channel="CRM",
            priority="LOW",
            status="TRIAGED",
            created=at(11, 10, 12),
            responded=1800 * S,
            first_due=4 * H,
            resolution_due=at(11, 15, 12),
        ),
        "R6": req(
            customer=c1,
            team=t1,
            type="INVOICE_CORRECTION",
            channel="EMAIL",
            priority="MEDIUM",
            status="RESOLVED",
            created=at(11, 5, 8),
            responded=7200 * S,
            first_due=H,
            resolution_due=at(11, 8, 8),
            resolved=at(11, 7, 8),
            impact=("50.00", "USD"),
            invoice=i1,
            reopened=1,
            first_breached=at(11, 5, 9),
        ),
        "R7": req(
            customer=c2,
            team=t2,
            type="GENERAL_INQUIRY",
            channel="PORTAL",
            priority="LOW",
            status="CANCELLED",
            created=at(11, 8),
            responded=None,
            first_due=4 * H,
            resolution_due=at(11, 13),
        ),
        "R8": req(
            customer=c2,
            team=t1,
            type="BILLING_DISPUTE",
            channel="PHONE",
            priority="HIGH",
            status="CLOSED",
            created=at(11, 3),
            responded=300 * S,
            first_due=H,
            resolution_due=at(11, 6),
            resolved=at(11, 7),
            impact=("500.00", "EUR"),
            invoice=i2,
            resolution_breached=at(11, 6),
        ),
        "R9": req(
            customer=c1,
            team=t1,
            type="BILLING_DISPUTE",
            channel="PORTAL",
            priority="MEDIUM",
            status="IN_PROGRESS",
            created=at(11, 9),
            responded=900 * S,
            first_due=H,
            resolution_due=at(11, 25),
            resolved=at(11, 12),
            reopened=1,
            impact=("75.25", "USD"),
            invoice=i1,
        ),
        # Created before the window; its resolution fell due inside it (met).
        "R10": req(
            customer=c1,
            team=t2,
            type="BILLING_DISPUTE",
            channel="EMAIL",
            priority="LOW",
            status="CLOSED",
            created=at(10, 30, 12),
            responded=600 * S,
            first_due=H,
            resolution_due=at(11, 1, 12),
            resolved=at(10, 31, 12),
            impact=("20.00", "USD"),
            invoice=i1,
        ),
        # An old dispute: outside the window and outside the 90 days of payment behaviour.
        "R11": req(
            customer=c1,
            team=t1,
            type="BILLING_DISPUTE",
            channel="EMAIL",
            priority="LOW",
            status="CLOSED",
            created=at(5, 1),
            responded=600 * S,
            first_due=H,
            resolution_due=at(5, 3),
            resolved=at(5, 2),
            impact=("10.00", "USD"),
            invoice=i3,
        ),
    }
    # RESOLVED status needs no closed_at; CLOSED ones were closed 7 days after resolution (not used).
    request_ids = await _ids(
        conn, insert(ServiceRequest).values(list(rows.values())).returning(ServiceRequest.id)
    )
    r = dict(zip(rows, request_ids, strict=True))
    ids.requests = r

    def approval(request: str, status: str, requested: datetime, decided: datetime | None) -> dict[str, Any]:
        return {
            "request_id": r[request],
            "kind": "ACCOUNT_CHANGE",
            "required_level": "SUPERVISOR",
            "required_approvals": 1,
            "status": status,
            "justification": "j",
            "requested_by_id": staff,
            "requested_at": requested,
            "decided_at": decided,
        }

    await conn.execute(
        insert(Approval).values(
            [
                approval("R1", "APPROVED", at(11, 2, 11), at(11, 2, 12)),  # 3,600 s
                approval("R8", "REJECTED", at(11, 4), at(11, 4, 2)),  # 7,200 s
                approval("R6", "PENDING", at(11, 6), None),  # undecided
                approval(
                    "R10", "APPROVED", at(10, 31), at(11, 1, 6)
                ),  # 30 h = 108,000 s, decided in the window
                approval("R9", "APPROVED", at(11, 10), at(11, 21, 6)),  # decided after the window
                approval("R7", "CANCELLED", at(11, 8), at(11, 9)),  # cancelled: never decided
            ]
        )
    )

    def adjustment(
        request: str, kind: str, amount: str, currency: str, invoice: int, posted: datetime
    ) -> dict[str, Any]:
        return {
            "request_id": r[request],
            "kind": kind,
            "amount": Decimal(amount),
            "currency": currency,
            "invoice_id": invoice,
            "posted_at": posted,
            "posted_by_id": staff,
        }

    await conn.execute(
        insert(Adjustment).values(
            [
                adjustment("R1", "CREDIT_MEMO", "100.00", "USD", i1, at(11, 3, 9)),
                adjustment("R6", "DEBIT_MEMO", "30.10", "USD", i1, at(11, 7)),
                adjustment("R8", "WRITE_OFF", "200.00", "EUR", i2, at(11, 6, 12)),
                adjustment("R10", "CREDIT_MEMO", "40.00", "USD", i1, at(10, 31)),  # before the window
                adjustment("R10", "CREDIT_MEMO", "15.55", "USD", i1, START),  # at the start: inside
                adjustment("R3", "CREDIT_MEMO", "10.00", "EUR", i2, END),  # at the end: outside
            ]
        )
    )

    def statement(
        customer: int, as_of: date, noi: str, debt: str, assets: str | None, liabilities: str | None
    ) -> dict[str, Any]:
        return {
            "customer_id": customer,
            "as_of": as_of,
            "net_operating_income": Decimal(noi),
            "total_debt_service": Decimal(debt),
            "current_assets": None if assets is None else Decimal(assets),
            "current_liabilities": None if liabilities is None else Decimal(liabilities),
        }

    await conn.execute(
        insert(FinancialStatement).values(
            [
                statement(c1, date(2025, 12, 31), "300.00", "100.00", "1.00", "1.00"),  # older: ignored
                statement(c1, date(2026, 6, 30), "250000.00", "200000.00", "150000.00", "100000.00"),
                statement(c2, date(2026, 3, 31), "90.00", "100.00", None, "50.00"),
                statement(ids.c4, date(2026, 9, 30), "400.00", "200.00", "10.00", "0.00"),
            ]
        )
    )
    return ids
