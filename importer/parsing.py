"""The master-data import file (IMPORT.md) parsed into validated rows, without I/O.

Each record of a section becomes an `Item`: its natural key, the column
values of its row (foreign keys still as natural keys in `refs`) and the
label used in messages. A record states the whole state of its entity:
an optional field left out takes its default (shown below), it does not
keep an older value. Unknown fields are refused, so a typo never goes
unnoticed; `disputed`, `outstanding` and partner secrets are refused with
a message saying why (they are not master data).

Defaults: calendars.holidays []; teams.calendar null; staff.approvalLevel
AGENT, teams [], skills [], active true; customers.kycReviewedAt null,
creditLimit null, paymentTermsDays 30; contracts.endsOn null,
disputeWindowDays 90; invoices.voided false; payments.invoice null;
financialStatements.currentAssets/currentLiabilities null; partners.customers
[], scopes [], active true; slaPolicies.calendar null (24x7), name
"<Tier> <Priority>".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NoReturn

from domain import enums as e
from importer.fields import FieldReader, ImportRejected, show

__all__ = ["SECTIONS", "ImportRejected", "Item", "ParsedFile", "money_text", "parse_import"]

SECTIONS = (
    "calendars",
    "teams",
    "staff",
    "customers",
    "contracts",
    "invoices",
    "payments",
    "financialStatements",
    "partners",
    "exchangeRates",
    "slaPolicies",
    "mailboxes",
    "contacts",
)

# ACCESS.md: the scopes a token (and so a partner client) may ask for.
KNOWN_SCOPES = frozenset(
    {
        "requests:read",
        "requests:write",
        "customers:read",
        "approvals:decide",
        "adjustments:post",
        "metrics:read",
        "audit:read",
    }
)
_STAFF_ROLES = [r for r in e.Role if r not in (e.Role.CUSTOMER, e.Role.PARTNER)]
_SECRET_REFUSAL = "partner secrets are never imported; `casegraph partner-secret CLIENT_ID` issues them"
# Fields that look like master data but are not: refused with the reason.
_REFUSED: dict[str, dict[str, str]] = {
    "invoices": {
        "disputed": "is not imported: it is set while a billing dispute on the invoice is open",
        "outstanding": "is not imported: it is computed from the amount, payments and adjustments",
        "status": "is not imported: it is derived from the amount, outstanding, due date and voided",
    },
    "partners": dict.fromkeys(
        ("secret", "clientSecret", "client_secret", "secretHash", "secret_hash"), _SECRET_REFUSAL
    ),
}


@dataclass(frozen=True)
class Item:
    """One validated record: natural key, row values and references by natural key."""

    at: str
    key: Any
    row: dict[str, Any]
    refs: dict[str, Any] = field(default_factory=dict)

    def fail(self, field_name: str, message: str) -> NoReturn:
        raise ImportRejected(f"{self.at}: {field_name}: {message}", record=self.at, field=field_name)


@dataclass
class ParsedFile:
    """Every section's items in file order (absent sections are empty)."""

    sections: dict[str, list[Item]]

    def __getitem__(self, section: str) -> list[Item]:
        return self.sections[section]


def _calendar(r: FieldReader) -> Item:
    name = r.key("name", max_len=200)
    row = {
        "name": name,
        "time_zone": r.time_zone("timeZone"),
        "weekly_hours": r.weekly_hours("weeklyHours"),
        "holidays": r.day_list("holidays"),
    }
    return Item(r.at, name, row)


def _team(r: FieldReader) -> Item:
    name = r.key("name", max_len=200)
    return Item(r.at, name, {"name": name}, {"calendar": r.text("calendar", max_len=200, required=False)})


def _address(r: FieldReader, name: str) -> str:
    """A lower-cased e-mail address (compared case-insensitively everywhere)."""
    email = r.key(name, max_len=320).strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in email):
        r.fail(name, f"{show(r.raw[name])} is not an e-mail address")
    return email


