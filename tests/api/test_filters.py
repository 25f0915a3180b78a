"""Every ServiceRequestFilter field, the customers/invoices/approvals filters."""

from __future__ import annotations

from datetime import timedelta

from domain.enums import ApprovalLevel, Role
from tests.api.conftest import NOW, Run, World
from tests.support.builders import Builder, gid
from tests.support.graphql import staff_principal

Q = """
query($f: ServiceRequestFilter) {
  serviceRequests(first: 100, filter: $f) { totalCount nodes { id } }
}
"""


async def _ids(run: Run, world: World, f: dict[str, object]) -> set[str]:
    result = await run(Q, world.agent_p(), f=f)
    assert result.errors == [], result.errors
    conn = result.data["serviceRequests"]
    assert conn["totalCount"] == len(conn["nodes"])
    return {n["id"] for n in conn["nodes"]}


async def test_every_request_filter(run: Run, world: World, b: Builder) -> None:
    other_team = await b.team()
    urgent = await b.request(
        customer=world.b,
        type="CREDIT_LIMIT_CHANGE",
        channel="EMAIL",
        priority="URGENT",
        status="IN_PROGRESS",
        team=other_team,
        assignee=world.supervisor,
        financial_impact="75000.00",
        subject="Raise the credit line",
        description="Seasonal peak needs more headroom",
        created_at=NOW - timedelta(days=3),
    )
    a, bb, u = gid(world.sr_a), gid(world.sr_b), gid(urgent)
    assert await _ids(run, world, {}) == {a, bb, u}
    assert await _ids(run, world, {"status": ["IN_PROGRESS"]}) == {u}
    assert await _ids(run, world, {"status": []}) == set()
    assert await _ids(run, world, {"type": ["CREDIT_LIMIT_CHANGE", "GENERAL_INQUIRY"]}) == {u}
    assert await _ids(run, world, {"priority": ["MEDIUM"]}) == {a, bb}
    assert await _ids(run, world, {"channel": ["EMAIL"]}) == {u}
    assert await _ids(run, world, {"slaState": ["BREACHED"]}) == {u}
    assert await _ids(run, world, {"customerId": gid(world.b)}) == {bb, u}
    assert await _ids(run, world, {"teamId": gid(world.team)}) == {a, bb}
    assert await _ids(run, world, {"assigneeId": gid(world.supervisor)}) == {u}
    assert await _ids(run, world, {"invoiceId": gid(world.inv_a)}) == {a}
    assert await _ids(run, world, {"createdAfter": "2026-11-22T00:00:00Z"}) == {a, bb}
    assert await _ids(run, world, {"createdBefore": "2026-11-22T00:00:00Z"}) == {u}
    assert await _ids(run, world, {"minFinancialImpact": "250"}) == {a, u}
    assert await _ids(run, world, {"minFinancialImpact": "250", "customerId": gid(world.a)}) == {a}


async def test_search(run: Run, world: World, b: Builder) -> None:
    sr = await b.request(
        customer=world.a, subject="Duplicate invoice for consulting", description="Billed twice"
    )
    s = gid(sr)
    assert await _ids(run, world, {"search": "consulting"}) == {s}
    assert await _ids(run, world, {"search": "consult"}) == {s}  # word prefix
    assert await _ids(run, world, {"search": "billed twice"}) == {s}
    assert await _ids(run, world, {"search": '"invoice for"'}) == {s}  # web-search phrase
    assert await _ids(run, world, {"search": "consulting -twice"}) == set()
    assert await _ids(run, world, {"search": sr.number}) == {s}  # exact number
    assert await _ids(run, world, {"search": sr.number.split("-")[1]}) == {s}
    assert await _ids(run, world, {"search": "freight"}) == {gid(world.sr_a)}
    assert await _ids(run, world, {"search": "nothing-like-this"}) == set()
    assert len(await _ids(run, world, {"search": "   "})) == 3  # blank: no filter
    assert await _ids(run, world, {"search": "a:* & (b | !c"}) == set()  # tsquery syntax is inert


async def test_customer_filters(run: Run, world: World, b: Builder) -> None:
    await b.customer(name="Acme Subsidiary", external_ref="SUB-1", kyc_status="PENDING", segment="ENTERPRISE")
    query = "query($f: CustomerFilter) { customers(filter: $f) { totalCount nodes { name } } }"
    p = world.agent_p()

    async def names(f: dict[str, object]) -> list[str]:
        result = await run(query, p, f=f)
        assert result.errors == []
        return [n["name"] for n in result.data["customers"]["nodes"]]

    assert await names({"search": "acme"}) == ["Acme Corp", "Acme Subsidiary"]
    assert await names({"search": "sub-1"}) == ["Acme Subsidiary"]
    assert await names({"search": "%"}) == []
    assert await names({"kycStatus": ["PENDING"]}) == ["Acme Subsidiary"]
    assert await names({"riskRating": ["HIGH"]}) == ["Bolt Ltd"]
    assert await names({"segment": ["ENTERPRISE"]}) == ["Acme Subsidiary"]


