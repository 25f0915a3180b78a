"""Coverage of the read planner: every query document the SDK ships (the console's among them) and
every root query field of the contract, with every field reachable from it, compiles to one
statement that PostgreSQL accepts, for each role.

What may not be planned yet is listed in UNPLANNED with its reason; the test fails when anything
else cannot be planned, and when something listed became plannable (so the list only shrinks).
Answers are compared with the resolver path's by the differential and property tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    is_leaf_type,
)

from auth.principal import Principal
from domain.enums import ApprovalLevel, Role
from planner import Plan, ReadPlanner, Unplannable
from server.schema import MAX_TOKENS, build_schema, validation_rules
from tests.planner.support import UNPLANNED_DOCUMENTS
from tests.support.graphql import customer_principal, partner_principal, staff_principal

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "frontend-sdk" / "src" / "generated" / "persisted-documents.json"
OPERATIONS = ROOT / "frontend-sdk" / "src" / "operations"

# Root query fields not planned yet, and why (the resolver path answers them).
UNPLANNED_ROOT_FIELDS = {}
# Fields (type.field) reachable from planned root fields that are not planned yet.
UNPLANNED_FIELDS: set[str] = set()

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _principals() -> dict[str, Principal]:
    return {
        "ADMIN": staff_principal(1, "admin@example.com", Role.ADMIN, ApprovalLevel.CONTROLLER),
        "AGENT": staff_principal(2, "agent@example.com", Role.AGENT),
        "AUDITOR": staff_principal(3, "auditor@example.com", Role.AUDITOR),
        "CUSTOMER": customer_principal(1),
        "PARTNER": partner_principal(1, frozenset({1, 2})),
    }


@pytest.fixture(scope="module")
def planner() -> ReadPlanner:
    schema = build_schema()._schema
    return ReadPlanner(schema, None, lambda: NOW, rules=validation_rules(), max_tokens=MAX_TOKENS)  # type: ignore[arg-type]


def sdk_documents() -> dict[str, str]:
    """Query operation name -> the document the SDK sends (its persisted-documents manifest)."""
    found: dict[str, str] = {}
    for text in json.loads(MANIFEST.read_text()).values():
        match = re.search(r"(?:^|[\s}])(query|mutation|subscription)\s+(\w+)", text)
        assert match is not None, text
        if match[1] == "query":
            found[match[2]] = text
    return found


def test_the_manifest_holds_every_query_of_the_sdk_sources() -> None:
    names = {
        m[1]
        for path in OPERATIONS.rglob("*.graphql")
        for m in re.finditer(r"^query\s+(\w+)", path.read_text(), re.M)
    }
    assert names and names == set(sdk_documents())


def _selection(schema: GraphQLSchema, type_: object, depth: int, seen: tuple[str, ...]) -> str:
    """Every field of `type_` without required arguments, `depth` levels down (no type twice on a path)."""
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    if is_leaf_type(type_):
        return ""
    if isinstance(type_, GraphQLUnionType):
        return "{ __typename }"
    if not isinstance(type_, GraphQLObjectType):  # an interface (Node): every implementation's fields
        names = [t.name for t in schema.get_possible_types(type_)]  # type: ignore[arg-type]
        parts = " ".join(f"... on {n} {_selection(schema, schema.get_type(n), depth, seen)}" for n in names)
        return "{ __typename " + parts + " }"
    assert isinstance(type_, GraphQLObjectType)
    fields = []
    for name, field in type_.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) and a.default_value is None for a in field.args.values()):
            continue
        inner = field.type
        while isinstance(inner, GraphQLNonNull | GraphQLList):
            inner = inner.of_type
        if is_leaf_type(inner):
            fields.append(name)
        elif depth > 0 and inner.name not in seen:  # type: ignore[union-attr]
            fields.append(name + " " + _selection(schema, inner, depth - 1, (*seen, inner.name)))  # type: ignore[union-attr]
    return "{ " + " ".join(fields or ["__typename"]) + " }"


def root_field_documents(schema: GraphQLSchema) -> Iterator[tuple[str, str, dict[str, object]]]:
    """(root field, a document selecting every reachable field, its variables); `node` and `nodes`
    once per implementation of Node (their fields of one name differ in type between types)."""
    assert schema.query_type is not None
    node = schema.get_type("Node")
    for name, field in schema.query_type.fields.items():
        if name in ("node", "nodes"):
            arguments = "(id: $id)" if name == "node" else "(ids: [$id])"
            for implementation in schema.get_possible_types(node):  # type: ignore[arg-type]
                inner = _selection(schema, implementation, 2, (implementation.name,))
                fragment = f"... on {implementation.name} {inner}"
                text = f"query Root($id: ID!) {{ {name}{arguments} {{ __typename {fragment} }} }}"
                yield name, text, {"id": "U2VydmljZVJlcXVlc3Q6MQ=="}
            continue
        arguments = {
            "serviceRequestByNumber": '(number: "SR-000001")',
            "webhookDeliveries": '(endpointId: "V2ViaG9va0VuZHBvaW50OjE=")',
        }.get(name, "")
        yield name, f"query Root {{ {name}{arguments} {_selection(schema, field.type, 3, ())} }}", {}


def _reason(result: object) -> str | None:
    return result.reason if isinstance(result, Unplannable) else None


def _unplanned_field(result: object) -> str | None:
    return result.detail if isinstance(result, Unplannable) and result.reason == "unsupported_field" else None


async def test_every_sdk_query_document_is_planned(planner: ReadPlanner, db_url: str) -> None:
    planned: dict[str, Plan] = {}
    refused: dict[str, Unplannable] = {}
    for role, principal in _principals().items():
        for name, text in sdk_documents().items():
            result = planner.compile(text, name, principal, _variables_of(text))
            if isinstance(result, Unplannable):
                refused[f"{role} {name}"] = result
            else:
                planned[f"{role} {name}"] = result
    # A root field the role may not read is answered by the resolvers (FORBIDDEN), by design.
    unexpected = {
        n: str(r)
        for n, r in refused.items()
        if r.reason != "forbidden" and n.split()[1] not in UNPLANNED_DOCUMENTS
    }
    assert unexpected == {}
    now_planned = UNPLANNED_DOCUMENTS & {n.split()[1] for n in planned}
    assert not now_planned, "planned now: take it off UNPLANNED_DOCUMENTS"
    await _prepare_all(db_url, planned)


async def test_every_root_query_field_is_planned(planner: ReadPlanner, db_url: str) -> None:
    schema = planner.schema
    planned, refused = {}, {}
    for role, principal in _principals().items():
        for name, original, variables in root_field_documents(schema):
            # The reachable fields not planned yet are left out, one by one, as a client would.
            text = original
            result = planner.compile(text, "Root", principal, variables)
            while (missing := _unplanned_field(result)) in UNPLANNED_FIELDS:
                field = missing.split(".")[1]  # type: ignore[union-attr]
                text = re.sub(rf"\b{field}\b( \{{[^{{}}]*(\{{[^{{}}]*\}}[^{{}}]*)*\}})?", "", text)
                result = planner.compile(text, "Root", principal, variables)
            if isinstance(result, Unplannable):
                refused[(role, name)] = result
            else:
                planned[f"{role} {name}"] = result
    unexpected = {
        f"{role} {n}": str(r)
        for (role, n), r in refused.items()
        if r.reason != "forbidden" and UNPLANNED_ROOT_FIELDS.get(n) != r.reason
    }
    assert unexpected == {}
    now_planned = set(UNPLANNED_ROOT_FIELDS) & {n.split()[1] for n in planned}
    assert not now_planned, "planned now: take it off UNPLANNED_ROOT_FIELDS"
    await _prepare_all(db_url, planned)


def _variables_of(text: str) -> dict[str, object]:
    """Values for a document's required variables (IDs of the right type, a number)."""
    values: dict[str, object] = {}
    for name, type_name in re.findall(r"\$(\w+):\s*([\w!\[\]]+)", text):
        if not type_name.endswith("!"):
            continue
        if type_name == "ID!":
            kind = {"teamId": "Team", "customerId": "Customer"}.get(name, "ServiceRequest")
            import base64

            values[name] = base64.b64encode(f"{kind}:1".encode()).decode()
        elif type_name == "String!":
            values[name] = "SR-000001"
    return values


async def _prepare_all(db_url: str, plans: Mapping[str, Plan]) -> None:
    """PostgreSQL accepts each statement (parsed, typed, planned) on the migrated schema."""
    conn = await asyncpg.connect(db_url)
    try:
        for name, plan in plans.items():
            try:
                await conn.prepare(plan.sql)
            except asyncpg.PostgresError as exc:
                pytest.fail(f"{name}: {exc}\n{plan.sql[:2000]}")
    finally:
        await conn.close()
