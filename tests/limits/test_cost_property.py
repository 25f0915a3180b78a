"""Property: a document's computed cost is never below the number of objects its result holds.

Hypothesis writes documents over the schema (connections with and without page sizes,
edges or nodes, pageInfo and totalCount, plain lists, `nodes(ids:)`, aliases, inline
and named fragments), runs each against a real database, counts the objects in the
result and compares with the cost admission computes. LIMITS.md estimates a plain list
at 10 items, so the world keeps every plain list (team members, approvals, payments of
an invoice, ...) within 10; a connection never returns more than its page.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import Role
from schema.ids import encode
from server.limits.documents import DocumentAnalyser
from server.schema import MAX_ALIASES, MAX_TOKENS, build_schema, validation_rules
from tests.support.builders import Builder, gid
from tests.support.graphql import execute, staff_principal

SCHEMA = build_schema()
ANALYSER = DocumentAnalyser(SCHEMA._schema, rules=validation_rules(), max_tokens=MAX_TOKENS)

# type -> [(field, kind, target)]; kind: scalar | object | list | connection
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "Query": [
        ("customers", "connection", "Customer"),
        ("serviceRequests", "connection", "ServiceRequest"),
        ("invoices", "connection", "Invoice"),
        ("teams", "list", "Team"),
        ("viewer", "object", "Viewer"),
    ],
    "Viewer": [("subject", "scalar", ""), ("agent", "object", "Agent")],
    "Customer": [
        ("id", "scalar", ""),
        ("name", "scalar", ""),
        ("creditLimit", "object", "Money"),
        ("openBalance", "list", "Money"),
        ("invoices", "connection", "Invoice"),
        ("payments", "connection", "Payment"),
        ("serviceRequests", "connection", "ServiceRequest"),
    ],
    "ServiceRequest": [
        ("id", "scalar", ""),
        ("subject", "scalar", ""),
        ("customer", "object", "Customer"),
        ("invoice", "object", "Invoice"),
        ("team", "object", "Team"),
        ("assignee", "object", "Agent"),
        ("financialImpact", "object", "Money"),
        ("approvals", "list", "Approval"),
        ("availableTransitions", "list", "Transition"),
        ("comments", "connection", "Comment"),
        ("events", "connection", "RequestEvent"),
    ],
    "Comment": [("id", "scalar", ""), ("body", "scalar", "")],
    "RequestEvent": [
        ("id", "scalar", ""),
        ("kind", "scalar", ""),
        ("serviceRequest", "object", "ServiceRequest"),
        ("comment", "object", "Comment"),
    ],
    "Invoice": [
        ("id", "scalar", ""),
        ("number", "scalar", ""),
        ("amount", "object", "Money"),
        ("customer", "object", "Customer"),
        ("payments", "list", "Payment"),
        ("serviceRequests", "connection", "ServiceRequest"),
    ],
    "Payment": [("id", "scalar", ""), ("invoice", "object", "Invoice"), ("amount", "object", "Money")],
    "Team": [("id", "scalar", ""), ("name", "scalar", ""), ("members", "list", "Agent")],
    "Agent": [("id", "scalar", ""), ("name", "scalar", ""), ("teams", "list", "Team")],
    "Approval": [("id", "scalar", ""), ("status", "scalar", ""), ("requestedBy", "object", "Agent")],
    "Money": [("amount", "scalar", ""), ("currency", "scalar", "")],
    "Transition": [("action", "scalar", ""), ("toStatus", "scalar", "")],
}


@dataclass
class Document:
    """A document being written: its named fragments, a counter for names, the aliases used."""

    fragments: list[str]
    names: itertools.count[int]
    aliases: int = 0  # at most MAX_ALIASES: a document with more is refused before it runs


@st.composite
def selection(draw: st.DrawFn, type_name: str, depth: int, doc: Document) -> str:
    """A selection set on `type_name` (without braces), at most `depth` object levels deep."""
    fields = FIELDS[type_name]
    choices = fields if depth > 0 else [f for f in fields if f[1] == "scalar"] or [fields[0]]
    picked = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3))
    parts = []
    for index, (name, kind, of_type) in enumerate(picked):
        repeated = any(name == earlier for earlier, _, _ in picked[:index])  # needs an alias to differ
        if repeated and doc.aliases >= MAX_ALIASES:
            continue
        parts.append(draw(field(type_name, name, kind, of_type, depth, doc, aliased=repeated)))
    body = " ".join(parts) if parts else "__typename"
    wrap = draw(st.sampled_from(["plain", "plain", "inline", "named"]))
    if wrap == "inline" and type_name != "Query":
        return f"... on {type_name} {{ {body} }}"
    if wrap == "named" and type_name != "Query":
        name = f"F{next(doc.names)}"
        doc.fragments.append(f"fragment {name} on {type_name} {{ {body} }}")
        return f"...{name}"
    return body


@st.composite
def field(
    draw: st.DrawFn,
    parent: str,
    name: str,
    kind: str,
    target: str,
    depth: int,
    doc: Document,
    *,
    aliased: bool,
) -> str:
    alias = ""
    if aliased or (doc.aliases < MAX_ALIASES and draw(st.booleans())):
        doc.aliases += 1
        alias = f"a{next(doc.names)}: "
    if kind == "scalar" or not target:
        return alias + name
    if kind in ("object", "list"):
        if not FIELDS[target] or all(k == "scalar" for _, k, _ in FIELDS[target]):
            inner = draw(selection(target, 0, doc))
        else:
            inner = draw(selection(target, depth - 1, doc))
        return f"{alias}{name} {{ {inner} }}"
    size = draw(st.one_of(st.none(), st.integers(1, 6)))
    args = "" if size is None else f"(first: {size})"
    parts = []
    shape = draw(st.sampled_from(["edges", "nodes"]))
    item = draw(selection(target, depth - 1, doc))
    parts.append(f"edges {{ cursor node {{ {item} }} }}" if shape == "edges" else f"nodes {{ {item} }}")
    if draw(st.booleans()):
        parts.append("pageInfo { hasNextPage endCursor }")
    if draw(st.booleans()):
        parts.append("totalCount")
    return f"{alias}{name}{args} {{ {' '.join(parts)} }}"


@st.composite
def documents(draw: st.DrawFn, ids: list[str]) -> str:
    doc = Document([], itertools.count())
    root = draw(selection("Query", 3, doc))
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(ids), min_size=0, max_size=5))
        listed = ", ".join(f'"{i}"' for i in chosen)
        customer = draw(selection("Customer", 1, doc))
        request = draw(selection("ServiceRequest", 1, doc))
        fragments = f"... on Customer {{ {customer} }} ... on ServiceRequest {{ {request} }}"
        root += f" nodes(ids: [{listed}]) {{ id {fragments} }}"
    return " ".join([f"query Generated {{ {root} }}", *doc.fragments])


def objects(value: Any) -> int:
    """How many objects a result holds (every JSON object below `data`)."""
    if isinstance(value, dict):
        return 1 + sum(objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(objects(v) for v in value)
    return 0


@dataclass
class World:
    admin_id: int
    ids: list[str]


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    """Three customers with invoices, payments, requests, comments, events, approvals; two teams."""
    b = Builder(engine)
    admin = await b.staff(email="admin@example.com", role="ADMIN", approval_level="CONTROLLER")
    agents = [await b.staff() for _ in range(3)]
    teams = [await b.team(members=agents[:2]), await b.team(members=agents[1:])]
    ids = []
    for c in range(3):
        customer = await b.customer()
        ids.append(gid(customer))
        invoice = await b.invoice(customer=customer)
        for _ in range(c):
            await b.payment(customer=customer, invoice=invoice, amount="10.00")
        for r in range(c + 1):
            request = await b.request(
                customer=customer, invoice=invoice, team=teams[r % 2], assignee=agents[r % 3]
            )
            ids.append(gid(request))
            for k in range(r + 1):
                comment = await b.comment(request=request, body=f"comment {k}")
                await b.event(request=request, kind="COMMENTED", comment=comment)
            for _ in range(r):
                await b.approval(request=request, requested_by=agents[0])
    return World(admin.id, [*ids, encode("Customer", 999_999)])  # and one that exists no more


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
async def test_cost_is_never_below_the_objects_returned(
    engine: AsyncEngine, world: World, data: st.DataObject
) -> None:
    query = data.draw(documents(world.ids), label="document")
    analysed = ANALYSER.analyse(query)
    assert ANALYSER.is_valid(analysed), query
    selected = analysed.operation_named(None)
    assert selected is not None
    cost = selected[1].evaluate({})
    principal = staff_principal(world.admin_id, "admin@example.com", Role.ADMIN)
    result = await execute(SCHEMA, engine, query, principal, None)
    assert result.errors == [], (query, result.errors)
    returned = objects(result.data) - 1  # the `data` object itself is no field
    target(returned / max(cost, 1), label="objects returned per point of cost")  # steer to tight documents
    assert cost >= returned, f"cost {cost} < {returned} objects for {query}"