async def test_invoice_status_filter(run: Run, world: World, b: Builder) -> None:
    today = NOW.date()
    paid = await b.invoice(customer=world.a, amount="100", outstanding="0")
    overdue = await b.invoice(
        customer=world.a, due_on=today - timedelta(days=1), issued_on=today - timedelta(days=40)
    )
    void = await b.invoice(customer=world.a, voided=True)
    query = "query($s: [InvoiceStatus!]) { invoices(status: $s) { nodes { id status } } }"
    result = await run(query, world.agent_p(), s=["PAID", "OVERDUE", "VOID", "PARTIALLY_PAID"])
    got = {n["id"]: n["status"] for n in result.data["invoices"]["nodes"]}
    assert got == {
        gid(paid): "PAID",
        gid(overdue): "OVERDUE",
        gid(void): "VOID",
        gid(world.inv_b): "PARTIALLY_PAID",
    }
    opened = await run(query, world.agent_p(), s=["OPEN"])
    assert [n["id"] for n in opened.data["invoices"]["nodes"]] == [gid(world.inv_a)]


async def test_approvals_decidable_by_viewer(run: Run, world: World, b: Builder) -> None:
    finance = await b.staff(role="FINANCE", approval_level="FINANCE_MANAGER")
    other = await b.staff(role="SUPERVISOR", approval_level="SUPERVISOR")
    mine_requested = await b.approval(request=world.sr_b, requested_by=finance)
    on_my_request = await b.approval(request=world.sr_a, requested_by=world.agent)  # sr_a assigned to agent
    too_high = await b.approval(request=world.sr_b, requested_by=world.agent, required_level="CONTROLLER")
    decided = await b.approval(request=world.sr_b, requested_by=world.agent, required_approvals=2)
    await b.decision(approval=decided, approver=finance)
    open_one = await b.approval(request=world.sr_b, requested_by=world.agent, required_level="AGENT")
    approved = await b.approval(request=world.sr_b, requested_by=world.agent, status="APPROVED")
    query = """
    query($f: ApprovalFilter) { approvals(first: 50, filter: $f) { totalCount nodes { id } } }
    """
    finance_p = staff_principal(finance.id, finance.email, Role.FINANCE, ApprovalLevel.FINANCE_MANAGER)
    result = await run(query, finance_p, f={"decidableByViewer": True})
    assert {n["id"] for n in result.data["approvals"]["nodes"]} == {gid(on_my_request), gid(open_one)}
    agent_p = world.agent_p()  # AGENT level: only AGENT-level approvals not on their own request
    result = await run(query, agent_p, f={"decidableByViewer": True})
    assert {n["id"] for n in result.data["approvals"]["nodes"]} == set()
    other_p = staff_principal(other.id, other.email, Role.SUPERVISOR, ApprovalLevel.SUPERVISOR)
    result = await run(query, other_p, f={"decidableByViewer": True})
    expected = {gid(mine_requested), gid(on_my_request), gid(decided), gid(open_one)}
    assert {n["id"] for n in result.data["approvals"]["nodes"]} == expected
    everything = await run(query, other_p, f={"status": ["APPROVED"]})
    assert [n["id"] for n in everything.data["approvals"]["nodes"]] == [gid(approved)]
    assert too_high  # CONTROLLER level: nobody above decides it here


async def test_search_matches_identifiers_as_typed(run: Run, world: World, b: Builder) -> None:
    """Hyphenated words, reference and invoice numbers match as they are written in the text."""
    storm = await b.request(customer=world.a, subject="Outage storm-9a2539f4 hit billing", description="-")
    invoice = await b.request(
        customer=world.a, subject="Charged twice", description="See INV-2026-0042 and ref AB/123.45-X"
    )
    word = await b.request(customer=world.a, subject="A well-known fee", description="e-mail sent")
    assert await _ids(run, world, {"search": "storm-9a2539f4"}) == {gid(storm)}
    assert await _ids(run, world, {"search": "STORM-9A2539F4"}) == {gid(storm)}
    assert await _ids(run, world, {"search": "storm-9a25"}) == {gid(storm)}  # a prefix, as typed so far
    assert await _ids(run, world, {"search": "INV-2026-0042"}) == {gid(invoice)}
    assert await _ids(run, world, {"search": "AB/123.45-X"}) == {gid(invoice)}
    assert await _ids(run, world, {"search": "well-known"}) == {gid(word)}
    assert await _ids(run, world, {"search": "e-mail"}) == {gid(word)}
    assert await _ids(run, world, {"search": "storm-0000"}) == set()
