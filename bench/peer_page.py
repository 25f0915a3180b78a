"""The page bench/peer_bench.py measures, in casegraph's schema, in PostGraphile's and in raw SQL,
and the checks that the three answer the same thing.

The newest 50 service requests with, per request: number, status, priority, subject, financial
impact, creation time, resolution due time, customer (name, risk rating), invoice (number,
outstanding), assignee (name, email), team (name) and approvals (status, required level, amount).

PostGraphile's names are generated from casegraph's tables (db/models.py); casegraph field ->
PostGraphile field (amber preset) -> column:

- `serviceRequests(first: 50, orderBy: {field: CREATED_AT, direction: DESC})` ->
  `allServiceRequests(first: 50, orderBy: [CREATED_AT_DESC, ROW_ID_DESC])` -> created_at, id
  (casegraph orders by the field, then the id; the `id` column is PostGraphile's `rowId`, its `id`
  being the global Node ID);
- `financialImpact { amount }` -> `financialImpactAmount` -> service_requests.financial_impact_amount;
- `sla { resolutionDueAt }` -> `resolutionDueAt` -> service_requests.resolution_due_at (stored);
- `customer { name riskRating }` -> `customerByCustomerId { name riskRating }`;
- `invoice { number outstanding { amount } }` -> `invoiceByInvoiceId { number outstanding }` ->
  invoices.outstanding, a stored column kept in the transaction of every posting (casegraph's
  `Invoice.outstanding` serves that column too);
- `assignee { name email }` -> `staffByAssigneeId { name email }` (table staff);
- `team { name }` -> `teamByTeamId { name }`;
- `approvals { status requiredLevel amount { amount } }` ->
  `approvalsByRequestId(orderBy: [ROW_ID_ASC]) { nodes { status requiredLevel amount } }` (by id, as
  casegraph's loader orders them).

Values are compared by meaning: amounts as Decimal, instants as datetime (PostGraphile writes
"+00:00" and always six fractional digits, casegraph "Z" and only non-zero microseconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

__all__ = [
    "CASEGRAPH_QUERY",
    "POSTGRAPHILE_QUERY",
    "RAW_SQL_FILE",
    "PageMismatch",
    "check_admin_page",
    "check_customer_page",
    "check_peer_page",
]

CASEGRAPH_QUERY = """query RecentServiceRequests {
  serviceRequests(first: 50, orderBy: {field: CREATED_AT, direction: DESC}) {
    nodes {
      number status priority subject financialImpact { amount } createdAt sla { resolutionDueAt }
      customer { name riskRating } invoice { number outstanding { amount } } assignee { name email }
      team { name } approvals { status requiredLevel amount { amount } }
    }
  }
}"""

POSTGRAPHILE_QUERY = """query RecentServiceRequests {
  allServiceRequests(first: 50, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    nodes {
      number status priority subject financialImpactAmount createdAt resolutionDueAt
      customerByCustomerId { name riskRating } invoiceByInvoiceId { number outstanding }
      staffByAssigneeId { name email } teamByTeamId { name }
      approvalsByRequestId(orderBy: [ROW_ID_ASC]) { nodes { status requiredLevel amount } }
    }
  }
}"""

RAW_SQL_FILE = Path(__file__).resolve().parent / "peer_page.sql"

_CUSTOMER_NUMBERS = """
SELECT sr.number FROM service_requests sr JOIN customers c ON c.id = sr.customer_id
WHERE c.external_ref = $1 ORDER BY sr.created_at DESC, sr.id DESC LIMIT 50"""


class PageMismatch(AssertionError):
    """Two servers (or a server and the raw statement) answered the page differently."""


@dataclass
class PageFacts:
    """What a checked page holds, for the report."""

    nodes: int
    invoices: int
    assignees: int
    approvals: int
    response_bytes: int

    def describe(self) -> str:
        return (
            f"{self.nodes} nodes ({self.invoices} with an invoice, {self.assignees} with an assignee, "
            f"{self.approvals} approvals), {self.response_bytes:,} bytes"
        )


def _nodes(document: dict[str, Any], root: str) -> list[dict[str, Any]]:
    if document.get("errors"):
        raise PageMismatch(f"GraphQL errors: {str(document['errors'])[:1000]}")
    nodes: list[dict[str, Any]] = document["data"][root]["nodes"]
    return nodes


def _amount(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _from_casegraph(n: dict[str, Any]) -> dict[str, Any]:
    """A casegraph node with amounts as Decimal and instants as datetime (formats differ by server)."""
    invoice, assignee, team = n["invoice"], n["assignee"], n["team"]
    return {
        "number": n["number"],
        "status": n["status"],
        "priority": n["priority"],
        "subject": n["subject"],
        "financialImpact": _amount(n["financialImpact"] and n["financialImpact"]["amount"]),
        "createdAt": _instant(n["createdAt"]),
        "resolutionDueAt": _instant(n["sla"]["resolutionDueAt"]),
        "customer": (n["customer"]["name"], n["customer"]["riskRating"]),
        "invoice": invoice and (invoice["number"], _amount(invoice["outstanding"]["amount"])),
        "assignee": assignee and (assignee["name"], assignee["email"]),
        "team": team and team["name"],
        "approvals": [
            (a["status"], a["requiredLevel"], _amount(a["amount"] and a["amount"]["amount"]))
            for a in n["approvals"]
        ],
    }


def _from_postgraphile(n: dict[str, Any]) -> dict[str, Any]:
    """A PostGraphile node in the shape of `_from_casegraph`."""
    customer, invoice = n["customerByCustomerId"], n["invoiceByInvoiceId"]
    assignee, team = n["staffByAssigneeId"], n["teamByTeamId"]
    return {
        "number": n["number"],
        "status": n["status"],
        "priority": n["priority"],
        "subject": n["subject"],
        "financialImpact": _amount(n["financialImpactAmount"]),
        "createdAt": _instant(n["createdAt"]),
        "resolutionDueAt": _instant(n["resolutionDueAt"]),
        "customer": (customer["name"], customer["riskRating"]),
        "invoice": invoice and (invoice["number"], _amount(invoice["outstanding"])),
        "assignee": assignee and (assignee["name"], assignee["email"]),
        "team": team and team["name"],
        "approvals": [
            (a["status"], a["requiredLevel"], _amount(a["amount"]))
            for a in n["approvalsByRequestId"]["nodes"]
        ],
    }


def _first_difference(want: list[dict[str, Any]], got: list[dict[str, Any]]) -> str:
    if len(want) != len(got):
        return f"{len(got)} nodes instead of {len(want)}"
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        for key in w:
            if w[key] != g[key]:
                return f"node {i} ({w['number']}) {key}: {g[key]!r} instead of {w[key]!r}"
    return "none"


def _facts(nodes: list[dict[str, Any]], response_bytes: int) -> PageFacts:
    return PageFacts(
        nodes=len(nodes),
        invoices=sum(n["invoice"] is not None for n in nodes),
        assignees=sum(n["assignee"] is not None for n in nodes),
        approvals=sum(len(n["approvals"]) for n in nodes),
        response_bytes=response_bytes,
    )


async def check_admin_page(conn: asyncpg.Connection, answer: bytes, document: dict[str, Any]) -> PageFacts:
    """casegraph's ADMIN answer: no errors, 50 nodes, and the same JSON as the raw statement builds."""
    nodes = _nodes(document, "serviceRequests")
    if len(nodes) != 50:
        raise PageMismatch(f"casegraph answered {len(nodes)} nodes, not 50 (seed more requests)")
    want = json.loads(await conn.fetchval(RAW_SQL_FILE.read_text()))
    if want["data"] != document["data"]:
        got_nodes = [_from_casegraph(n) for n in nodes]
        want_nodes = [_from_casegraph(n) for n in _nodes(want, "serviceRequests")]
        difference = _first_difference(want_nodes, got_nodes)
        if difference == "none":  # equal values, different text (e.g. a DateTime or Decimal format)
            difference = _first_text_difference(want["data"], document["data"])
        raise PageMismatch(f"casegraph and the raw statement ({RAW_SQL_FILE.name}) differ: {difference}")
    return _facts(nodes, len(answer))


