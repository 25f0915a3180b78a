"""The Query root as SQL: one JSON object with every root field the operation selects.

A root field whose resolver would raise FORBIDDEN for the access class is not planned: the
resolver path answers the operation with its error, exactly as without the planner.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from graphql import FieldNode, OperationDefinitionNode

from auth.permissions import Capability
from domain.enums import Role
from planner.builder import Binding, Builder, Unplannable
from planner.connections import Listing, compile_connection
from planner.objects import TABLES, compile_object, to_one, typename
from planner.requests import invoice_conditions, request_listing
from planner.sql import SENTINEL, json_object, literal
from schema import ids
from schema.errors import BadUserInput

__all__ = ["compile_operation"]

RootHandler = Callable[[Builder, list[FieldNode]], str]

# Node type -> the capability needed to read it at all (resolvers.nodes) and its row's customer
# scope (db.queries.nodes): a column of the row, or a join.
_NODES: dict[str, tuple[Capability, str | None, str | None]] = {
    "Customer": (Capability.READ_CUSTOMERS, "id", None),
    "Contract": (Capability.READ_CUSTOMERS, "customer_id", None),
    "Invoice": (Capability.READ_REQUESTS, "customer_id", None),
    "Payment": (Capability.READ_REQUESTS, "customer_id", None),
    "Adjustment": (Capability.READ_REQUESTS, None, "invoices"),
    "ServiceRequest": (Capability.READ_REQUESTS, "customer_id", None),
    "Comment": (Capability.READ_REQUESTS, None, "service_requests"),
    "RequestEvent": (Capability.READ_REQUESTS, "customer_id", None),
    "Approval": (Capability.READ_APPROVALS, None, "service_requests"),
    "Agent": (Capability.READ_TEAMS, None, None),
    "Team": (Capability.READ_TEAMS, None, None),
    "SlaPolicy": (Capability.READ_REQUESTS, None, None),
    "BusinessCalendar": (Capability.READ_REQUESTS, None, None),
    "AuditEntry": (Capability.READ_AUDIT, None, None),
}


def _require(b: Builder, capability: Capability) -> None:
    if not b.access.can(capability):
        raise Unplannable("forbidden", capability.value)


def _json_param(b: Builder, name: str, value: Callable[[Binding], object]) -> str:
    return b.shared(name, lambda binding: orjson.dumps(value(binding)).decode(), "text")


def _roles(binding: Binding) -> list[Role]:
    """Viewer.roles: in the Role enum's order."""
    order = list(Role)
    return sorted(binding.principal.roles, key=order.index)


def _viewer(b: Builder, nodes: list[FieldNode]) -> str:
    """Viewer.of(principal): the token's facts as parameters, the customer and agent as rows."""
    access = b.access
    members = []
    for key, fields in b.collect("Viewer", nodes).items():
        name = fields[0].name.value
        if name == "subject":
            members.append((key, _json_param(b, "subject", lambda bd: bd.principal.subject)))
        elif name == "name":
            members.append((key, _json_param(b, "name", lambda bd: bd.principal.name)))
        elif name == "roles":
            members.append((key, _json_param(b, "roles", _roles)))
        elif name == "scopes":
            members.append((key, _json_param(b, "scopes", lambda bd: sorted(bd.principal.scopes))))
        elif name == "customer":
            if access.is_customer and access.has_customer_id:
                own = b.shared("customer_id", lambda bd: bd.principal.customer_id, "bigint")
                members.append((key, to_one(b, "Customer", own, fields)))
            else:
                members.append((key, "'null'"))
        elif name == "agent":
            if access.has_staff_id:
                me = b.shared("staff_id", lambda bd: bd.principal.staff_id, "bigint")
                members.append((key, to_one(b, "Agent", me, fields)))
            else:
                members.append((key, "'null'"))
        elif name == "__typename":
            members.append((key, typename("Viewer")))
        else:
            raise Unplannable("unsupported_field", f"Viewer.{name}")
    return json_object(members)


def _service_requests(b: Builder, nodes: list[FieldNode]) -> str:
    _require(b, Capability.READ_REQUESTS)
    definition = b.field_definition("Query", "serviceRequests")
    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])
    listing = request_listing(b, args.get("filter"), lambda bd: supply(bd).get("filter"), args.get("orderBy"))
    return compile_connection(
        b,
        nodes,
        definition,
        "ServiceRequestConnection",
        listing,
        lambda row, n: compile_object(b, "ServiceRequest", row, n),
    )


def _service_request_by_number(b: Builder, nodes: list[FieldNode]) -> str:
    _require(b, Capability.READ_REQUESTS)
    definition = b.field_definition("Query", "serviceRequestByNumber")
    supply = b.argument_supplier(definition, nodes[0])
    wanted = b.param(lambda bd: str(supply(bd)["number"]).strip(), "text")
    upper = b.param(lambda bd: str(supply(bd)["number"]).strip().upper(), "text")
    a = b.alias()
    conditions = [f"{a}.number IN ({wanted}, {upper})"]
    scope = b.in_scope(f"{a}.customer_id")
    if scope is not None:
        conditions.append(scope)
    value = compile_object(b, "ServiceRequest", a, nodes)
    where = " AND ".join(conditions)
    return f"coalesce((SELECT {value} FROM service_requests {a} WHERE {where} LIMIT 1), 'null')"


