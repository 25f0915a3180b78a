"""Helpers of the import tests: the IMPORT.md example and a full dump of the database."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Base

EXAMPLE: dict[str, Any] = {
    "calendars": [
        {
            "name": "EU business hours",
            "timeZone": "Europe/Berlin",
            "weeklyHours": {"mon": ["09:00", "17:00"], "tue": ["09:00", "17:00"]},
            "holidays": ["2026-12-25"],
        }
    ],
    "teams": [{"name": "Billing", "calendar": "EU business hours"}],
    "staff": [
        {
            "email": "ana@example.com",
            "name": "Ana Ortiz",
            "role": "AGENT",
            "approvalLevel": "AGENT",
            "teams": ["Billing"],
            "skills": ["BILLING_DISPUTE", "INVOICE_CORRECTION"],
            "active": True,
        }
    ],
    "customers": [
        {
            "externalRef": "C-1001",
            "name": "Acme Retail GmbH",
            "segment": "ENTERPRISE",
            "country": "DE",
            "kycStatus": "VERIFIED",
            "kycReviewedAt": "2026-03-01T00:00:00Z",
            "creditLimit": {"amount": "250000.00", "currency": "EUR"},
            "riskRating": "LOW",
            "paymentTermsDays": 30,
        }
    ],
    "contracts": [
        {
            "number": "K-2026-001",
            "customer": "C-1001",
            "slaTier": "PREMIUM",
            "startsOn": "2026-01-01",
            "endsOn": None,
            "disputeWindowDays": 60,
        }
    ],
    "invoices": [
        {
            "number": "INV-9001",
            "customer": "C-1001",
            "issuedOn": "2026-11-01",
            "dueOn": "2026-12-01",
            "amount": {"amount": "9850.00", "currency": "EUR"},
        }
    ],
    "payments": [
        {
            "reference": "PAY-77",
            "customer": "C-1001",
            "invoice": "INV-9001",
            "amount": {"amount": "5000.00", "currency": "EUR"},
            "receivedAt": "2026-11-10T12:00:00Z",
            "status": "POSTED",
        }
    ],
    "financialStatements": [
        {
            "customer": "C-1001",
            "asOf": "2025-12-31",
            "netOperatingIncome": "1200000.00",
            "totalDebtService": "800000.00",
            "currentAssets": "900000.00",
            "currentLiabilities": "600000.00",
        }
    ],
    "partners": [
        {
            "clientId": "erp-connector",
            "name": "ERP connector",
            "customers": ["C-1001"],
            "scopes": ["requests:read", "requests:write"],
        }
    ],
    "exchangeRates": [{"currency": "EUR", "usd": "1.08"}],
    "slaPolicies": [
        {
            "tier": "ENTERPRISE",
            "priority": "URGENT",
            "firstResponse": "PT15M",
            "resolution": "PT4H",
            "calendar": None,
        }
    ],
    # EMAIL.md's example (the address in mixed case: natural keys compare case-insensitively).
    "mailboxes": [
        {
            "address": "Billing@casegraph.example",
            "team": "Billing",
            "defaultType": "BILLING_DISPUTE",
            "name": "Acme Billing",
        }
    ],
    "contacts": [{"email": "AP@acme.example", "customer": "C-1001", "name": "Jane Roe", "active": True}],
}


def example() -> dict[str, Any]:
    """A fresh copy of the IMPORT.md example file."""
    return copy.deepcopy(EXAMPLE)


async def dump(session: AsyncSession) -> dict[str, list[str]]:
    """Every row of every table with its xmin, so that a rewrite of an equal row shows too."""
    rows: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        result = await session.execute(
            text(f"SELECT xmin::text || ' ' || t::text FROM {table.name} t ORDER BY 1")
        )
        rows[table.name] = list(result.scalars())
    return rows


async def counts(session: AsyncSession) -> dict[str, int]:
    """Row count of every table."""
    out: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        out[table.name] = (await session.execute(text(f"SELECT count(*) FROM {table.name}"))).scalar_one()
    return out


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    return (await session.execute(text(sql), params)).scalar_one()
