"""All or nothing: one bad record rejects the file, names the record and field, writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from importer.master_data import ImportRejected, import_master_data
from tests.importing.support import counts, dump, example

File = dict[str, Any]


def four_customers() -> File:
    """The example file with three good customers (one changed, two new) and a fourth one."""
    data = example()
    acme = data["customers"][0]
    data["customers"] = [
        {**acme, "riskRating": "MEDIUM"},
        {**acme, "externalRef": "C-1002", "name": "Borealis Foods AB", "country": "SE"},
        {**acme, "externalRef": "C-1003", "name": "Cobalt Logistics Ltd", "country": "GB"},
        {**acme, "externalRef": "C-1004", "name": "Delta Pharma SpA", "country": "IT"},
    ]
    return data


def _set(path: str, value: Any) -> Callable[[File], None]:
    """Mutator setting data[section][index][field](.sub) = value."""
    section, index, *fields = path.split(".")

    def mutate(data: File) -> None:
        target = data[section][int(index)]
        for name in fields[:-1]:
            target = target[name]
        target[fields[-1]] = value

    return mutate


def _other_customers_invoice(data: File) -> None:
    data["payments"][0]["customer"] = "C-1002"


CASES: list[tuple[str, Callable[[File], None], str]] = [
    (
        "enum",
        _set("customers.3.segment", "BIG"),
        'customers[3] (externalRef "C-1004"): segment: "BIG" is not one of ENTERPRISE, MID_MARKET, SMB, '
        "PUBLIC_SECTOR",
    ),
    (
        "unknown-team",
        _set("staff.0.teams", ["Billing", "Treasury"]),
        'staff[0] (email "ana@example.com"): teams: team "Treasury" is neither in this file nor in '
        "the database",
    ),
    (
        "negative-amount",
        _set("invoices.0.amount.amount", "-5.00"),
        'invoices[0] (number "INV-9001"): amount.amount: "-5.00" must not be negative',
    ),
    (
        "three-decimals",
        _set("invoices.0.amount.amount", "9850.005"),
        'invoices[0] (number "INV-9001"): amount.amount: "9850.005" has more than 2 decimal places',
    ),
    (
        "float-amount",
        _set("payments.0.amount.amount", 5000.0),
        'payments[0] (reference "PAY-77"): amount.amount: 5000.0 is not a decimal string',
    ),
    (
        "bad-currency",
        _set("invoices.0.amount.currency", "eur"),
        'invoices[0] (number "INV-9001"): amount.currency: "eur" is not a 3-letter uppercase ISO-4217',
    ),
    (
        "other-customers-invoice",
        _other_customers_invoice,
        'payments[0] (reference "PAY-77"): invoice: invoice "INV-9001" belongs to customer "C-1001", '
        'not to "C-1002"',
    ),
    (
        "payment-currency",
        _set("payments.0.amount.currency", "USD"),
        'payments[0] (reference "PAY-77"): amount.currency: "USD" differs from the currency EUR of invoice',
    ),
    (
        "overpayment",
        _set("payments.0.amount.amount", "9850.01"),
        'payments[0] (reference "PAY-77"): amount: would make the outstanding amount of invoice "INV-9001" '
        "negative (-0.01 EUR)",
    ),
    (
        "bad-duration",
        _set("slaPolicies.0.firstResponse", "15 minutes"),
        'slaPolicies[0] (tier "ENTERPRISE", priority "URGENT"): firstResponse: "15 minutes" is not '
        "an ISO-8601",
    ),
    (
        "month-duration",
        _set("slaPolicies.0.resolution", "P1M"),
        'slaPolicies[0] (tier "ENTERPRISE", priority "URGENT"): resolution: "P1M" is not an ISO-8601 '
        "duration",
    ),
    (
        "customer-role",
        _set("staff.0.role", "CUSTOMER"),
        'staff[0] (email "ana@example.com"): role: "CUSTOMER" is not a staff role',
    ),
    (
        "local-time",
        _set("customers.3.kycReviewedAt", "2026-03-01T00:00:00"),
        'customers[3] (externalRef "C-1004"): kycReviewedAt: "2026-03-01T00:00:00" is not an '
        "ISO-8601 instant",
    ),
    (
        "time-zone",
        _set("calendars.0.timeZone", "Europe/Atlantis"),
        'calendars[0] (name "EU business hours"): timeZone: "Europe/Atlantis" is not an IANA time zone',
    ),
    (
        "hours-reversed",
        _set("calendars.0.weeklyHours.mon", ["17:00", "09:00"]),
        'calendars[0] (name "EU business hours"): weeklyHours.mon: start 17:00 is not before end 09:00',
    ),
    (
        "disputed-not-imported",
        _set("invoices.0.disputed", True),
        'invoices[0] (number "INV-9001"): disputed: is not imported',
    ),
    (
        "partner-secret",
        _set("partners.0.clientSecret", "s3cr3t"),
        'partners[0] (clientId "erp-connector"): clientSecret: partner secrets are never imported',
    ),
    (
        "unknown-customer",
        _set("contracts.0.customer", "C-9999"),
        'contracts[0] (number "K-2026-001"): customer: customer "C-9999" is neither in this file nor',
    ),
    (
        "duplicate",
        _set("customers.3.externalRef", "C-1002"),
        'customers[3] (externalRef "C-1002"): externalRef: the same record appears twice (first as '
        "customers[1]",
    ),
    (
        "typo-field",
        _set("customers.3.riskRatng", "LOW"),
        'customers[3] (externalRef "C-1004"): riskRatng: is not a known field of customers',
    ),
    (
        "contact-unknown-customer",
        _set("contacts.0.customer", "C-9999"),
        'contacts[0] (email "AP@acme.example"): customer: customer "C-9999" is neither in this file nor',
    ),
    (
        "contact-not-an-address",
        _set("contacts.0.email", "jane roe"),
        'contacts[0] (email "jane roe"): email: "jane roe" is not an e-mail address',
    ),
    (
        "mailbox-unknown-team",
        _set("mailboxes.0.team", "Treasury"),
        'mailboxes[0] (address "Billing@casegraph.example"): team: team "Treasury" is neither in this file',
    ),
    (
        "mailbox-type",
        _set("mailboxes.0.defaultType", "COMPLAINT"),
        'mailboxes[0] (address "Billing@casegraph.example"): defaultType: "COMPLAINT" is not one of',
    ),
    (
        "contact-same-address-twice",
        lambda data: data["contacts"].append({**data["contacts"][0], "email": "ap@ACME.example"}),
        'contacts[1] (email "ap@ACME.example"): email: the same record appears twice (first as contacts[0]',
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_record_rejects_the_whole_file(
    session: AsyncSession, mutate: Callable[[File], None], message: str
) -> None:
    await import_master_data(session, example())
    await session.commit()
    before = await dump(session)
    data = four_customers()
    mutate(data)

    with pytest.raises(ImportRejected) as rejected:
        await import_master_data(session, data)
    # Even a caller that commits after the rejection finds nothing written.
    await session.commit()

    assert message in str(rejected.value)
    assert await dump(session) == before


async def test_rejected_file_on_empty_database_writes_no_row(session: AsyncSession) -> None:
    before = await counts(session)
    data = four_customers()
    data["customers"][3]["paymentTermsDays"] = -1

    with pytest.raises(ImportRejected, match=r"customers\[3\] .*paymentTermsDays"):
        await import_master_data(session, data)
    await session.commit()

    assert await counts(session) == before


async def test_the_good_file_of_the_same_shape_imports(session: AsyncSession) -> None:
    summary = await import_master_data(session, four_customers())
    assert summary.customers.inserted == 4
