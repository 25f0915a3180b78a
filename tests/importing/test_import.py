"""Master-data import (IMPORT.md): idempotent upserts, later files, outstanding and links."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from importer.master_data import import_master_data
from tests.importing.support import dump, example, scalar


async def test_example_file_then_same_file_again_changes_nothing(session: AsyncSession) -> None:
    first = await import_master_data(session, example())
    await session.commit()
    assert {name: (c.inserted, c.updated, c.unchanged) for name, c in first.sections().items()} == {
        "calendars": (1, 0, 0),
        "teams": (1, 0, 0),
        "staff": (1, 0, 0),
        "customers": (1, 0, 0),
        "contracts": (1, 0, 0),
        "invoices": (1, 0, 0),
        "payments": (1, 0, 0),
        "financialStatements": (1, 0, 0),
        "partners": (1, 0, 0),
        "exchangeRates": (1, 0, 0),
        # ENTERPRISE/URGENT exists from migration 0002 (900 s / 14,400 s, 24x7): already equal.
        "slaPolicies": (0, 0, 1),
        "mailboxes": (1, 0, 0),
        "contacts": (1, 0, 0),
    }
    stored = await session.execute(text("SELECT address FROM mailboxes UNION ALL SELECT email FROM contacts"))
    assert sorted(stored.scalars()) == ["ap@acme.example", "billing@casegraph.example"]
    before = await dump(session)

    again = await import_master_data(session, example())
    await session.commit()

    assert not again.changed
    assert all(c.unchanged == c.total for c in again.sections().values())
    assert await dump(session) == before


async def test_example_file_is_stored_as_documented(session: AsyncSession) -> None:
    await import_master_data(session, example())
    await session.commit()
    hours = await scalar(
        session, "SELECT weekly_hours FROM business_calendars WHERE name = 'EU business hours'"
    )
    assert hours == {"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]]}
    assert await scalar(session, "SELECT outstanding FROM invoices WHERE number = 'INV-9001'") == Decimal(
        "4850.00"
    )
    assert await scalar(session, "SELECT disputed FROM invoices WHERE number = 'INV-9001'") is False
    member = await scalar(
        session,
        "SELECT t.name FROM team_members m JOIN teams t ON t.id = m.team_id "
        "JOIN staff s ON s.id = m.staff_id WHERE s.email = 'ana@example.com'",
    )
    assert member == "Billing"
    linked = await scalar(
        session,
        "SELECT c.external_ref FROM partner_customers pc JOIN partners p ON p.id = pc.partner_id "
        "JOIN customers c ON c.id = pc.customer_id WHERE p.client_id = 'erp-connector'",
    )
    assert linked == "C-1001"
    assert await scalar(session, "SELECT secret_hash FROM partners") is None
    team_calendar = await scalar(
        session, "SELECT c.time_zone FROM teams t JOIN business_calendars c ON c.id = t.calendar_id"
    )
    assert team_calendar == "Europe/Berlin"


async def test_later_file_updates_risk_rating_and_adds_invoice(session: AsyncSession) -> None:
    await import_master_data(session, example())
    await session.commit()
    later = example()
    later["customers"][0]["riskRating"] = "HIGH"
    later["invoices"].append(
        {
            "number": "INV-9002",
            "customer": "C-1001",
            "issuedOn": "2026-11-15",
            "dueOn": "2026-12-15",
            "amount": {"amount": "1200.50", "currency": "EUR"},
        }
    )
    summary = await import_master_data(session, {k: later[k] for k in ("customers", "invoices")})
    await session.commit()

    assert (summary.customers.updated, summary.invoices.inserted, summary.invoices.unchanged) == (1, 1, 1)
    assert await scalar(session, "SELECT risk_rating FROM customers WHERE external_ref = 'C-1001'") == "HIGH"
    assert await scalar(session, "SELECT outstanding FROM invoices WHERE number = 'INV-9002'") == Decimal(
        "1200.50"
    )
    # The stored payment still counts on INV-9001 although this file does not name it.
    assert await scalar(session, "SELECT outstanding FROM invoices WHERE number = 'INV-9001'") == Decimal(
        "4850.00"
    )


async def test_moving_a_payment_recomputes_both_invoices(session: AsyncSession) -> None:
    first = example()
    first["invoices"].append(
        {
            "number": "INV-9002",
            "customer": "C-1001",
            "issuedOn": "2026-11-15",
            "dueOn": "2026-12-15",
            "amount": {"amount": "8000.00", "currency": "EUR"},
        }
    )
    await import_master_data(session, first)
    await session.commit()
    moved = example()["payments"]
    moved[0]["invoice"] = "INV-9002"

    summary = await import_master_data(session, {"payments": moved})
    await session.commit()

    assert summary.payments.updated == 1
    assert summary.outstanding_recomputed == 2
    rows = await session.execute(text("SELECT number, outstanding FROM invoices ORDER BY number"))
    assert dict(rows.all()) == {"INV-9001": Decimal("9850.00"), "INV-9002": Decimal("3000.00")}


async def test_membership_and_partner_links_are_replaced(session: AsyncSession) -> None:
    first = example()
    first["teams"].append({"name": "Credit"})
    first["customers"].append({**first["customers"][0], "externalRef": "C-1002", "name": "Borealis Foods AB"})
    await import_master_data(session, first)
    await session.commit()
    later = {
        "staff": [{**example()["staff"][0], "teams": ["Credit"]}],
        "partners": [{**example()["partners"][0], "customers": ["C-1002"]}],
    }

    summary = await import_master_data(session, later)
    await session.commit()

    assert (summary.staff.updated, summary.partners.updated) == (1, 1)
    teams = await session.execute(
        text("SELECT t.name FROM team_members m JOIN teams t ON t.id = m.team_id ORDER BY 1")
    )
    assert list(teams.scalars()) == ["Credit"]
    links = await session.execute(
        text("SELECT c.external_ref FROM partner_customers pc JOIN customers c ON c.id = pc.customer_id")
    )
    assert list(links.scalars()) == ["C-1002"]


async def test_email_is_lowercased_and_sla_override_stored_in_seconds(session: AsyncSession) -> None:
    data = {
        "staff": [{"email": "Bo.Berg@Example.COM", "name": "Bo Berg", "role": "SUPERVISOR"}],
        "slaPolicies": [
            {
                "tier": "STANDARD",
                "priority": "URGENT",
                "firstResponse": "PT5S",
                "resolution": "P1D",
                "calendar": None,
            }
        ],
    }
    summary = await import_master_data(session, data)
    await session.commit()
    assert summary.sla_policies.updated == 1
    assert await scalar(session, "SELECT email FROM staff") == "bo.berg@example.com"
    policy = await session.execute(
        text(
            "SELECT first_response_seconds, resolution_seconds, calendar_id FROM sla_policies "
            "WHERE tier = 'STANDARD' AND priority = 'URGENT'"
        )
    )
    assert tuple(policy.one()) == (5, 86400, None)