def _staff(r: FieldReader) -> Item:
    email = _address(r, "email")
    role = r.enum("role", e.Role)
    if role not in _STAFF_ROLES:
        r.fail("role", f"{show(role.value)} is not a staff role ({', '.join(_STAFF_ROLES)})")
    row = {
        "email": email,
        "name": r.key("name", max_len=200),
        "role": role.value,
        "approval_level": r.enum("approvalLevel", e.ApprovalLevel, default=e.ApprovalLevel.AGENT).value,
        "skills": r.enum_list("skills", e.RequestType),
        "active": r.boolean("active", default=True),
    }
    teams = r.str_list("teams", max_len=200)
    return Item(r.at, email, row, {"teams": sorted(set(teams))})


def _customer(r: FieldReader) -> Item:
    ref = r.key("externalRef", max_len=64)
    country = r.key("country", max_len=2)
    if not (len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()):
        r.fail("country", f"{show(country)} is not an ISO-3166 alpha-2 code such as DE")
    credit = r.money("creditLimit", required=False, zero=True)
    row = {
        "external_ref": ref,
        "name": r.key("name", max_len=300),
        "segment": r.enum("segment", e.CustomerSegment).value,
        "country": country,
        "kyc_status": r.enum("kycStatus", e.KycStatus).value,
        "kyc_reviewed_at": r.instant("kycReviewedAt", required=False),
        "credit_limit_amount": credit[0] if credit else None,
        "credit_limit_currency": credit[1] if credit else None,
        "risk_rating": r.enum("riskRating", e.RiskRating).value,
        "payment_terms_days": r.integer("paymentTermsDays", default=30, maximum=3650),
    }
    return Item(r.at, ref, row)


def _contract(r: FieldReader) -> Item:
    number = r.key("number", max_len=64)
    starts, ends = r.day("startsOn"), r.day("endsOn", required=False)
    if starts and ends and ends < starts:
        r.fail("endsOn", f"{ends} is before startsOn {starts}")
    row = {
        "number": number,
        "sla_tier": r.enum("slaTier", e.SlaTier).value,
        "starts_on": starts,
        "ends_on": ends,
        "dispute_window_days": r.integer("disputeWindowDays", default=90, maximum=3650),
    }
    return Item(r.at, number, row, {"customer": r.key("customer", max_len=64)})


def _invoice(r: FieldReader) -> Item:
    number = r.key("number", max_len=64)
    issued, due = r.day("issuedOn"), r.day("dueOn")
    if issued and due and due < issued:
        r.fail("dueOn", f"{due} is before issuedOn {issued}")
    amount = r.money("amount")
    assert amount is not None
    row = {
        "number": number,
        "issued_on": issued,
        "due_on": due,
        "amount": amount[0],
        "currency": amount[1],
        "voided": r.boolean("voided", default=False),
    }
    return Item(r.at, number, row, {"customer": r.key("customer", max_len=64)})


def _payment(r: FieldReader) -> Item:
    ref = r.key("reference", max_len=64)
    amount = r.money("amount")
    assert amount is not None
    status = r.enum("status", e.PaymentStatus)
    invoice = r.text("invoice", max_len=64, required=False)
    if status is e.PaymentStatus.POSTED and invoice is None:
        r.fail("invoice", "is required for a POSTED payment")
    row = {
        "reference": ref,
        "amount": amount[0],
        "currency": amount[1],
        "received_at": r.instant("receivedAt"),
        "status": status.value,
    }
    return Item(r.at, ref, row, {"customer": r.key("customer", max_len=64), "invoice": invoice})


def _statement(r: FieldReader) -> Item:
    customer = r.key("customer", max_len=64)
    as_of = r.day("asOf")
    row = {
        "as_of": as_of,
        "net_operating_income": r.decimal("netOperatingIncome", negative=True),
        "total_debt_service": r.decimal("totalDebtService", zero=False),
        "current_assets": r.decimal("currentAssets", required=False),
        "current_liabilities": r.decimal("currentLiabilities", required=False),
    }
    return Item(r.at, (customer, as_of), row, {"customer": customer})


