"""Global IDs: every node type resolves; malformed IDs are BAD_USER_INPUT; wrong types are not found."""

from __future__ import annotations

import base64

import pytest

from domain.enums import Role
from schema import ids
from tests.api.conftest import Run, World
from tests.support.builders import Builder, gid
from tests.support.graphql import staff_principal


async def test_every_node_type_resolves(run: Run, world: World, b: Builder) -> None:
    contract = await b.contract(customer=world.a)
    comment = await b.comment(request=world.sr_a)
    approval = await b.approval(request=world.sr_a, requested_by=world.agent)
    adjustment = await b.adjustment(request=world.sr_a, invoice=world.inv_a, posted_by=world.agent)
    event = await b.event(request=world.sr_a)
    audit = await b.audit_entry()
    policy = await b.policy()
    expected = {
        "Customer": gid(world.a),
        "Contract": gid(contract),
        "Invoice": gid(world.inv_a),
        "Payment": gid(world.pay_a),
        "Adjustment": gid(adjustment),
        "ServiceRequest": gid(world.sr_a),
        "Comment": gid(comment),
        "Approval": gid(approval),
        "RequestEvent": gid(event),
        "Agent": gid(world.agent),
        "Team": gid(world.team),
        "SlaPolicy": gid(policy),
        "BusinessCalendar": ids.encode("BusinessCalendar", policy.calendar_id or 0),
        "AuditEntry": gid(audit),
    }
    admin = staff_principal(world.supervisor.id, world.supervisor.email, Role.ADMIN)
    result = await run(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }", admin, ids=list(expected.values())
    )
    assert result.errors == []
    assert [(n["__typename"], n["id"]) for n in result.data["nodes"]] == list(expected.items())
    for type_name, global_id in expected.items():
        one = await run("query($id: ID!) { node(id: $id) { __typename id } }", admin, id=global_id)
        assert one.data["node"] == {"__typename": type_name, "id": global_id}


@pytest.mark.parametrize(
    "bad",
    [
        "garbage!",
        base64.b64encode(b"ServiceRequest:abc").decode(),
        base64.b64encode(b"ServiceRequest").decode(),
        base64.b64encode(b"ServiceRequest:-1").decode(),
        base64.b64encode(b"ServiceRequest:99999999999999999999").decode(),
        "",
    ],
)
async def test_malformed_ids_are_bad_user_input(run: Run, world: World, bad: str) -> None:
    result = await run("query($id: ID!) { node(id: $id) { id } }", world.agent_p(), id=bad)
    assert result.codes == ["BAD_USER_INPUT"]
    listed = await run(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", world.agent_p(), ids=[gid(world.a), bad]
    )
    assert listed.codes == ["BAD_USER_INPUT"]
    filtered = await run(
        "query($id: ID) { serviceRequests(filter: {customerId: $id}) { totalCount } }",
        world.agent_p(),
        id=bad,
    )
    assert filtered.codes == ["BAD_USER_INPUT"]


async def test_unknown_or_wrong_type_ids_are_not_found(run: Run, world: World) -> None:
    p = world.agent_p()
    for global_id in (ids.encode("ServiceRequest", 987654), ids.encode("Nonsense", world.sr_a.id)):
        result = await run("query($id: ID!) { node(id: $id) { id } }", p, id=global_id)
        assert result.errors == [] and result.data == {"node": None}
    # A Customer filter given an Invoice ID matches nothing.
    wrong = await run(
        "query($id: ID) { serviceRequests(filter: {customerId: $id}) { totalCount } "
        "invoices(customerId: $id) "
        "{ totalCount } }",
        p,
        id=gid(world.inv_a),
    )
    assert wrong.errors == []
    assert wrong.data == {"serviceRequests": {"totalCount": 0}, "invoices": {"totalCount": 0}}


async def test_service_request_by_number(run: Run, world: World) -> None:
    query = "query($n: String!) { serviceRequestByNumber(number: $n) { id number } }"
    found = await run(query, world.partner(), n=world.sr_a.number.lower())
    assert found.data["serviceRequestByNumber"] == {"id": gid(world.sr_a), "number": world.sr_a.number}
    assert (await run(query, world.partner(), n="SR-999999")).data["serviceRequestByNumber"] is None
