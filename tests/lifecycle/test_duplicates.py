"""markDuplicate: the duplicate is CANCELLED and links the original, its PUBLIC comments move over,
both requests get their events, audit entries and one version each; every refusal writes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from tests.lifecycle.conftest import START, Api, World, audit_of, counts, dispute, events_of
from tests.support.builders import Builder, gid

FIELDS = "id number status version duplicateOf { id number status version }"
COMMENTS = """
query($id: ID!) {
  node(id: $id) {
    ... on ServiceRequest { version comments { nodes { body visibility authorName authorRole } } }
  }
}
"""
DUPLICATE_OF = "query($id: ID!) { node(id: $id) { ... on ServiceRequest { id duplicateOf { id number } } } }"


async def _mark(
    api: Api, who: str, duplicate: dict[str, Any], original_id: str, **extra: Any
) -> dict[str, Any]:
    """The markDuplicate payload (top-level errors fail the test)."""
    input = {
        "id": duplicate["id"],
        "expectedVersion": duplicate["version"],
        "duplicateOfId": original_id,
        "reason": "Same dispute as the one raised by email.",
        **extra,
    }
    return await api.mutate(who, "markDuplicate", input, FIELDS)


async def _comment(api: Api, who: str, request: dict[str, Any], body: str, visibility: str) -> None:
    payload = await api.mutate(
        who, "addComment", {"serviceRequestId": request["id"], "body": body, "visibility": visibility}
    )
    assert payload["userErrors"] == [], payload


async def _version(api: Api, request: dict[str, Any]) -> dict[str, Any]:
    body = await api.query("admin@example.com", COMMENTS, {"id": request["id"]})
    return {**request, "version": body["data"]["node"]["version"]}


async def test_the_duplicate_is_cancelled_and_its_public_comments_move_to_the_original(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    original = await api.create(**dispute(world, channel="EMAIL"))
    duplicate = await api.create("customer:C-1001", **dispute(world))
    await _comment(api, "customer:C-1001", duplicate, "Still charged twice in December.", "PUBLIC")
    await _comment(api, "ana@example.com", duplicate, "Checked the ERP: double posting.", "INTERNAL")
    await _comment(api, "ana@example.com", duplicate, "We are on it.", "PUBLIC")
    duplicate = await _version(api, duplicate)
    original_events = len(await events_of(engine, original["id"]))
    duplicate_events = len(await events_of(engine, duplicate["id"]))

    payload = await _mark(api, "ana@example.com", duplicate, original["id"])

    assert payload["userErrors"] == []
    marked = payload["serviceRequest"]
    assert marked["status"] == "CANCELLED" and marked["version"] == duplicate["version"] + 1
    assert marked["duplicateOf"] == {
        "id": original["id"],
        "number": original["number"],
        "status": "NEW",
        "version": original["version"] + 1,
    }
    # The duplicate: STATUS_CHANGED naming the original, then the reason as its PUBLIC message.
    events = (await events_of(engine, duplicate["id"]))[duplicate_events:]
    assert [(e["kind"], e["from_status"], e["to_status"]) for e in events] == [
        ("STATUS_CHANGED", "NEW", "CANCELLED"),
        ("COMMENTED", None, None),
    ]
    assert events[0]["details"] == {"duplicateOfId": ids.decode(original["id"])[1]}
    assert all(e["actor_subject"] == "ana@example.com" for e in events)
    # The original: a note naming the duplicate, then the two PUBLIC comments as their authors wrote them.
    events = (await events_of(engine, original["id"]))[original_events:]
    assert [e["kind"] for e in events] == ["COMMENTED"] * 3
    assert events[0]["details"] == {}
    assert [set(e["details"]) for e in events[1:]] == [{"copiedFromCommentId", "copiedFromRequestId"}] * 2
    as_staff = await api.query("admin@example.com", COMMENTS, {"id": original["id"]})
    assert [
        (c["body"], c["visibility"], c["authorRole"]) for c in as_staff["data"]["node"]["comments"]["nodes"]
    ] == [
        (f"{duplicate['number']} was closed as a duplicate of this request.", "INTERNAL", "AGENT"),
        ("Still charged twice in December.", "PUBLIC", "CUSTOMER"),
        ("We are on it.", "PUBLIC", "AGENT"),
    ]
    as_customer = await api.query("customer:C-1001", COMMENTS, {"id": original["id"]})
    assert [c["body"] for c in as_customer["data"]["node"]["comments"]["nodes"]] == [
        "Still charged twice in December.",
        "We are on it.",
    ]
    # Copies are no first response on the original (nobody answered there).
    async with engine.connect() as conn:
        first_responded = (
            await conn.execute(
                text("SELECT first_responded_at FROM service_requests WHERE id = :id"),
                {"id": ids.decode(original["id"])[1]},
            )
        ).scalar_one()
        disputed = (
            await conn.execute(text("SELECT disputed FROM invoices WHERE id = :id"), {"id": world.invoice.id})
        ).scalar_one()
    assert first_responded is None
    # The original is still an open dispute on the invoice: the flag stays.
    assert disputed is True
    # Audit: each request's change, and every comment written.
    duplicate_audit = (await audit_of(engine, "ServiceRequest", duplicate["id"]))[-1]
    assert (
        duplicate_audit["action"] == "MARK_DUPLICATE"
        and duplicate_audit["actor_subject"] == "ana@example.com"
    )
    assert duplicate_audit["after"]["status"] == "CANCELLED"
    assert duplicate_audit["after"]["duplicate_of_id"] == ids.decode(original["id"])[1]
    original_audit = (await audit_of(engine, "ServiceRequest", original["id"]))[-1]
    assert original_audit["action"] == "MARK_DUPLICATE"
    assert original_audit["after"]["version"] == original["version"] + 1
    async with engine.connect() as conn:
        copied = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM audit_entries WHERE entity_type = 'Comment' "
                    "AND after ? 'copiedFromCommentId'"
                )
            )
        ).scalar_one()
    assert copied == 2


async def test_duplicate_of_answers_only_what_the_caller_may_see(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    b = Builder(engine, now=START)
    original = await b.request(customer=world.acme)
    duplicate = await b.request(customer=world.acme, status="CANCELLED", duplicate_of_id=original.id)
    # Written past the service (which refuses it): a link to another customer's request.
    elsewhere = await b.request(customer=world.other)
    stray = await b.request(customer=world.acme, status="CANCELLED", duplicate_of_id=elsewhere.id)

    for who in ("customer:C-1001", "partner:erp-connector", "ana@example.com"):
        body = await api.query(who, DUPLICATE_OF, {"id": gid(duplicate)})
        assert body["data"]["node"]["duplicateOf"] == {"id": gid(original), "number": original.number}, who
    as_customer = await api.query("customer:C-1001", DUPLICATE_OF, {"id": gid(stray)})
    assert as_customer["data"]["node"]["duplicateOf"] is None
    as_staff = await api.query("ana@example.com", DUPLICATE_OF, {"id": gid(stray)})
    assert as_staff["data"]["node"]["duplicateOf"]["id"] == gid(elsewhere)
    # Another customer does not see the duplicate at all.
    other = await api.query("customer:C-2002", DUPLICATE_OF, {"id": gid(duplicate)})
    assert other["data"]["node"] is None


async def test_only_staff_with_requests_write_mark_duplicates(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    original = await api.create(**dispute(world))
    duplicate = await api.create(**dispute(world))
    input = {
        "id": duplicate["id"],
        "expectedVersion": duplicate["version"],
        "duplicateOfId": original["id"],
        "reason": "Same dispute.",
    }
    before = await counts(engine)
    for who in ("customer:C-1001", "partner:erp-connector", "audit@example.com"):
        body = await api.raw(who, "markDuplicate", input, FIELDS)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], who
    read_only = api.tokens.staff("ana@example.com", "AGENT", scopes=["requests:read"])
    query = "mutation($input: MarkDuplicateInput!) { markDuplicate(input: $input) { userErrors { code } } }"
    response = await api.client.post(
        "/graphql",
        json={"query": query, "variables": {"input": input}},
        headers={"Authorization": f"Bearer {read_only}"},
    )
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["FORBIDDEN"]
    assert await counts(engine) == before
    # A supervisor may (an agent may too: above).
    payload = await _mark(api, "sup@example.com", duplicate, original["id"])
    assert payload["userErrors"] == [] and payload["serviceRequest"]["status"] == "CANCELLED"


async def test_every_refusal_names_its_rule_and_writes_nothing(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    original = await api.create(**dispute(world))
    duplicate = await api.create(**dispute(world))
    elsewhere = await api.create(
        **dispute(world, customerId=gid(world.other), invoiceId=gid(world.other_invoice), amount="100.00")
    )
    closed = await api.create(**dispute(world))
    closed = await api.act("sup@example.com", "cancelServiceRequest", closed)
    unknown = ids.encode("ServiceRequest", 999_999)

    async def refused(who_input: dict[str, Any], code: str, field: list[str] | None) -> None:
        before = await counts(engine)
        payload = await api.mutate("ana@example.com", "markDuplicate", who_input, FIELDS)
        assert payload["serviceRequest"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], who_input
        assert await counts(engine) == before

    base = {
        "id": duplicate["id"],
        "expectedVersion": duplicate["version"],
        "duplicateOfId": original["id"],
        "reason": "Same dispute.",
    }
    await refused({**base, "id": unknown}, "NOT_FOUND", ["input", "id"])
    await refused({**base, "duplicateOfId": unknown}, "NOT_FOUND", ["input", "duplicateOfId"])
    # An ID of another type names no request.
    await refused({**base, "duplicateOfId": gid(world.acme)}, "NOT_FOUND", ["input", "duplicateOfId"])
    await refused({**base, "duplicateOfId": elsewhere["id"]}, "VALIDATION_FAILED", ["input", "duplicateOfId"])
    await refused({**base, "duplicateOfId": closed["id"]}, "VALIDATION_FAILED", ["input", "duplicateOfId"])
    await refused({**base, "duplicateOfId": duplicate["id"]}, "VALIDATION_FAILED", ["input", "duplicateOfId"])
    await refused({**base, "reason": "  "}, "VALIDATION_FAILED", ["input", "reason"])
    await refused(
        {**base, "expectedVersion": duplicate["version"] + 5},
        "VERSION_CONFLICT",
        ["input", "expectedVersion"],
    )
    # A duplicate that is no longer open cannot be cancelled.
    await refused(
        {**base, "id": closed["id"], "expectedVersion": closed["version"]}, "INVALID_TRANSITION", None
    )
    # Precedence (LIFECYCLE.md §1): NOT_FOUND, then VALIDATION_FAILED, then VERSION_CONFLICT.
    await refused({**base, "duplicateOfId": unknown, "reason": " "}, "NOT_FOUND", ["input", "duplicateOfId"])
    await refused(
        {**base, "duplicateOfId": elsewhere["id"], "expectedVersion": 99},
        "VALIDATION_FAILED",
        ["input", "duplicateOfId"],
    )
    await refused(
        {**base, "id": closed["id"], "expectedVersion": closed["version"] + 1},
        "VERSION_CONFLICT",
        ["input", "expectedVersion"],
    )
    # Marked once, a request cannot be marked again: it is CANCELLED.
    first = await _mark(api, "ana@example.com", duplicate, original["id"])
    assert first["userErrors"] == []
    again = {**base, "expectedVersion": first["serviceRequest"]["version"]}
    await refused(again, "INVALID_TRANSITION", None)
    # Nor can a duplicate become the original of another request.
    third = await api.create(**dispute(world))
    await refused(
        {**base, "id": third["id"], "expectedVersion": third["version"], "duplicateOfId": duplicate["id"]},
        "VALIDATION_FAILED",
        ["input", "duplicateOfId"],
    )


async def test_two_requests_marked_duplicates_of_each_other_at_once_end_with_one_original(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    first = await api.create(**dispute(world))
    second = await api.create(**dispute(world))
    # Both lock the pair in the same order: one waits for the other, neither deadlocks.
    results = await asyncio.gather(
        _mark(api, "ana@example.com", first, second["id"]),
        _mark(api, "ben@example.com", second, first["id"]),
    )
    succeeded = [r for r in results if not r["userErrors"]]
    refused = [r for r in results if r["userErrors"]]
    assert len(succeeded) == 1 and len(refused) == 1
    # The second to lock found its original closed as a duplicate: no longer open.
    assert [(e["code"], e["field"]) for e in refused[0]["userErrors"]] == [
        ("VALIDATION_FAILED", ["input", "duplicateOfId"])
    ]
    async with engine.connect() as conn:
        statuses = (
            (
                await conn.execute(
                    text("SELECT status FROM service_requests WHERE id IN (:a, :b) ORDER BY id"),
                    {"a": ids.decode(first["id"])[1], "b": ids.decode(second["id"])[1]},
                )
            )
            .scalars()
            .all()
        )
    assert sorted(statuses) == ["CANCELLED", "NEW"]