def _node(b: Builder, nodes: list[FieldNode]) -> str:
    """node(id:): the ID's type and pk as parameters, one branch per type the caller may read."""
    definition = b.field_definition("Query", "node")
    supply = b.argument_supplier(definition, nodes[0])

    def decoded(binding: Binding) -> tuple[str, int] | None:
        memo = binding.arguments.setdefault(("node", id(nodes[0])), {})
        if "id" not in memo:
            try:
                memo["id"] = ids.decode(supply(binding)["id"])
            except BadUserInput:
                memo["id"] = None
        return memo["id"]  # type: ignore[no-any-return]

    b.check(lambda binding: "bad_id" if decoded(binding) is None else None)
    type_param = b.param(lambda bd: decoded(bd)[0], "text")  # type: ignore[index]
    pk = b.param(lambda bd: decoded(bd)[1], "bigint")  # type: ignore[index]
    branches = []
    unplanned: list[str] = []
    for type_name, (capability, scope_column, via) in _NODES.items():
        if not b.access.can(capability):
            continue
        a = b.alias()
        key = "sequence" if type_name == "AuditEntry" else "id"
        conditions = [f"{a}.{key} = {pk}"]
        source = f"{TABLES[type_name]} {a}"
        if via == "invoices":
            source += f" JOIN invoices {a}v ON {a}v.id = {a}.invoice_id"
            scope = b.in_scope(f"{a}v.customer_id")
        elif via == "service_requests":
            source += f" JOIN service_requests {a}v ON {a}v.id = {a}.request_id"
            scope = b.in_scope(f"{a}v.customer_id")
        else:
            scope = b.in_scope(f"{a}.{scope_column}") if scope_column is not None else None
        if scope is not None:
            conditions.append(scope)
        internal = b.access.can(Capability.READ_INTERNAL_COMMENTS)
        if type_name == "Comment" and not internal:
            conditions.append(f"{a}.visibility <> 'INTERNAL'")
        if type_name == "RequestEvent" and not internal:
            conditions.append(
                f"NOT EXISTS (SELECT 1 FROM comments {a}c WHERE {a}c.id = {a}.comment_id "
                f"AND {a}c.visibility = 'INTERNAL')"
            )
        try:
            value = compile_object(b, type_name, a, nodes)
        except Unplannable:
            # This type's selection is not planned: IDs of it take the resolver path.
            unplanned.append(type_name)
            continue
        found = f"(SELECT {value} FROM {source} WHERE {' AND '.join(conditions)})"
        branches.append(f"WHEN {literal(type_name)} THEN coalesce({found}, 'null')")
    if unplanned:
        skipped = frozenset(unplanned)
        b.check(lambda bd: "node_type" if decoded(bd) and decoded(bd)[0] in skipped else None)  # type: ignore[index]
    if not branches:
        return "'null'"
    return f"CASE {type_param} {' '.join(branches)} ELSE 'null' END"


def _teams(b: Builder, nodes: list[FieldNode]) -> str:
    _require(b, Capability.READ_TEAMS)
    a = b.alias()
    element = compile_object(b, "Team", a, nodes)
    ordered = f"string_agg({element}, ',' ORDER BY {a}.name, {a}.id)"
    return f"(SELECT '[' || coalesce({ordered}, '') || ']' FROM teams {a})"


def _invoices(b: Builder, nodes: list[FieldNode]) -> str:
    from db.queries.invoices import INVOICE_ORDER

    _require(b, Capability.READ_REQUESTS)
    definition = b.field_definition("Query", "invoices")
    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])
    has_customer = args.get("customerId") is not None

    def statuses(binding: Binding) -> object:
        return supply(binding).get("status")

    if has_customer:

        def check(binding: Binding) -> str | None:
            try:
                ids.decode(supply(binding)["customerId"])
            except BadUserInput:
                return "bad_id"
            return None

        b.check(check)
        customer = b.param(lambda bd: ids.decode_as(supply(bd)["customerId"], "Customer"), "bigint")

    def conditions(a: str) -> list[str]:
        found = invoice_conditions(b, a, args.get("status"), statuses)
        if has_customer:
            found.append(f"{a}.customer_id = {customer}")
        return found

    listing = Listing("invoices", "Invoice", INVOICE_ORDER, conditions)
    return compile_connection(
        b,
        nodes,
        definition,
        "InvoiceConnection",
        listing,
        lambda row, n: compile_object(b, "Invoice", row, n),
    )


ROOT_FIELDS: dict[str, RootHandler] = {
    "viewer": _viewer,
    "serviceRequests": _service_requests,
    "serviceRequestByNumber": _service_request_by_number,
    "node": _node,
    "teams": _teams,
    "invoices": _invoices,
}


def compile_operation(b: Builder, operation: OperationDefinitionNode) -> str:
    """SQL text of the operation's `data` object (JSON text)."""
    if operation.operation.value != "query":
        raise Unplannable("not_a_query", operation.operation.value)
    members = []
    fields: dict[str, list[FieldNode]] = {}
    b._collect("Query", operation.selection_set.selections, fields, set())
    for key, nodes in fields.items():
        name = nodes[0].name.value
        if name == "__typename":
            members.append((key, typename("Query")))
            continue
        handler = ROOT_FIELDS.get(name)
        if handler is None:
            raise Unplannable("unsupported_root_field", name)
        members.append((key, handler(b, nodes)))
    return json_object(members)


__all__ += ["ROOT_FIELDS", "SENTINEL"]
