"""Derived fields: balances, current contract, invoice status, resolution, timelines, workload."""

from __future__ import annotations

from datetime import timedelta

from records.events import Cursor, encode_cursor
from tests.api.conftest import NOW, Run, World
from tests.support.builders import Builder, gid

CUSTOMER = """
query($id: ID!) { node(id: $id) { ... on Customer {
  openBalance { amount currency }
  contract { number }
  payments { nodes { reference } }
  invoices(status: [OVERDUE]) { nodes { number status } }
} } }
"""


async def test_customer_derived_fields(run: Run, world: World, b: Builder) -> None:
    c = world.a
    await b.invoice(customer=c, amount="100.50", currency="EUR")
    await b.invoice(customer=c, amount="20", currency="EUR", outstanding="19.5")
    await b.invoice(customer=c, amount="70", voided=True)
    await b.invoice(customer=c, amount="70", outstanding="0")
    overdue = await b.invoice(
        customer=c,
        amount="5",
        issued_on=NOW.date() - timedelta(days=60),
        due_on=NOW.date() - timedelta(days=1),
    )
    await b.contract(
        customer=c,
        number="OLD",
        starts_on=NOW.date() - timedelta(days=700),
        ends_on=NOW.date() - timedelta(days=300),
    )
    await b.contract(customer=c, number="CURRENT", starts_on=NOW.date() - timedelta(days=100))
    await b.contract(customer=c, number="FUTURE", starts_on=NOW.date() + timedelta(days=10))
    newer = await b.payment(customer=c, received_at=NOW + timedelta(hours=1))
    result = await run(CUSTOMER, world.agent_p(), id=gid(c))
    assert result.errors == []
    node = result.data["node"]
    assert node["openBalance"] == [
        {"amount": "120.00", "currency": "EUR"},
        {"amount": "9855.00", "currency": "USD"},
    ]
    assert node["contract"] == {"number": "CURRENT"}
    assert [p["reference"] for p in node["payments"]["nodes"]] == [newer.reference, world.pay_a.reference]
    assert node["invoices"]["nodes"] == [{"number": overdue.number, "status": "OVERDUE"}]
    # Without a contract in force, the latest one.
    lonely = await b.customer()
    await b.contract(
        customer=lonely,
        number="EXPIRED",
        starts_on=NOW.date() - timedelta(days=900),
        ends_on=NOW.date() - timedelta(days=800),
    )
    await b.contract(customer=lonely, number="LATER", starts_on=NOW.date() + timedelta(days=30))
    assert (await run(CUSTOMER, world.agent_p(), id=gid(lonely))).data["node"]["contract"] == {
        "number": "LATER"
    }


async def test_invoice_status_follows_the_clock(run: Run, world: World) -> None:
    query = "query($id: ID!) { node(id: $id) { ... on Invoice { status outstanding { amount } } } }"
    now = await run(query, world.agent_p(), id=gid(world.inv_b))
    assert now.data["node"] == {"status": "PARTIALLY_PAID", "outstanding": {"amount": "200.00"}}
    later = await run(query, world.agent_p(), id=gid(world.inv_b), clock=lambda: NOW + timedelta(days=60))
    assert later.data["node"]["status"] == "OVERDUE"


