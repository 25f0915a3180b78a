"""The demo organisation imports cleanly and holds every scenario it documents."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from demo.data import ADMIN_EMAIL, TEAM_NAMES, demo_organisation
from domain.enums import ApprovalLevel, KycStatus, RequestType, RiskRating, Role, SlaTier
from importer.master_data import import_master_data
from tests.importing.support import dump, scalar

TODAY = date(2026, 11, 23)


async def _column(session: AsyncSession, sql: str) -> list[object]:
    return list((await session.execute(text(sql))).scalars())


async def test_demo_organisation_imports_cleanly_and_again_unchanged(session: AsyncSession) -> None:
    first = await import_master_data(session, demo_organisation(TODAY))
    await session.commit()
    assert first.customers.inserted == len(demo_organisation(TODAY)["customers"])
    before = await dump(session)
    again = await import_master_data(session, demo_organisation(TODAY))
    await session.commit()
    assert not again.changed
    assert await dump(session) == before


async def test_demo_organisation_has_every_role_level_tier_risk_and_kyc(session: AsyncSession) -> None:
    await import_master_data(session, demo_organisation(TODAY))
    await session.commit()

    assert set(await _column(session, "SELECT name FROM teams")) == set(TEAM_NAMES)
    assert set(await _column(session, "SELECT role FROM staff")) == {r.value for r in Role} - {
        "CUSTOMER",
        "PARTNER",
    }
    assert set(await _column(session, "SELECT approval_level FROM staff")) == {a.value for a in ApprovalLevel}
    controllers = await _column(
        session,
        "SELECT email FROM staff WHERE approval_level = 'CONTROLLER' AND role IN ('FINANCE', "
        "'ADMIN') AND active",
    )
    assert len(set(controllers)) == 2
    assert await scalar(session, "SELECT role FROM staff WHERE email = :e", e=ADMIN_EMAIL) == "ADMIN"
    assert await scalar(session, "SELECT count(*) FROM staff WHERE approval_level = 'FINANCE_MANAGER'") >= 1
    tiers = await _column(session, "SELECT DISTINCT sla_tier FROM contracts")
    assert set(tiers) == {t.value for t in SlaTier}
    assert (
        await scalar(
            session,
            "SELECT count(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM contracts k WHERE "
            "k.customer_id = c.id)",
        )
        >= 1
    )
    assert set(await _column(session, "SELECT risk_rating FROM customers")) == {r.value for r in RiskRating}
    assert set(await _column(session, "SELECT kyc_status FROM customers")) == {k.value for k in KycStatus}
    assert set(await _column(session, "SELECT currency FROM invoices")) >= {"USD", "EUR", "GBP"}
    assert set(await _column(session, "SELECT currency FROM exchange_rates")) >= {"USD", "EUR", "GBP"}


async def test_every_team_covers_every_request_type_with_active_members(session: AsyncSession) -> None:
    await import_master_data(session, demo_organisation(TODAY))
    await session.commit()
    rows = await session.execute(
        text(
            "SELECT t.name, array_agg(DISTINCT skill) FROM teams t JOIN team_members m ON m.team_id = t.id "
            "JOIN staff s ON s.id = m.staff_id AND s.active CROSS JOIN LATERAL unnest(s.skills) AS skill "
            "GROUP BY t.name"
        )
    )
    covered = {name: set(skills) for name, skills in rows.all()}
    assert set(covered) == set(TEAM_NAMES)
    for skills in covered.values():
        assert skills == {t.value for t in RequestType}


async def test_scenario_records(session: AsyncSession) -> None:
    await import_master_data(session, demo_organisation(TODAY))
    await session.commit()

    async def invoice(number: str) -> tuple[object, ...]:
        row = await session.execute(
            text(
                "SELECT c.external_ref, i.amount, i.currency, i.outstanding, i.issued_on, i.due_on "
                "FROM invoices i "
                "JOIN customers c ON c.id = i.customer_id WHERE i.number = :n"
            ),
            {"n": number},
        )
        return tuple(row.one())

    dispute = await invoice("INV-9001")
    assert dispute[:4] == ("C-1001", Decimal("9850.00"), "EUR", Decimal("9850.00"))
    assert TODAY - dispute[4] <= timedelta(days=60)  # type: ignore[operator]
    assert (await invoice("INV-9101"))[3] >= Decimal("16750")  # type: ignore[operator]
    assert (await invoice("INV-9201"))[3] >= Decimal("60000")  # type: ignore[operator]
    wrong, right = await invoice("INV-9301"), await invoice("INV-9302")
    assert wrong[0] == right[0] and wrong[3] == Decimal("3500.00") and right[3] == Decimal("18500.00")
    assert right[5] < TODAY  # type: ignore[operator]
    payment = await session.execute(
        text(
            "SELECT p.amount, i.number FROM payments p JOIN invoices i ON i.id = p.invoice_id WHERE "
            "reference = 'PAY-9301'"
        )
    )
    assert tuple(payment.one()) == (Decimal("18500.00"), "INV-9301")
    assert (
        await scalar(session, "SELECT kyc_status FROM customers WHERE external_ref = 'C-1007'") == "PENDING"
    )
    dscr = await scalar(
        session,
        "SELECT net_operating_income / total_debt_service FROM financial_statements f "
        "JOIN customers c ON c.id = f.customer_id WHERE c.external_ref = 'C-1011' ORDER BY as_of "
        "DESC LIMIT 1",
    )
    assert dscr < Decimal("1.25")
    linked = await _column(
        session,
        "SELECT c.external_ref FROM partner_customers pc JOIN partners p ON p.id = pc.partner_id "
        "JOIN customers c ON c.id = pc.customer_id WHERE p.client_id = 'erp-connector' ORDER BY 1",
    )
    assert linked == ["C-1001", "C-1002"]


async def test_invoices_are_open_overdue_paid_and_partly_paid(session: AsyncSession) -> None:
    await import_master_data(session, demo_organisation(TODAY))
    await session.commit()
    kinds = await _column(
        session,
        "SELECT DISTINCT CASE WHEN outstanding = 0 THEN 'PAID' WHEN due_on < DATE '2026-11-23' THEN "
        "'OVERDUE' "
        "WHEN outstanding < amount THEN 'PARTIALLY_PAID' ELSE 'OPEN' END FROM invoices",
    )
    assert set(kinds) == {"PAID", "OVERDUE", "PARTIALLY_PAID", "OPEN"}
    assert await scalar(session, "SELECT count(*) FROM payments WHERE status = 'UNAPPLIED'") >= 1
