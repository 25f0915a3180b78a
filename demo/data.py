"""The demo organisation, as an IMPORT.md file (the same import path as the ERP sync).

Dates are relative to `today`, so the scenario invoices are always inside
their dispute windows. Everything here is fictitious (example.com staff,
invented companies). Building the same `today` twice gives the same file,
so seeding twice on one day imports the organisation unchanged.

Scenario records (what the demos and end-to-end tests build on):

- Billing dispute: customer C-1001 "Acme Retail GmbH" (PREMIUM contract
  K-2026-001, KYC VERIFIED, linked to partner `erp-connector`), invoice
  INV-9001 of 9,850.00 EUR, unpaid, issued 12 days ago.
- Adjustment at FINANCE_MANAGER level: customer C-1004 "Pinecrest Health
  Partners LLC" (USD, risk HIGH), invoice INV-9101 of 24,300.00 USD, unpaid:
  room for a 16,750.00 USD credit memo (> 10,000 and <= 50,000 USD).
- Adjustment at CONTROLLER level with two approvals: customer C-1002
  "Northwind Traders Inc." (ENTERPRISE contract, USD, linked to
  `erp-connector`), invoice INV-9201 of 148,000.00 USD, unpaid: room for a
  60,000.00 USD adjustment. The two CONTROLLERs are helena.schmidt@example.com
  (FINANCE) and greta.lindqvist@example.com (ADMIN).
- Cash application: customer C-1005 "Harbor Freight Logistics Inc." (USD):
  payment PAY-9301 of 18,500.00 USD was POSTED to INV-9301 (22,000.00,
  outstanding 3,500.00) instead of INV-9302 (18,500.00, overdue, unpaid).
- Credit-limit request refused: customer C-1007 "Orchid Textiles Pvt Ltd"
  has KYC status PENDING.
- DSCR below 1.25: customer C-1011 "Fjord Seafood AS" (latest statement NOI
  450,000 / debt service 420,000 = 1.07).
- Customer C-1006 "Sakura Components KK" has no contract (STANDARD tier).
- Every tier, risk rating, KYC status and segment occurs; invoices are in
  USD, EUR and GBP, and each customer has paid, partly paid, open and
  overdue invoices.

Staff: admin@example.com (ADMIN), an AUDITOR, a FINANCE_MANAGER, two
CONTROLLERs, supervisors and agents in every team; within each team the
members' skills cover every RequestType, so routing always finds an agent.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.enums import RequestType

__all__ = ["ADMIN_EMAIL", "TEAM_NAMES", "demo_organisation"]

ADMIN_EMAIL = "admin@example.com"
TEAM_NAMES = (
    "Billing",
    "Cash Application",
    "Credit",
    "Customer Master",
    "Customer Service",
    "Finance Escalations",
)
_ALL_SKILLS = [t.value for t in RequestType]
# EMAIL.md: one mailbox per team, the type of a request mailed to it.
_MAILBOX_TYPES = {
    "Billing": "BILLING_DISPUTE",
    "Cash Application": "PAYMENT_INQUIRY",
    "Credit": "CREDIT_LIMIT_CHANGE",
    "Customer Master": "ACCOUNT_UPDATE",
    "Customer Service": "GENERAL_INQUIRY",
    "Finance Escalations": "GENERAL_INQUIRY",
}
MAIL_DOMAIN = "casegraph.example"
_TEAM_SKILLS = {
    "Billing": ["BILLING_DISPUTE", "INVOICE_CORRECTION", "GENERAL_INQUIRY"],
    "Cash Application": ["PAYMENT_INQUIRY", "PAYMENT_POSTING", "GENERAL_INQUIRY"],
    "Credit": ["CREDIT_LIMIT_CHANGE", "LETTER_OF_CREDIT", "DEBT_RESTRUCTURING"],
    "Customer Master": ["ACCOUNT_UPDATE", "CONTRACT_SERVICE"],
    "Customer Service": ["CONTRACT_SERVICE", "GENERAL_INQUIRY", "PAYMENT_INQUIRY"],
    "Finance Escalations": _ALL_SKILLS,
}

# (name, role, approval level, teams, specialist?) - specialists only have their teams' skills.
_STAFF: list[tuple[str, str, str, list[str], bool]] = [
    ("Ana Ortiz", "AGENT", "AGENT", ["Billing"], False),
    ("Liam Chen", "AGENT", "AGENT", ["Billing"], False),
    ("Sofia Rossi", "AGENT", "AGENT", ["Billing"], True),
    ("Priya Nair", "AGENT", "AGENT", ["Cash Application"], False),
    ("Tom Becker", "AGENT", "AGENT", ["Cash Application"], True),
    ("Jonas Mueller", "AGENT", "AGENT", ["Credit"], False),
    ("Aisha Khan", "AGENT", "AGENT", ["Credit"], True),
    ("Kenji Tanaka", "AGENT", "AGENT", ["Customer Master"], False),
    ("Emma Johansson", "AGENT", "AGENT", ["Customer Master"], True),
    ("Noah Williams", "AGENT", "AGENT", ["Customer Service"], False),
    ("Olivia Brown", "AGENT", "AGENT", ["Customer Service"], False),
    ("Lucas Silva", "AGENT", "AGENT", ["Customer Service"], True),
    ("Fatima Haddad", "AGENT", "AGENT", ["Finance Escalations"], False),
    ("Daniel Weber", "SUPERVISOR", "SUPERVISOR", ["Billing", "Cash Application", "Customer Service"], False),
    ("Claire Dubois", "SUPERVISOR", "SUPERVISOR", ["Credit", "Customer Master"], False),
    ("Ethan Clarke", "SUPERVISOR", "SUPERVISOR", ["Finance Escalations"], False),
    ("Maria Garcia", "FINANCE", "FINANCE_MANAGER", ["Credit", "Finance Escalations"], False),
    ("Helena Schmidt", "FINANCE", "CONTROLLER", [], False),
    ("Greta Lindqvist", "ADMIN", "CONTROLLER", [], False),
    ("Irene Novak", "AUDITOR", "AGENT", [], True),
]

# (ref, name, segment, country, currency, KYC, risk, tier or None, dispute window, credit limit)
_CUSTOMERS: list[tuple[str, str, str, str, str, str, str, str | None, int, str]] = [
    ("C-1001", "Acme Retail GmbH", "ENTERPRISE", "DE", "EUR", "VERIFIED", "LOW", "PREMIUM", 60, "250000.00"),
    (
        "C-1002",
        "Northwind Traders Inc.",
        "ENTERPRISE",
        "US",
        "USD",
        "VERIFIED",
        "MEDIUM",
        "ENTERPRISE",
        90,
        "1500000.00",
    ),
    (
        "C-1003",
        "Brightwater Utilities plc",
        "PUBLIC_SECTOR",
        "GB",
        "GBP",
        "VERIFIED",
        "LOW",
        "STANDARD",
        90,
        "400000.00",
    ),
    (
        "C-1004",
        "Pinecrest Health Partners LLC",
        "MID_MARKET",
        "US",
        "USD",
        "VERIFIED",
        "HIGH",
        "PREMIUM",
        90,
        "180000.00",
    ),
    (
        "C-1005",
        "Harbor Freight Logistics Inc.",
        "MID_MARKET",
        "US",
        "USD",
        "VERIFIED",
        "MEDIUM",
        "STANDARD",
        90,
        "120000.00",
    ),
    ("C-1006", "Sakura Components KK", "MID_MARKET", "JP", "USD", "VERIFIED", "LOW", None, 90, "90000.00"),
    (
        "C-1007",
        "Orchid Textiles Pvt Ltd",
        "SMB",
        "IN",
        "USD",
        "PENDING",
        "MEDIUM",
        "STANDARD",
        90,
        "25000.00",
    ),
    (
        "C-1008",
        "Vanguard Metals AG",
        "ENTERPRISE",
        "CH",
        "EUR",
        "VERIFIED",
        "CRITICAL",
        "ENTERPRISE",
        60,
        "800000.00",
    ),
    ("C-1009", "Lumen Dental Group", "SMB", "US", "USD", "EXPIRED", "LOW", "STANDARD", 90, "40000.00"),
    (
        "C-1010",
        "Kestrel Mining Pty Ltd",
        "MID_MARKET",
        "AU",
        "USD",
        "REJECTED",
        "HIGH",
        "STANDARD",
        90,
        "60000.00",
    ),
    ("C-1011", "Fjord Seafood AS", "SMB", "NO", "EUR", "VERIFIED", "MEDIUM", "PREMIUM", 90, "75000.00"),
    (
        "C-1012",
        "City of Riverside Water Authority",
        "PUBLIC_SECTOR",
        "US",
        "USD",
        "VERIFIED",
        "LOW",
        "ENTERPRISE",
        90,
        "500000.00",
    ),
    ("C-1013", "Greenleaf Organics Ltd", "SMB", "GB", "GBP", "VERIFIED", "LOW", "PREMIUM", 90, "50000.00"),
    (
        "C-1014",
        "Meridian Software BV",
        "MID_MARKET",
        "NL",
        "EUR",
        "VERIFIED",
        "LOW",
        "STANDARD",
        90,
        "150000.00",
    ),
]

# Regular invoices of every customer: (days since issue, share of the base amount, share paid).
_INVOICE_PLAN = [
    (118, Decimal("1.00"), Decimal("1")),  # paid
    (88, Decimal("0.60"), Decimal("0.5")),  # partly paid, overdue
    (74, Decimal("1.35"), Decimal("1")),  # paid
    (58, Decimal("0.45"), Decimal("0")),  # overdue
    (44, Decimal("0.80"), Decimal("0.25")),  # partly paid, overdue
    (27, Decimal("1.10"), Decimal("0")),  # open, due in 3 days
    (15, Decimal("0.70"), Decimal("0.4")),  # partly paid, open
    (6, Decimal("1.20"), Decimal("0")),  # open
]


def contact_email(external_ref: str) -> str:
    """The customer's accounts-payable contact: a mail contact and the demo CUSTOMER token's subject."""
    return f"ap.{external_ref.lower()}@customers.example.com"


def mailbox_address(team: str) -> str:
    return f"{team.lower().replace(' ', '-')}@{MAIL_DOMAIN}"


def _email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@example.com"


def _staff() -> list[dict[str, Any]]:
    staff = []
    for name, role, level, teams, specialist in _STAFF:
        skills = sorted({s for t in teams for s in _TEAM_SKILLS[t]}) if specialist else _ALL_SKILLS
        staff.append(
            {
                "email": _email(name),
                "name": name,
                "role": role,
                "approvalLevel": level,
                "teams": teams,
                "skills": skills if role != "AUDITOR" else [],
                "active": True,
            }
        )
    staff.append(
        {
            "email": ADMIN_EMAIL,
            "name": "Alex Morgan",
            "role": "ADMIN",
            "approvalLevel": "SUPERVISOR",
            "teams": [],
            "skills": [],
            "active": True,
        }
    )
    # A former colleague: still on the team, never routed to.
    staff.append(
        {
            "email": "peter.jansen@example.com",
            "name": "Peter Jansen",
            "role": "AGENT",
            "approvalLevel": "AGENT",
            "teams": ["Billing"],
            "skills": _ALL_SKILLS,
            "active": False,
        }
    )
    return staff


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": f"{amount.quantize(Decimal('0.01'))}", "currency": currency}


def _instant(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00Z"


class _Ledger:
    """Collects invoices and payments with numbers in order."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.invoices: list[dict[str, Any]] = []
        self.payments: list[dict[str, Any]] = []
        self._next_invoice = 10001
        self._next_payment = 50001

    def invoice(
        self,
        customer: str,
        currency: str,
        amount: Decimal,
        age: int,
        terms: int,
        paid: Decimal = Decimal(0),
        number: str | None = None,
    ) -> str:
        issued = self.today - timedelta(days=age)
        if number is None:
            number, self._next_invoice = f"INV-{self._next_invoice}", self._next_invoice + 1
        self.invoices.append(
            {
                "number": number,
                "customer": customer,
                "issuedOn": issued.isoformat(),
                "dueOn": (issued + timedelta(days=terms)).isoformat(),
                "amount": _money(amount, currency),
            }
        )
        if paid > 0:
            received = min(issued + timedelta(days=terms - 3), self.today - timedelta(days=1))
            self.payment(customer, number, currency, paid, received)
        return number

    def payment(
        self,
        customer: str,
        invoice: str | None,
        currency: str,
        amount: Decimal,
        received: date,
        reference: str | None = None,
        status: str = "POSTED",
    ) -> None:
        if reference is None:
            reference, self._next_payment = f"PAY-{self._next_payment}", self._next_payment + 1
        self.payments.append(
            {
                "reference": reference,
                "customer": customer,
                "invoice": invoice,
                "amount": _money(amount, currency),
                "receivedAt": _instant(received, 14),
                "status": status,
            }
        )