async def test_resolution_timeline_and_transitions(run: Run, world: World, b: Builder) -> None:
    resolved = await b.request(
        customer=world.a,
        status="RESOLVED",
        assignee=world.agent,
        resolution_code="INFORMATION_PROVIDED",
        resolution_summary="Explained the fee.",
    )
    first = await b.event(request=resolved, kind="CREATED", to_status="NEW")
    await b.event(
        request=resolved,
        kind="STATUS_CHANGED",
        from_status="IN_PROGRESS",
        to_status="RESOLVED",
        actor_name="Ada Agent",
    )
    query = """
    query($id: ID!) { node(id: $id) { ... on ServiceRequest {
      resolution { code summary resolvedBy { name } }
      events { edges { cursor node { kind cursor actorName fromStatus toStatus serviceRequest { id } } } }
      availableTransitions { action toStatus }
    } } }
    """
    result = await run(query, world.customer_a(), id=gid(resolved))
    assert result.errors == []
    node = result.data["node"]
    # resolvedBy is an Agent! even for customers (non-null in the contract).
    assert node["resolution"] == {
        "code": "INFORMATION_PROVIDED",
        "summary": "Explained the fee.",
        "resolvedBy": {"name": "Ada Agent"},
    }
    events = [e["node"] for e in node["events"]["edges"]]
    assert [e["kind"] for e in events] == ["CREATED", "STATUS_CHANGED"]
    assert events[0]["cursor"] == encode_cursor(Cursor(first.txid, first.id))
    assert events[1]["fromStatus"] == "IN_PROGRESS" and events[1]["serviceRequest"]["id"] == gid(resolved)
    assert {t["action"] for t in node["availableTransitions"]} == {"CLOSE", "REOPEN"}
    open_request = await run(query, world.customer_a(), id=gid(world.sr_a))
    assert open_request.data["node"]["resolution"] is None
    assert open_request.data["node"]["availableTransitions"] == [
        {"action": "CANCEL", "toStatus": "CANCELLED"}
    ]


async def test_workload_teams_and_viewer(run: Run, world: World, b: Builder) -> None:
    await b.staff(name="Gone Agent", teams=[world.team], active=False)
    await b.request(customer=world.b, team=world.team, assignee=world.agent, status="RESOLVED")
    await b.request(customer=world.b, team=world.team, assignee=world.agent, status="IN_PROGRESS")
    query = """
    { teams { name openRequests members { name openWorkload teams { name } } }
      viewer { agent { name skills } customer { name } } }
    """
    result = await run(query, world.agent_p())
    assert result.errors == []
    assert result.data["teams"] == [
        {
            "name": "Billing",
            "openRequests": 3,
            "members": [
                {"name": "Ada Agent", "openWorkload": 2, "teams": [{"name": "Billing"}]},
                {"name": "Sam Supervisor", "openWorkload": 0, "teams": [{"name": "Billing"}]},
            ],
        }
    ]
    assert result.data["viewer"] == {
        "agent": {"name": "Ada Agent", "skills": ["BILLING_DISPUTE"]},
        "customer": None,
    }
    me = await run("{ viewer { customer { name } agent { name } } }", world.customer_a())
    assert me.data["viewer"] == {"customer": {"name": "Acme Corp"}, "agent": None}


async def test_approval_and_adjustment_fields(run: Run, world: World, b: Builder) -> None:
    approval = await b.approval(request=world.sr_a, requested_by=world.agent, amount="4200")
    await b.decision(approval=approval, approver=world.supervisor, comment="ok")
    adj = await b.adjustment(
        request=world.sr_a, invoice=world.inv_a, posted_by=world.agent, approval=approval
    )
    query = """
    query($id: ID!) { node(id: $id) { ... on Adjustment {
      kind amount { amount currency } postedBy { name } invoice { number } serviceRequest { number }
      approval { amount { amount } requiredLevel requestedBy { name } serviceRequest { number }
                 decisions { approver { name } decision comment } }
    } } }
    """
    result = await run(query, world.supervisor_p(), id=gid(adj))
    assert result.errors == []
    assert result.data["node"] == {
        "kind": "CREDIT_MEMO",
        "amount": {"amount": "100.00", "currency": "USD"},
        "postedBy": {"name": "Ada Agent"},
        "invoice": {"number": world.inv_a.number},
        "serviceRequest": {"number": world.sr_a.number},
        "approval": {
            "amount": {"amount": "4200.00"},
            "requiredLevel": "SUPERVISOR",
            "requestedBy": {"name": "Ada Agent"},
            "serviceRequest": {"number": world.sr_a.number},
            "decisions": [{"approver": {"name": "Sam Supervisor"}, "decision": "APPROVE", "comment": "ok"}],
        },
    }
