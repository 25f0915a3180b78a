"""The finance tests' organisation (imported through importer.master_data like the ERP sync does) and a
GraphQL-over-HTTP helper that speaks with real tokens of each role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_sessionmaker
from db.models import Base
from importer.master_data import import_master_data
from schema import ids
from tests.conftest import Tokens, bearer

# Staff of the organisation: short name -> (email, role, approval level, teams, skills).
STAFF: dict[str, tuple[str, str, str, list[str], list[str]]] = {
    "ana": (
        "ana@example.com",
        "AGENT",
        "AGENT",
        ["Billing", "Finance Escalations"],
        ["BILLING_DISPUTE", "INVOICE_CORRECTION", "GENERAL_INQUIRY"],
    ),
    "cole": (
        "cole@example.com",
        "AGENT",
        "AGENT",
        ["Cash Application"],
        ["PAYMENT_POSTING", "PAYMENT_INQUIRY"],
    ),
    "cara": ("cara@example.com", "AGENT", "AGENT", ["Credit"], ["CREDIT_LIMIT_CHANGE"]),
    "sue": ("sue@example.com", "SUPERVISOR", "SUPERVISOR", ["Billing"], []),
    "fiona": ("fiona@example.com", "FINANCE", "FINANCE_MANAGER", [], []),
    "carl": ("carl@example.com", "FINANCE", "CONTROLLER", [], []),
    "cleo": ("cleo@example.com", "FINANCE", "CONTROLLER", [], []),
    "admin": ("admin@example.com", "ADMIN", "CONTROLLER", [], []),
    "audra": ("audra@example.com", "AUDITOR", "AGENT", [], []),
}
TEAMS = [
    "Billing",
    "Cash Application",
    "Credit",
    "Customer Master",
    "Customer Service",
    "Finance Escalations",
]


def _money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def organisation(today: datetime) -> dict[str, Any]:
    """The import file: customers of every KYC and risk case the rules care about, their invoices."""
    issued = (today - timedelta(days=10)).date()
    due = (today + timedelta(days=20)).date()

    def invoice(number: str, customer: str, amount: str, currency: str = "USD") -> dict[str, Any]:
        return {
            "number": number,
            "customer": customer,
            "issuedOn": issued.isoformat(),
            "dueOn": due.isoformat(),
            "amount": _money(amount, currency),
        }

    def customer(ref: str, name: str, kyc: str = "VERIFIED", risk: str = "LOW") -> dict[str, Any]:
        return {
            "externalRef": ref,
            "name": name,
            "segment": "MID_MARKET",
            "country": "US",
            "kycStatus": kyc,
            "creditLimit": _money("100000.00"),
            "riskRating": risk,
            "paymentTermsDays": 30,
        }

    return {
        "teams": [{"name": name} for name in TEAMS],
        "staff": [
            {
                "email": email,
                "name": short.title(),
                "role": role,
                "approvalLevel": level,
                "teams": teams,
                "skills": skills,
                "active": True,
            }
            for short, (email, role, level, teams, skills) in STAFF.items()
        ],
        "customers": [
            customer("C-100", "Acme Retail"),
            customer("C-200", "Pending Kyc Ltd", kyc="PENDING"),
            customer("C-300", "Risky Corp", risk="HIGH"),
            customer("C-400", "Thin Margins Inc"),
            customer("C-500", "Other Customer"),
        ],
        "invoices": [
            invoice("INV-DISPUTE", "C-100", "9850.00"),
            invoice("INV-16750", "C-100", "16750.00"),
            invoice("INV-75000", "C-100", "75000.00"),
            invoice("INV-RIGHT", "C-100", "20000.00"),
            invoice("INV-WRONG", "C-100", "30000.00"),
            invoice("INV-BIG", "C-100", "20000.00"),
            invoice("INV-SMALL", "C-100", "800.00"),
            invoice("INV-EUR", "C-100", "5000.00", "EUR"),
            invoice("INV-PENDING", "C-200", "2000.00"),
            invoice("INV-OTHER", "C-500", "3000.00"),
        ],
        "payments": [
            {
                "reference": "PAY-18500",
                "customer": "C-100",
                "invoice": "INV-WRONG",
                "amount": _money("18500.00"),
                "receivedAt": (today - timedelta(days=2)).isoformat(),
                "status": "POSTED",
            },
            {
                "reference": "PAY-OTHER",
                "customer": "C-500",
                "invoice": None,
                "amount": _money("500.00"),
                "receivedAt": (today - timedelta(days=2)).isoformat(),
                "status": "UNAPPLIED",
            },
        ],
        "financialStatements": [
            {
                "customer": "C-400",
                "asOf": (today - timedelta(days=100)).date().isoformat(),
                "netOperatingIncome": "1100000.00",
                "totalDebtService": "1000000.00",
            }
        ],
        "partners": [
            {
                "clientId": "erp-connector",
                "name": "ERP connector",
                "customers": ["C-100"],
                "scopes": ["requests:read", "requests:write"],
            }
        ],
        "exchangeRates": [{"currency": "EUR", "usd": "1.08"}],
    }


@dataclass
class Org:
    """Global IDs of the imported records by natural key."""

    customers: dict[str, str]
    invoices: dict[str, str]
    payments: dict[str, str]
    staff: dict[str, int]


async def import_organisation(engine: AsyncEngine) -> Org:
    """Import the organisation in one transaction; the global IDs of what it wrote."""
    async with make_sessionmaker(engine)() as session, session.begin():
        await import_master_data(session, organisation(datetime.now(UTC)))
    async with engine.connect() as conn:

        async def keyed(sql: str, type_name: str) -> dict[str, str]:
            rows = (await conn.execute(text(sql))).all()
            return {key: ids.encode(type_name, pk) for key, pk in rows}

        staff_rows = (await conn.execute(text("SELECT email, id FROM staff"))).all()
        return Org(
            customers=await keyed("SELECT external_ref, id FROM customers", "Customer"),
            invoices=await keyed("SELECT number, id FROM invoices", "Invoice"),
            payments=await keyed("SELECT reference, id FROM payments", "Payment"),
            staff={email.split("@")[0]: pk for email, pk in staff_rows},
        )


APPROVAL = """
  approval { id status kind requiredLevel requiredApprovals amount { amount currency }
             decisions { decision approver { email } } }
  serviceRequest { id status version }
  userErrors { field message code }
