"""Hypothesis strategies: random query operations over the exported schema's Query type.

Written from the schema itself (graphql-core types), not from a list of fields: every field of
every type reachable from Query can be drawn. A document has fields with arguments (page sizes,
cursors harvested from the seeded database, filters, real and foreign and malformed IDs), nested
connections (edges/nodes/pageInfo/totalCount), aliases, named fragments, inline fragments (with
and without a type condition, on interfaces and their object types), `__typename`, variables and
`@include`/`@skip`. Fields that take arguments always carry a unique alias, so documents stay
valid apart from what the arguments themselves get wrong (which both paths must then report alike).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    is_leaf_type,
)
from hypothesis import strategies as st

from schema import ids
from tests.planner.support import NOW, Pool, Who

MAX_DEPTH = 3  # object levels below a root field
# Mostly valid; 101 and -1 are out of range (BAD_USER_INPUT on both paths).
PAGE_SIZES = [2, 3, 1, 5, 0, 2, 3, 1, 5, 101, -1]
BAD_IDS = ["not-an-id", ids.encode("ServiceRequest", 999_999), ids.encode("Nope", 1)]


@dataclass
class Doc:
    """A document being written: variables, fragments, a name counter."""

    schema: GraphQLSchema
    pool: Pool
    who: Who
    cursors: dict[str, list[str]]  # connection type name -> cursors the seeded data answered
    names: itertools.count[int] = field(default_factory=itertools.count)
    definitions: list[str] = field(default_factory=list)  # "$v1: Int" ...
    variables: dict[str, Any] = field(default_factory=dict)
    fragments: list[str] = field(default_factory=list)

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.names)}"


def _printed_type(t: Any) -> str:
    if isinstance(t, GraphQLNonNull):
        return _printed_type(t.of_type) + "!"
    if isinstance(t, GraphQLList):
        return f"[{_printed_type(t.of_type)}]"
    return str(t.name)


def _literal(value: Any) -> str:
    """A Python value as a GraphQL literal (enums are passed as Enum wrappers)."""
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value)


@dataclass(frozen=True)
class Enum:
    name: str


def _plain(value: Any) -> Any:
    """The JSON variable value of a generated value."""
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_ID_KINDS = {
    "customerId": "Customer",
    "teamId": "Team",
    "assigneeId": "Agent",
    "invoiceId": "Invoice",
    "serviceRequestId": "ServiceRequest",
    "entityId": "ServiceRequest",
    "endpointId": "WebhookEndpoint",
}
_NODE_KINDS = ["ServiceRequest", "Customer", "Invoice", "Payment", "Comment", "Approval", "Team", "Agent"]


@st.composite
def an_id(draw: st.DrawFn, doc: Doc, kind: str | None) -> str:
    kind = kind or draw(st.sampled_from(_NODE_KINDS))
    how = draw(st.sampled_from(["inside"] * 6 + ["foreign", "foreign", "bad"]))
    if how == "foreign" and doc.who.customers:
        candidates = doc.pool.ids(kind, doc.who, foreign=True)
    elif how == "bad":
        return draw(st.sampled_from(BAD_IDS))
    else:
        candidates = doc.pool.ids(kind, doc.who)
    if not candidates:
        candidates = doc.pool.ids("ServiceRequest", doc.who)
    return draw(st.sampled_from(candidates))


@st.composite
def input_value(draw: st.DrawFn, doc: Doc, type_: GraphQLInputType, name: str, connection: str | None) -> Any:
    """A value for an argument or input field (`connection`: the type whose cursors `after` takes)."""
    if isinstance(type_, GraphQLNonNull):
        return draw(input_value(doc, type_.of_type, name, connection))
    if isinstance(type_, GraphQLList):
        return draw(st.lists(input_value(doc, type_.of_type, name, connection), min_size=1, max_size=3))
    if isinstance(type_, GraphQLEnumType):
        return Enum(draw(st.sampled_from(sorted(type_.values))))
    if isinstance(type_, GraphQLInputObjectType):
        names = sorted(type_.fields)
        required = [n for n in names if isinstance(type_.fields[n].type, GraphQLNonNull)]
        others = [n for n in names if n not in required] or [""]
        optional = draw(st.lists(st.sampled_from(others), max_size=2))
        chosen = [n for n in dict.fromkeys(required + optional) if n]
        return {n: draw(input_value(doc, type_.fields[n].type, n, connection)) for n in chosen}
    assert isinstance(type_, GraphQLScalarType)
    scalar = type_.name
    if scalar == "ID":
        return draw(an_id(doc, _ID_KINDS.get(name)))
    if scalar == "Int":
        return draw(st.sampled_from(PAGE_SIZES)) if name in ("first", "last") else draw(st.integers(0, 5))
    if scalar == "Boolean":
        return draw(st.booleans())
    if scalar == "DateTime":
        days = draw(st.integers(-90, 5))
        return (NOW + timedelta(days=days)).isoformat().replace("+00:00", "Z")
    if scalar == "Decimal":
        return draw(st.sampled_from(["0", "100.00", "2500.5", "1e3"]))
    if name in ("after", "before"):
        harvested = doc.cursors.get(connection or "", []) or ["bm90LWEtY3Vyc29y"]
        elsewhere = [found[0] for kind, found in sorted(doc.cursors.items()) if kind != connection]
        if draw(st.integers(0, 5)) == 0:  # another connection's cursor, or no cursor at all
            return draw(st.sampled_from([*elsewhere, "%%bad%%"]))
        return draw(st.sampled_from(harvested))
    if name == "number":
        return draw(st.sampled_from([n for n, _ in doc.pool.numbers[:20]] + ["SR-999999"]))
    return draw(st.sampled_from([*doc.pool.words[:10], "acme", "", "zz"]))


@st.composite
def arguments(draw: st.DrawFn, doc: Doc, f: GraphQLField, connection: str | None) -> str:
    """`(a: 1, b: $v2)` with the required arguments and some optional ones; "" when none."""
    args: dict[str, GraphQLArgument] = f.args
    required = [
        n for n, a in args.items() if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
    ]
    optional = [n for n in args if n not in required]
    picked = required + draw(st.lists(st.sampled_from(optional or [""]), max_size=3, unique=True))
    if "first" in picked and "last" in picked and draw(st.integers(0, 7)):  # both: BAD_USER_INPUT
        picked.remove(draw(st.sampled_from(["first", "last"])))
    for cursor in ("after", "before"):  # a cursor of another parent's page makes the planner fall back
        if cursor in picked and draw(st.integers(0, 3)):
            picked.remove(cursor)
    parts = []
    for name in [p for p in picked if p]:
        arg_type = args[name].type
        value = draw(input_value(doc, arg_type, name, connection))
        if draw(st.integers(0, 3)) == 0:  # as a variable
            var = doc.fresh("v")
            doc.definitions.append(f"${var}: {_printed_type(arg_type)}")
            doc.variables[var] = _plain(value)
            parts.append(f"{name}: ${var}")
        else:
            parts.append(f"{name}: {_literal(value)}")
    return f"({', '.join(parts)})" if parts else ""


@st.composite
def directives(draw: st.DrawFn, doc: Doc) -> str:
    kind = draw(st.sampled_from(["", "", "", "", "", "", "include", "skip"]))
    if not kind:
        return ""
    value = draw(st.booleans())
    if draw(st.booleans()):
        var = doc.fresh("b")
        doc.definitions.append(f"${var}: Boolean!")
        doc.variables[var] = value
        return f" @{kind}(if: ${var})"
    return f" @{kind}(if: {'true' if value else 'false'})"


def _fields(type_: GraphQLObjectType | GraphQLInterfaceType) -> list[str]:
    return sorted(type_.fields)


@st.composite
def selection_set(draw: st.DrawFn, doc: Doc, type_: GraphQLNamedType, depth: int, prefix: str = "") -> str:
    """`{ ... }` on `type_` (an object, interface or union type).

    `prefix`: the selection is one of several fragments on the object types of an abstract type;
    its fields are aliased `<prefix><field>` so that same-named fields of different types (an
    Invoice's `status` and a ServiceRequest's) never share a response name.
    """
    parts: list[str] = []
    if isinstance(type_, (GraphQLInterfaceType, GraphQLUnionType)):
        possible = sorted(doc.schema.get_possible_types(type_), key=lambda t: t.name)
        if isinstance(type_, GraphQLInterfaceType):
            parts.extend(draw(st.lists(field_selection(doc, type_, depth), max_size=2)))
        concrete = draw(st.lists(st.sampled_from(possible), min_size=1, max_size=3, unique=True))
        for t in concrete:
            parts.append(draw(fragment(doc, t, depth, condition=True, prefix=f"{t.name}_")))
    else:
        assert isinstance(type_, GraphQLObjectType)
        if not prefix and draw(st.booleans()):  # wide: many leaf fields (formatting, access)
            leaves = leaf_fields(doc, type_)
            many = st.lists(st.sampled_from(leaves), min_size=1, max_size=len(leaves), unique=True)
            parts.extend(draw(many))
            parts.extend(draw(st.lists(field_selection(doc, type_, depth), max_size=2)))
        else:
            parts.extend(draw(st.lists(field_selection(doc, type_, depth, prefix), min_size=1, max_size=4)))
        if draw(st.integers(0, 4)) == 0:
            parts.append(draw(fragment(doc, type_, depth, condition=draw(st.booleans()), prefix=prefix)))
    if draw(st.integers(0, 5)) == 0 or not parts:
        parts.append("__typename")
    return "{ " + " ".join(parts) + " }"


def leaf_fields(doc: Doc, type_: GraphQLObjectType) -> list[str]:
    """Every field of `type_` without required arguments whose value needs no deeper selection
    than one level of leaves (scalars, enums, Money and the like)."""
    chosen = []
    for name in _fields(type_):
        f = type_.fields[name]
        if not _is_shallow(f) or any(isinstance(a.type, GraphQLNonNull) for a in f.args.values()):
            continue
        target = get_named_type(f.type)
        alias = f"{doc.fresh('a')}: " if f.args else ""
        if is_leaf_type(target):
            chosen.append(f"{alias}{name}")
        else:
            assert isinstance(target, GraphQLObjectType)
            chosen.append(f"{alias}{name} {{ {' '.join(sorted(target.fields))} }}")
    return chosen


@st.composite
def fragment(
    draw: st.DrawFn, doc: Doc, type_: GraphQLObjectType, depth: int, *, condition: bool, prefix: str = ""
) -> str:
    """An inline fragment (`... on T`, or `...` without a condition) or a spread of a named one."""
    body = draw(selection_set(doc, type_, depth, prefix))
    if draw(st.booleans()):
        name = doc.fresh("F")
        doc.fragments.append(f"fragment {name} on {type_.name} {body}")
        return f"...{name}{draw(directives(doc))}"
    on = f" on {type_.name}" if condition else ""
    return f"...{on}{draw(directives(doc))} {body}"


@st.composite
def field_selection(
    draw: st.DrawFn, doc: Doc, parent: GraphQLObjectType | GraphQLInterfaceType, depth: int, prefix: str = ""
) -> str:
    names = _fields(parent)
    if depth <= 0:  # leaves only (or objects whose fields are all leaves, like Money)
        names = [n for n in names if _is_shallow(parent.fields[n])] or names[:1]
    name = draw(st.sampled_from(names))
    f = parent.fields[name]
    target = get_named_type(f.type)
    connection = target.name if target.name.endswith("Connection") else None
    args = draw(arguments(doc, f, connection))
    if args:
        alias = f"{doc.fresh('a')}: "
    elif prefix:
        alias = f"{prefix}{name}: "
    else:
        alias = f"{doc.fresh('a')}: " if draw(st.integers(0, 3)) == 0 else ""
    text = f"{alias}{name}{args}{draw(directives(doc))}"
    if is_leaf_type(target):
        return text
    return f"{text} {draw(selection_set(doc, target, depth - 1))}"


def _is_shallow(f: GraphQLField) -> bool:
    target = get_named_type(f.type)
    if is_leaf_type(target):
        return True
    return isinstance(target, GraphQLObjectType) and all(
        is_leaf_type(get_named_type(sub.type)) for sub in target.fields.values()
    )


# Root fields by weight: the ones that read rows (scoped, paged, nested) most often. Hypothesis
# draws early items more often when it starts and when it shrinks, so the richest come first.
ROOT_WEIGHTS = {
    "serviceRequests": 4,
    "customers": 3,
    "node": 3,
    "nodes": 3,
    "invoices": 3,
    "viewer": 2,
    "serviceRequestByNumber": 2,
    "approvals": 2,
    "teams": 1,
    "auditLog": 2,
    "webhookDeliveries": 2,
    "webhookEndpoints": 2,
    "metrics": 1,
    "verifyAuditChain": 1,
}


# The root fields whose answers hold floats and credit data (planner.metrics, planner.credit).
FLOAT_ROOTS = {"metrics": 3, "customers": 2, "node": 1, "viewer": 1}


@st.composite
def root_field(
    draw: st.DrawFn, doc: Doc, query: GraphQLObjectType, weights: dict[str, int] | None = None
) -> str:
    names = [n for n, w in (weights or ROOT_WEIGHTS).items() if n in query.fields for _ in range(w)]
    if weights is None:
        names += sorted(n for n in query.fields if n not in ROOT_WEIGHTS)  # fields added later
    only = GraphQLObjectType("Query", {n: query.fields[n] for n in {draw(st.sampled_from(names))}})
    return draw(field_selection(doc, only, MAX_DEPTH))


@st.composite
def operations(
    draw: st.DrawFn, doc: Doc, weights: dict[str, int] | None = None
) -> tuple[str, dict[str, Any] | None]:
    """A query operation over Query (1-2 root fields, drawn by `weights`: ROOT_WEIGHTS and every
    other field by default) and its variables."""
    query = doc.schema.query_type
    assert query is not None
    # Mostly one root field: a planner falls back per operation, so one unplannable root field
    # would hide what the other one does.
    roots = [draw(root_field(doc, query, weights))]
    if draw(st.integers(0, 3)) == 0:
        roots.append(draw(root_field(doc, query, weights)))
    header = f"({', '.join(doc.definitions)})" if doc.definitions else ""
    text = " ".join([f"query Generated{header} {{ {' '.join(roots)} }}", *doc.fragments])
    return text, doc.variables or None