def _partner(r: FieldReader) -> Item:
    client_id = r.key("clientId", max_len=128)
    scopes = r.str_list("scopes", max_len=64)
    for i, scope in enumerate(scopes):
        if scope not in KNOWN_SCOPES:
            r.fail(f"scopes[{i}]", f"{show(scope)} is not one of {', '.join(sorted(KNOWN_SCOPES))}")
    row = {
        "client_id": client_id,
        "name": r.key("name", max_len=200),
        "scopes": sorted(set(scopes)),
        "active": r.boolean("active", default=True),
    }
    customers = sorted(set(r.str_list("customers", max_len=64)))
    return Item(r.at, client_id, row, {"customers": customers})


def _exchange_rate(r: FieldReader) -> Item:
    currency = r.currency("currency", r.key("currency", max_len=64))
    usd = r.decimal("usd", places=10, zero=False)
    if currency == "USD" and usd != 1:
        r.fail("usd", "the rate of USD is 1 by definition")
    return Item(r.at, currency, {"currency": currency, "usd": usd})


def _sla_policy(r: FieldReader) -> Item:
    tier, priority = r.enum("tier", e.SlaTier), r.enum("priority", e.Priority)
    name = r.text("name", max_len=200, required=False) or f"{tier.value.title()} {priority.value.title()}"
    row = {
        "name": name,
        "tier": tier.value,
        "priority": priority.value,
        "first_response_seconds": r.duration("firstResponse"),
        "resolution_seconds": r.duration("resolution"),
    }
    calendar = r.text("calendar", max_len=200, required=False)
    return Item(r.at, (tier.value, priority.value), row, {"calendar": calendar})


def _mailbox(r: FieldReader) -> Item:
    address = _address(r, "address")
    row = {
        "address": address,
        "name": r.text("name", max_len=200, required=False),
        "default_type": r.enum("defaultType", e.RequestType).value,
        "active": r.boolean("active", default=True),
    }
    return Item(r.at, address, row, {"team": r.text("team", max_len=200, required=False)})


def _contact(r: FieldReader) -> Item:
    email = _address(r, "email")
    row = {
        "email": email,
        "name": r.text("name", max_len=200, required=False),
        "active": r.boolean("active", default=True),
    }
    return Item(r.at, email, row, {"customer": r.key("customer", max_len=64)})


# Section -> (fields naming a record in messages, parser).
_PARSERS: dict[str, tuple[tuple[str, ...], Callable[[FieldReader], Item]]] = {
    "calendars": (("name",), _calendar),
    "teams": (("name",), _team),
    "staff": (("email",), _staff),
    "customers": (("externalRef",), _customer),
    "contracts": (("number",), _contract),
    "invoices": (("number",), _invoice),
    "payments": (("reference",), _payment),
    "financialStatements": (("customer", "asOf"), _statement),
    "partners": (("clientId",), _partner),
    "exchangeRates": (("currency",), _exchange_rate),
    "slaPolicies": (("tier", "priority"), _sla_policy),
    "mailboxes": (("address",), _mailbox),
    "contacts": (("email",), _contact),
}


def parse_import(data: Mapping[str, Any]) -> ParsedFile:
    """Validate every record of every section; raises ImportRejected at the first bad one."""
    if not isinstance(data, Mapping):
        raise ImportRejected(f"the import file must be a JSON object, got {show(data)[:60]}")
    for name in data:
        if name not in _PARSERS:
            raise ImportRejected(f"{name}: is not a known section ({', '.join(SECTIONS)})", field=name)
    sections: dict[str, list[Item]] = {}
    for section in SECTIONS:
        records = data.get(section)
        if records is None:
            records = []
        if not isinstance(records, list):
            raise ImportRejected(f"{section}: must be a list of records", field=section)
        key_fields, parser = _PARSERS[section]
        items: list[Item] = []
        first_at: dict[Any, str] = {}
        for index, raw in enumerate(records):
            reader = FieldReader(section, index, raw, key_fields)
            item = parser(reader)
            reader.finish(_REFUSED.get(section))
            if item.key in first_at:
                item.fail(key_fields[0], f"the same record appears twice (first as {first_at[item.key]})")
            first_at[item.key] = item.at
            items.append(item)
        sections[section] = items
    return ParsedFile(sections)


def money_text(amount: Decimal, currency: str) -> str:
    """1234.5, EUR -> "1234.50 EUR" for messages."""
    return f"{amount:.2f} {currency}"