def _first_text_difference(want: Any, got: Any, path: str = "data") -> str:
    if isinstance(want, dict) and isinstance(got, dict) and want.keys() == got.keys():
        for key in want:
            if want[key] != got[key]:
                return _first_text_difference(want[key], got[key], f"{path}.{key}")
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            if w != g:
                return _first_text_difference(w, g, f"{path}[{i}]")
    return f"{path}: {got!r} instead of {want!r}"


def check_peer_page(answer: bytes, document: dict[str, Any], casegraph: dict[str, Any]) -> PageFacts:
    """PostGraphile's answer holds casegraph's page: every field equal, amounts and instants by value."""
    got = [_from_postgraphile(n) for n in _nodes(document, "allServiceRequests")]
    want = [_from_casegraph(n) for n in _nodes(casegraph, "serviceRequests")]
    if got != want:
        raise PageMismatch("PostGraphile and casegraph differ: " + _first_difference(want, got))
    return _facts(got, len(answer))


async def check_customer_page(
    conn: asyncpg.Connection, answer: bytes, document: dict[str, Any], customer_ref: str
) -> PageFacts:
    """casegraph's CUSTOMER answer: no errors, and exactly that customer's newest requests."""
    nodes = _nodes(document, "serviceRequests")
    want = [r["number"] for r in await conn.fetch(_CUSTOMER_NUMBERS, customer_ref)]
    got = [n["number"] for n in nodes]
    if got != want:
        raise PageMismatch(
            f"CUSTOMER page is not {customer_ref}'s newest requests: {got[:5]} … / {want[:5]} …"
        )
    return _facts(nodes, len(answer))