def _ledger(today: date) -> _Ledger:
    ledger = _Ledger(today)
    for i, (ref, _n, _s, _c, currency, *_rest) in enumerate(_CUSTOMERS):
        base = Decimal(3200 + 1375 * (i % 7) + 410 * i)
        for age, share, paid in _INVOICE_PLAN:
            amount = (base * share).quantize(Decimal("0.01"))
            ledger.invoice(ref, currency, amount, age, 30, paid=(amount * paid).quantize(Decimal("0.01")))
    # An unapplied payment waiting for cash application.
    ledger.payment("C-1003", None, "GBP", Decimal("2140.00"), today - timedelta(days=9), status="UNAPPLIED")
    # Scenario invoices and payments (see the module docstring).
    ledger.invoice("C-1001", "EUR", Decimal("9850.00"), 12, 30, number="INV-9001")
    ledger.invoice("C-1004", "USD", Decimal("24300.00"), 20, 45, number="INV-9101")
    ledger.invoice("C-1002", "USD", Decimal("148000.00"), 15, 60, number="INV-9201")
    ledger.invoice("C-1005", "USD", Decimal("22000.00"), 40, 30, number="INV-9301")
    ledger.invoice("C-1005", "USD", Decimal("18500.00"), 35, 30, number="INV-9302")
    ledger.payment(
        "C-1005", "INV-9301", "USD", Decimal("18500.00"), today - timedelta(days=4), reference="PAY-9301"
    )
    return ledger


