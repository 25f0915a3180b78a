"""The page of the peer benchmark (bench/peer_page.py) is the same page everywhere it is measured.

The raw statement (bench/peer_page.sql) must build exactly casegraph's answer, or the benchmark's
"raw PostgreSQL" limit would be measuring a different document; and the check of PostGraphile's
answer must tell a different value from a different format.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from bench.peer_page import CASEGRAPH_QUERY, PageMismatch, check_admin_page, check_peer_page
from domain.enums import Role
from tests.api.conftest import NOW, Run, World
from tests.support.builders import Builder
from tests.support.graphql import staff_principal


async def _page(run: Run, world: World, b: Builder) -> dict[str, Any]:
    """55 requests that vary every optional part of the page; casegraph's ADMIN answer."""
    for i in range(55):
        customer = world.a if i % 2 else world.b
        request = await b.request(
            customer=customer,
            invoice=(world.inv_a if customer is world.a else world.inv_b) if i % 3 else None,
            team=world.team if i % 4 else None,
            assignee=world.agent if i % 5 else None,
            financial_impact="1250.5" if i % 2 else None,
            priority=("LOW", "MEDIUM", "HIGH", "URGENT")[i % 4],
            # Newer than the world's own requests; whole seconds (no fraction in casegraph's
            # DateTime) and microseconds, alternately.
            created_at=NOW + timedelta(hours=1) - timedelta(minutes=i, microseconds=0 if i % 2 else 4321),
        )
        if i % 6 == 0:
            await b.approval(request=request, requested_by=world.agent, amount="99.90")
            await b.approval(request=request, requested_by=world.agent, amount=None, status="APPROVED")
    admin = staff_principal(world.supervisor.id, world.supervisor.email, Role.ADMIN)
    result = await run(CASEGRAPH_QUERY, admin)
    assert result.errors == []
    assert result.data is not None
    return {"data": result.data}


async def test_the_raw_statement_builds_casegraphs_answer(
    run: Run, world: World, b: Builder, db_url: str
) -> None:
    document = await _page(run, world, b)
    conn = await asyncpg.connect(db_url)
    try:
        facts = await check_admin_page(conn, orjson.dumps(document), document)
    finally:
        await conn.close()
    assert (facts.nodes, facts.invoices, facts.assignees, facts.approvals) == (50, 33, 40, 18)


def _as_postgraphile(node: dict[str, Any]) -> dict[str, Any]:
    """casegraph's node written the way PostGraphile writes it (its names, "+00:00", six digits)."""

    def instant(value: str) -> str:
        return datetime.fromisoformat(value).isoformat(timespec="microseconds")

    invoice, impact = node["invoice"], node["financialImpact"]
    return {
        "number": node["number"],
        "status": node["status"],
        "priority": node["priority"],
        "subject": node["subject"],
        "financialImpactAmount": impact and impact["amount"],
        "createdAt": instant(node["createdAt"]),
        "resolutionDueAt": instant(node["sla"]["resolutionDueAt"]),
        "customerByCustomerId": node["customer"],
        "invoiceByInvoiceId": invoice
        and {"number": invoice["number"], "outstanding": invoice["outstanding"]["amount"]},
        "staffByAssigneeId": node["assignee"],
        "teamByTeamId": node["team"],
        "approvalsByRequestId": {
            "nodes": [
                {
                    "status": a["status"],
                    "requiredLevel": a["requiredLevel"],
                    "amount": a["amount"] and a["amount"]["amount"],
                }
                for a in node["approvals"]
            ]
        },
    }


async def test_the_peer_check_compares_values_not_formats(run: Run, world: World, b: Builder) -> None:
    casegraph = await _page(run, world, b)
    nodes = [_as_postgraphile(n) for n in casegraph["data"]["serviceRequests"]["nodes"]]
    peer = {"data": {"allServiceRequests": {"nodes": nodes}}}
    assert nodes[0]["createdAt"] != casegraph["data"]["serviceRequests"]["nodes"][0]["createdAt"]
    assert check_peer_page(b"", peer, casegraph).nodes == 50

    nodes[6]["approvalsByRequestId"]["nodes"][0]["amount"] = "99.00"
    with pytest.raises(PageMismatch, match=r"node 6 .* approvals"):
        check_peer_page(b"", peer, casegraph)
