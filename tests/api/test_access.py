"""Row-level scope and field-level rules on every read path (ACCESS.md)."""

from __future__ import annotations

import pytest

from auth.principal import Principal
from tests.api.conftest import Run, World
from tests.support.builders import Builder, gid
from tests.support.graphql import customer_principal, staff_principal

NODE = "query($id: ID!) { node(id: $id) { id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"


def _principals(world: World) -> dict[str, Principal]:
    return {"customer": world.customer_a(), "partner": world.partner()}


@pytest.mark.parametrize("who", ["customer", "partner"])
async def test_other_customers_data_does_not_exist_through_global_ids(
    run: Run, world: World, who: str
) -> None:
    p = _principals(world)[who]
    foreign = [gid(world.b), gid(world.inv_b), gid(world.pay_b), gid(world.sr_b)]
    own = [gid(world.a), gid(world.inv_a), gid(world.pay_a), gid(world.sr_a)]
    for global_id in foreign:
        result = await run(NODE, p, id=global_id)
        assert result.errors == [] and result.data == {"node": None}, global_id
    result = await run(NODES, p, ids=foreign + own)
    assert result.data["nodes"] == [None] * 4 + [{"id": g} for g in own]


@pytest.mark.parametrize("who", ["customer", "partner"])
async def test_lists_search_filters_and_totals_leave_other_customers_out(
    run: Run, world: World, who: str
) -> None:
    p = _principals(world)[who]
    query = """
    query($b: ID!, $number: String!) {
      serviceRequests { totalCount nodes { number } }
      bySearch: serviceRequests(filter: {search: "VAT"}) { totalCount nodes { id } }
      byCustomer: serviceRequests(filter: {customerId: $b}) { totalCount }
      byNumber: serviceRequestByNumber(number: $number) { id }
      invoices { totalCount nodes { number } }
      foreignInvoices: invoices(customerId: $b) { totalCount }
      customers { totalCount nodes { name } }
      bySearchCustomer: customers(filter: {search: "Bolt"}) { totalCount }
    }
    """
    result = await run(query, p, b=gid(world.b), number=world.sr_b.number)
    assert result.errors == []
    d = result.data
    assert d["serviceRequests"] == {"totalCount": 1, "nodes": [{"number": world.sr_a.number}]}
    assert d["bySearch"] == {"totalCount": 0, "nodes": []}
    assert d["byCustomer"]["totalCount"] == 0
    assert d["byNumber"] is None
    assert d["invoices"] == {"totalCount": 1, "nodes": [{"number": world.inv_a.number}]}
    assert d["foreignInvoices"]["totalCount"] == 0
    assert d["customers"] == {"totalCount": 1, "nodes": [{"name": "Acme Corp"}]}
    assert d["bySearchCustomer"]["totalCount"] == 0


async def test_staff_see_everything(run: Run, world: World) -> None:
    result = await run(
        "{ serviceRequests { totalCount } invoices { totalCount } customers { totalCount } }", world.agent_p()
    )
    assert result.data == {
        "serviceRequests": {"totalCount": 2},
        "invoices": {"totalCount": 2},
        "customers": {"totalCount": 2},
    }


async def test_nested_paths_stay_in_scope(run: Run, world: World, b: Builder) -> None:
    # A (corrupt) cross-customer link must not leak B's data through A's request.
    leaky = await b.request(customer=world.a, invoice=world.inv_b, payment=world.pay_b, subject="Cross link")
    query = """
    query($id: ID!) {
      node(id: $id) { ... on ServiceRequest { invoice { number } payment { reference } } }
      viewer { customer { name invoices { totalCount } payments { totalCount }
                          serviceRequests { totalCount } } }
    }
    """
    result = await run(query, world.customer_a(), id=gid(leaky))
    assert result.errors == []
    assert result.data["node"] == {"invoice": None, "payment": None}
    customer = result.data["viewer"]["customer"]
    assert customer == {
        "name": "Acme Corp",
        "invoices": {"totalCount": 1},
        "payments": {"totalCount": 1},
        "serviceRequests": {"totalCount": 2},
    }


async def test_invoice_service_requests_are_scoped(run: Run, world: World, b: Builder) -> None:
    # B's request on A's invoice (corrupt, but possible through imports) stays invisible to A.
    await b.request(customer=world.b, invoice=world.inv_a, subject="B on A's invoice")
    query = (
        "query($id: ID!) { node(id: $id) { ... on Invoice { serviceRequests { totalCount nodes { id } } } } }"
    )
    as_a = await run(query, world.customer_a(), id=gid(world.inv_a))
    assert as_a.data["node"]["serviceRequests"] == {"totalCount": 1, "nodes": [{"id": gid(world.sr_a)}]}
    as_staff = await run(query, world.agent_p(), id=gid(world.inv_a))
    assert as_staff.data["node"]["serviceRequests"]["totalCount"] == 2