def _customers(today: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    customers, contracts, statements = [], [], []
    last_year_end = date(today.year - 1, 12, 31)
    for i, (ref, name, segment, country, currency, kyc, risk, tier, window, credit) in enumerate(_CUSTOMERS):
        customers.append(
            {
                "externalRef": ref,
                "name": name,
                "segment": segment,
                "country": country,
                "kycStatus": kyc,
                "kycReviewedAt": _instant(today - timedelta(days=30 + 23 * i), 9)
                if kyc != "PENDING"
                else None,
                "creditLimit": {"amount": credit, "currency": currency},
                "riskRating": risk,
                "paymentTermsDays": 30 if segment != "PUBLIC_SECTOR" else 45,
            }
        )
        if tier is not None:
            contracts.append(
                {
                    "number": f"K-{ref[2:]}-01",
                    "customer": ref,
                    "slaTier": tier,
                    "startsOn": (today - timedelta(days=400 + 11 * i)).isoformat(),
                    "endsOn": None,
                    "disputeWindowDays": window,
                }
            )
        income = Decimal(450000) if ref == "C-1011" else Decimal(900000 + 150000 * i)
        debt = Decimal(420000) if ref == "C-1011" else Decimal(500000 + 40000 * i)
        for years_back, growth in ((0, Decimal("1.00")), (1, Decimal("0.92"))):
            statements.append(
                {
                    "customer": ref,
                    "asOf": date(last_year_end.year - years_back, 12, 31).isoformat(),
                    "netOperatingIncome": f"{income * growth:.2f}",
                    "totalDebtService": f"{debt:.2f}",
                    "currentAssets": f"{income * Decimal('0.8'):.2f}",
                    "currentLiabilities": f"{debt * Decimal('0.7'):.2f}",
                }
            )
    # C-1001 keeps the IMPORT.md example's contract number.
    contracts[0]["number"] = "K-2026-001"
    return customers, contracts, statements


def demo_organisation(today: date) -> dict[str, Any]:
    """The demo organisation as an IMPORT.md file; see the module docstring for its scenarios."""
    customers, contracts, statements = _customers(today)
    ledger = _ledger(today)
    return {
        "calendars": [
            {
                "name": "EU business hours",
                "timeZone": "Europe/Berlin",
                "weeklyHours": {d: ["08:00", "18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                "holidays": [f"{today.year}-12-25", f"{today.year}-12-26", f"{today.year + 1}-01-01"],
            },
            {
                "name": "US business hours",
                "timeZone": "America/New_York",
                "weeklyHours": {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                "holidays": [f"{today.year}-12-25", f"{today.year + 1}-01-01"],
            },
        ],
        "teams": [
            {
                "name": name,
                "calendar": "US business hours" if name == "Cash Application" else "EU business hours",
            }
            for name in TEAM_NAMES
        ],
        "staff": _staff(),
        "customers": customers,
        "contracts": contracts,
        "invoices": ledger.invoices,
        "payments": ledger.payments,
        "financialStatements": statements,
        "partners": [
            {
                "clientId": "erp-connector",
                "name": "ERP connector",
                "customers": ["C-1001", "C-1002"],
                "scopes": ["customers:read", "requests:read", "requests:write"],
            }
        ],
        "exchangeRates": [
            {"currency": "USD", "usd": "1"},
            {"currency": "EUR", "usd": "1.08"},
            {"currency": "GBP", "usd": "1.27"},
        ],
        "mailboxes": [
            {
                "address": mailbox_address(team),
                "name": f"casegraph {team}",
                "team": team,
                "defaultType": _MAILBOX_TYPES[team],
            }
            for team in TEAM_NAMES
        ],
        "contacts": [
            {
                "email": contact_email(c["externalRef"]),
                "customer": c["externalRef"],
                "name": f"Accounts payable, {c['name']}",
            }
            for c in customers
        ],
    }