"""
ADJUSTMENT = """
  adjustment { id kind amount { amount currency } approval { id }
               invoice { id outstanding { amount } status } }
  serviceRequest { id status version }
  userErrors { field message code }
"""
PAYMENT = """
  payment { id status invoice { id outstanding { amount } } amount { amount currency } }
  serviceRequest { id status version }
  userErrors { field message code }
"""
_INPUT_TYPES = {
    "createServiceRequest": "CreateServiceRequestInput",
    "triageServiceRequest": "TriageServiceRequestInput",
    "assignServiceRequest": "AssignServiceRequestInput",
    "startWork": "TransitionServiceRequestInput",
    "requestApproval": "RequestApprovalInput",
    "decideApproval": "DecideApprovalInput",
    "postAdjustment": "PostAdjustmentInput",
    "applyPayment": "ApplyPaymentInput",
}
REQUEST = (
    "serviceRequest { id status version assignee { email } team { name } } userErrors { field message code }"
)


class Api:
    """GraphQL over HTTP with real RS256 bearer tokens; `who` is a short staff name, 'customer:REF'
    or 'partner:CLIENT_ID'."""

    def __init__(self, client: httpx.AsyncClient, tokens: Tokens, org: Org) -> None:
        self.client, self.tokens, self.org = client, tokens, org

    def token(self, who: str) -> str:
        if who.startswith("customer:"):
            return self.tokens.customer(who.partition(":")[2])
        if who.startswith("partner:"):
            return self.tokens.partner(who.partition(":")[2])
        email, role, *_ = STAFF[who]
        return self.tokens.staff(email, role)

    async def query(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=bearer(self.token(who))
        )
        body: dict[str, Any] = response.json()
        return body

    async def raw(self, who: str, mutation: str, input: dict[str, Any], selection: str) -> dict[str, Any]:
        query = (
            f"mutation($input: {_INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) {{ {selection} }} }}"
        )
        return await self.query(who, query, {"input": input})

    async def mutate(self, who: str, mutation: str, input: dict[str, Any], selection: str) -> dict[str, Any]:
        """The payload (no top-level errors allowed)."""
        body = await self.raw(who, mutation, input, selection)
        assert not body.get("errors"), body
        payload: dict[str, Any] = body["data"][mutation]
        return payload

    async def ok(self, who: str, mutation: str, input: dict[str, Any], selection: str) -> dict[str, Any]:
        """The payload of a mutation that must succeed."""
        payload = await self.mutate(who, mutation, input, selection)
        assert payload["userErrors"] == [], payload
        return payload

    async def working_request(self, who: str = "ana", **input: Any) -> dict[str, Any]:
        """A request made through createServiceRequest, triaged and started by its assignee (IN_PROGRESS)."""
        created = (await self.ok(who, "createServiceRequest", {"channel": "EMAIL", **input}, REQUEST))[
            "serviceRequest"
        ]
        triaged = (
            await self.ok(
                who,
                "triageServiceRequest",
                {"id": created["id"], "expectedVersion": created["version"]},
                REQUEST,
            )
        )["serviceRequest"]
        assert triaged["assignee"] is not None, triaged
        assignee = triaged["assignee"]["email"].split("@")[0]
        started = (
            await self.ok(
                assignee, "startWork", {"id": triaged["id"], "expectedVersion": triaged["version"]}, REQUEST
            )
        )["serviceRequest"]
        assert started["status"] == "IN_PROGRESS"
        return started

    async def dispute(self, invoice: str, amount: str, who: str = "ana") -> dict[str, Any]:
        """An IN_PROGRESS billing dispute of `amount` USD on `invoice` (of customer C-100)."""
        return await self.working_request(
            who,
            customerId=self.org.customers["C-100"],
            type="BILLING_DISPUTE",
            subject=f"Dispute on {invoice}",
            description="The customer disputes the invoiced amount.",
            invoiceId=self.org.invoices[invoice],
            financialImpact=_money(amount),
        )

    async def request_approval(
        self, who: str, request: dict[str, Any], kind: str, amount: str | None, currency: str = "USD"
    ) -> dict[str, Any]:
        """requestApproval's payload at the request's current version."""
        input: dict[str, Any] = {
            "serviceRequestId": request["id"],
            "expectedVersion": request["version"],
            "kind": kind,
            "justification": "Checked against the contract and the delivery notes.",
        }
        if amount is not None:
            input["amount"] = _money(amount, currency)
        return await self.mutate(who, "requestApproval", input, APPROVAL)

    async def decide(self, who: str, approval_id: str, decision: str = "APPROVE") -> dict[str, Any]:
        return await self.mutate(
            who, "decideApproval", {"approvalId": approval_id, "decision": decision}, APPROVAL
        )

    async def invoice(self, number: str) -> dict[str, Any]:
        body = await self.query(
            "admin",
            "query($id: ID!) { node(id: $id) { ... on Invoice { outstanding { amount currency } status } } }",
            {"id": self.org.invoices[number]},
        )
        node: dict[str, Any] = body["data"]["node"]
        return node

    async def outstanding(self, number: str) -> str:
        amount: str = (await self.invoice(number))["outstanding"]["amount"]
        return amount


async def snapshot(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every row of every table with its xmin: equal snapshots mean nothing was written or rewritten."""
    rows: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            # Not business data: keys, and the limits' own counters (an operation that ran, even one
            # answered with userErrors, took its cost from the caller's budget: LIMITS.md).
            if table.name in ("signing_keys", "rate_limit_windows", "subscription_leases"):
                continue
            result = await conn.execute(
                text(f"SELECT xmin::text || ' ' || t::text FROM {table.name} t ORDER BY 1")
            )
            rows[table.name] = list(result.scalars())
    return rows


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def top_codes(body: dict[str, Any]) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