async def test_internal_comments_hidden_from_customer_and_partner(run: Run, world: World, b: Builder) -> None:
    public = await b.comment(request=world.sr_a, body="We are on it.")
    internal = await b.comment(request=world.sr_a, body="Customer is wrong.", visibility="INTERNAL")
    await b.event(request=world.sr_a, kind="CREATED", to_status="NEW")
    await b.event(request=world.sr_a, kind="COMMENTED", comment=public)
    await b.event(request=world.sr_a, kind="COMMENTED", comment=internal)
    query = """
    query($id: ID!, $c: ID!) {
      node(id: $id) { ... on ServiceRequest {
        comments { totalCount nodes { body } }
        events { totalCount nodes { kind comment { body } } } } }
      internal: node(id: $c) { id }
    }
    """
    for p in (world.customer_a(), world.partner()):
        result = await run(query, p, id=gid(world.sr_a), c=gid(internal))
        sr = result.data["node"]
        assert sr["comments"] == {"totalCount": 1, "nodes": [{"body": "We are on it."}]}
        assert sr["events"]["totalCount"] == 2
        assert [e["kind"] for e in sr["events"]["nodes"]] == ["CREATED", "COMMENTED"]
        assert result.data["internal"] is None
    staff = await run(query, world.agent_p(), id=gid(world.sr_a), c=gid(internal))
    assert staff.data["node"]["comments"]["totalCount"] == 2
    assert staff.data["node"]["events"]["totalCount"] == 3
    assert staff.data["internal"] == {"id": gid(internal)}


CREDIT = "query($id: ID!) { node(id: $id) { ... on Customer { creditLimit { amount } riskRating } } }"


async def test_credit_data_per_role(run: Run, world: World) -> None:
    own = await run(CREDIT, world.customer_a(), id=gid(world.a))
    assert own.data["node"] == {"creditLimit": {"amount": "10000.00"}, "riskRating": None}
    partner = await run(CREDIT, world.partner(), id=gid(world.a))
    assert partner.data["node"] == {"creditLimit": None, "riskRating": None}
    staff = await run(CREDIT, world.agent_p(), id=gid(world.b))
    assert staff.data["node"] == {"creditLimit": {"amount": "20000.00"}, "riskRating": "HIGH"}
    # Filtering on hidden credit data would reveal it: the filter matches nothing.
    hidden = await run("{ customers(filter: {riskRating: [LOW]}) { totalCount } }", world.customer_a())
    assert hidden.data["customers"]["totalCount"] == 0


async def test_staff_directory_and_approvals_are_internal(run: Run, world: World, b: Builder) -> None:
    await b.approval(request=world.sr_a, requested_by=world.agent)
    query = """
    query($id: ID!, $agent: ID!) {
      node(id: $id) { ... on ServiceRequest { assignee { name } team { name } approvals { id } } }
      agent: node(id: $agent) { id }
    }
    """
    result = await run(query, world.customer_a(), id=gid(world.sr_a), agent=gid(world.agent))
    assert result.data == {"node": {"assignee": None, "team": None, "approvals": []}, "agent": None}
    for op in ("{ teams { name } }", "{ approvals { totalCount } }", "{ auditLog { totalCount } }"):
        denied = await run(op, world.customer_a())
        assert denied.codes == ["FORBIDDEN"], op


async def test_audit_log_needs_admin_or_auditor(run: Run, world: World, b: Builder) -> None:
    from domain.enums import Role

    await b.audit_entry(entity_type="ServiceRequest", entity_id=world.sr_a.id)
    await b.audit_entry(entity_type="Customer", entity_id=world.a.id)
    query = "query($e: ID) { auditLog(entityId: $e) { totalCount nodes { sequence entityType entityId } } }"
    denied = await run(query, world.agent_p())
    assert denied.codes == ["FORBIDDEN"] and denied.data is None
    auditor = staff_principal(world.agent.id, world.agent.email, Role.AUDITOR)
    everything = await run(query, auditor)
    assert [n["sequence"] for n in everything.data["auditLog"]["nodes"]] == [2, 1]
    one = await run(query, auditor, e=gid(world.sr_a))
    assert one.data["auditLog"]["nodes"] == [
        {"sequence": 1, "entityType": "ServiceRequest", "entityId": gid(world.sr_a)}
    ]


async def test_missing_scope_forbids_the_operation(run: Run, world: World) -> None:
    no_read = customer_principal(world.a.id, scopes=frozenset({"requests:write"}))
    result = await run("{ serviceRequests { totalCount } }", no_read)
    assert result.codes == ["FORBIDDEN"]
    nodes = await run(NODE, no_read, id=gid(world.sr_a))
    assert nodes.errors == [] and nodes.data == {"node": None}
