"""The Query root as SQL: one JSON object with every root field the operation selects.

A root field whose resolver would raise FORBIDDEN for the access class is not planned: the
resolver path answers the operation with its error, exactly as without the planner.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from graphql import FieldNode, OperationDefinitionNode

from auth.permissions import Capability, can_decide_level
from db.queries.nodes import NODE_TYPES
from domain.enums import ApprovalLevel, Role
from planner import audit, webhooks
from planner.builder import Binding, Builder, Unplannable
from planner.connections import MAX_PAGE_SIZE, Listing, compile_connection
from planner.objects import HANDLERS, TABLES, compile_object, to_one, typename
from planner.requests import invoice_conditions, request_listing
from planner.sa import embed
from planner.sql import json_object, literal
from schema import ids
from schema.errors import BadUserInput

__all__ = ["ROOT_FIELDS", "compile_objects", "compile_operation"]

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


def _node_branches(b: Builder, nodes: list[FieldNode], type_expr: str, pk: str) -> tuple[str, frozenset[str]]:
    """`CASE type WHEN ... END`: the node of (type, pk), one branch per type the caller may read;
    and the types whose selection is not planned (their IDs take the resolver path)."""
    branches = []
    unplanned: list[str] = []
    internal = b.access.can(Capability.READ_INTERNAL_COMMENTS)
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
            unplanned.append(type_name)
            continue
        found = f"(SELECT {value} FROM {source} WHERE {' AND '.join(conditions)})"
        branches.append(f"WHEN {literal(type_name)} THEN coalesce({found}, 'null')")
    if not branches:
        return "'null'", frozenset(unplanned)
    return f"CASE {type_expr} {' '.join(branches)} ELSE 'null' END", frozenset(unplanned)


def _resolver_only(type_name: str, unplanned: frozenset[str]) -> bool:
    """Whether a node of this type is the resolver path's to answer: its selection is not planned,
    or the planner has no SQL for the type at all (the mail and webhook types: `node(id:)` of them
    is answered by the resolvers, with their access rules)."""
    return type_name in unplanned or (type_name in NODE_TYPES and type_name not in _NODES)


def _decode_all(values: object) -> list[tuple[str, int]] | None:
    try:
        return [ids.decode(v) for v in values]  # type: ignore[attr-defined]
    except BadUserInput:
        return None


def _node(b: Builder, nodes: list[FieldNode]) -> str:
    """node(id:): the ID's type and pk as parameters."""
    definition = b.field_definition("Query", "node")
    supply = b.argument_supplier(definition, nodes[0])

    def decoded(binding: Binding) -> tuple[str, int] | None:
        memo = binding.arguments.setdefault(("node", id(nodes[0])), {})
        if "id" not in memo:
            found = _decode_all([supply(binding)["id"]])
            memo["id"] = found[0] if found else None
        return memo["id"]  # type: ignore[no-any-return]

    b.check(lambda binding: "bad_id" if decoded(binding) is None else None)
    type_param = b.param(lambda bd: decoded(bd)[0], "text")  # type: ignore[index]
    pk = b.param(lambda bd: decoded(bd)[1], "bigint")  # type: ignore[index]
    value, unplanned = _node_branches(b, nodes, type_param, pk)
    b.check(lambda bd: "node_type" if _resolver_only(decoded(bd)[0], unplanned) else None)  # type: ignore[index]
    return value


def _nodes(b: Builder, nodes: list[FieldNode]) -> str:
    """nodes(ids:): every ID's node in the order asked (at most 100 IDs, as the resolver says)."""
    definition = b.field_definition("Query", "nodes")
    supply = b.argument_supplier(definition, nodes[0])

    def decoded(binding: Binding) -> list[tuple[str, int]] | None:
        memo = binding.arguments.setdefault(("nodes", id(nodes[0])), {})
        if "ids" not in memo:
            memo["ids"] = _decode_all(supply(binding)["ids"])
        return memo["ids"]  # type: ignore[no-any-return]

    def check(binding: Binding) -> str | None:
        if len(supply(binding)["ids"]) > MAX_PAGE_SIZE:
            return "bad_page_argument"
        found = decoded(binding)
        if found is None:
            return "bad_id"
        return "node_type" if any(_resolver_only(t, unplanned) for t, _ in found) else None

    b.check(check)
    types = b.param(lambda bd: [t for t, _ in decoded(bd) or ()], "text[]")
    pks = b.param(lambda bd: [pk for _, pk in decoded(bd) or ()], "bigint[]")
    n = b.alias("n")
    value, unplanned = _node_branches(b, nodes, f"{n}.type_name", f"{n}.pk")
    return (
        f"(SELECT '[' || coalesce(string_agg({value}, ',' ORDER BY {n}.i), '') || ']' "
        f"FROM unnest({types}, {pks}) WITH ORDINALITY AS {n}(type_name, pk, i))"
    )


_LEVELS = "DECIDABLE_LEVELS"


def _objects(b: Builder, type_name: str) -> Callable[[str, list[FieldNode]], str]:
    return lambda row, nodes: compile_object(b, type_name, row, nodes)


def _filter_names(supply: Callable[[Binding], dict[str, Any]], name: str, binding: Binding) -> list[str]:
    """An enum list of the request's `filter` argument, as the stored names."""
    return [str(getattr(v, "value", v)) for v in supply(binding)["filter"][name]]


def _search_pattern(supply: Callable[[Binding], dict[str, Any]], binding: Binding) -> str:
    from db.queries.customers import like_pattern

    return like_pattern(str(supply(binding)["filter"]["search"]).strip().lower())


def _decidable_levels(binding: Binding) -> list[str]:
    return [level.value for level in ApprovalLevel if can_decide_level(binding.principal, level)]


def _customers(b: Builder, nodes: list[FieldNode]) -> str:
    """db.queries.customers: search, KYC, segment and risk filters within the scope, by name."""
    from db.queries.customers import CUSTOMER_ORDER

    _require(b, Capability.READ_CUSTOMERS)
    definition = b.field_definition("Query", "customers")
    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])
    flt = args.get("filter") or {}
    conditions: list[str] = []
    if flt.get("search") is not None:
        # A blank search matches every name, as the resolver's "no condition" does.
        like = f"LIKE {b.param(partial(_search_pattern, supply), 'text')} ESCAPE '\\'"
        conditions.append(f"(lower(xrq.name) {like} OR lower(xrq.external_ref) {like})")
    for name, column in (("kycStatus", "kyc_status"), ("segment", "segment"), ("riskRating", "risk_rating")):
        values = flt.get(name)
        if values is None:
            continue
        # Filtering on credit data the caller cannot see matches nothing (resolvers.reads.customers).
        if not values or (name == "riskRating" and not b.access.can(Capability.READ_CREDIT_DATA)):
            conditions.append("false")
            continue
        param = b.param(partial(_filter_names, supply, name), "text[]")
        conditions.append(f"xrq.{column} = ANY({param})")

    def where(a: str) -> list[str]:
        scope = b.in_scope(f"{a}.id")
        found = [c.replace("xrq.", f"{a}.") for c in conditions]
        return found if scope is None else [scope, *found]

    listing = Listing("customers", "Customer", CUSTOMER_ORDER, where)
    return compile_connection(b, nodes, definition, "CustomerConnection", listing, _objects(b, "Customer"))


def _approvals(b: Builder, nodes: list[FieldNode]) -> str:
    """db.queries.approvals: by status, or those the viewer may decide now, newest first."""
    from sqlalchemy import literal_column

    from db.queries.approvals import APPROVAL_ORDER, Decider, decidable_by
    from db.tables import APPROVALS, REQUESTS

    _require(b, Capability.READ_APPROVALS)
    definition = b.field_definition("Query", "approvals")
    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])
    flt = args.get("filter") or {}
    conditions: list[str] = []
    statuses = flt.get("status")
    if statuses is not None:
        if not statuses:
            conditions.append("false")
        else:
            param = b.param(partial(_filter_names, supply, "status"), "text[]")
            conditions.append(f"xrq.status = ANY({param})")
    if flt.get("decidableByViewer"):
        access = b.access
        # db.queries.approvals.decidable_by itself, with the caller's staff id and decidable levels
        # (auth.permissions.can_decide_level, asked at bind time) as parameters. Whether there
        # are any levels depends on the access class alone (DECIDE_APPROVAL, an approval level).
        some = access.can(Capability.DECIDE_APPROVAL) and access.approval_level is not None
        staff = b.shared("staff_id", _staff, "bigint") if access.has_staff_id else None
        decider = Decider(
            staff_id=literal_column(staff) if staff else None,  # type: ignore[arg-type]
            levels=frozenset({_LEVELS}) if some else frozenset(),
        )
        condition = embed(decidable_by(decider), {APPROVALS: "xrq", REQUESTS: "xrqr"})
        if some:
            levels = b.param(_decidable_levels, "text[]")
            condition = condition.replace(f"IN ('{_LEVELS}')", f"= ANY({levels})")
        conditions.append(condition)

    def where(a: str) -> list[str]:
        scope = b.in_scope(f"{a}r.customer_id")
        found = [c.replace("xrqr.", f"{a}r.").replace("xrq.", f"{a}.") for c in conditions]
        return found if scope is None else [scope, *found]

    listing = Listing(
        "approvals",
        "Approval",
        APPROVAL_ORDER,
        where,
        source=lambda a: f"approvals {a} JOIN service_requests {a}r ON {a}r.id = {a}.request_id",
    )
    return compile_connection(b, nodes, definition, "ApprovalConnection", listing, _objects(b, "Approval"))


def _staff(binding: Binding) -> int | None:
    return binding.principal.staff_id


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


def _mail_statuses(
    b: Builder, supply: Callable[[Binding], dict[str, Any]], args: dict[str, Any]
) -> list[str]:
    """db.queries.mail: a status list filters when it is not empty."""
    if not args.get("status"):
        return []
    param = b.param(lambda bd: [str(getattr(v, "value", v)) for v in supply(bd)["status"]], "text[]")
    return [f"xrq.status = ANY({param})"]


def _outbound_mails(b: Builder, nodes: list[FieldNode]) -> str:
    """outboundMails: db.queries.mail's outbound list, newest first, optionally of one request."""
    from db.queries.mail import OUTBOUND_ORDER

    _require(b, Capability.READ_MAIL)
    definition = b.field_definition("Query", "outboundMails")
    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])
    conditions = _mail_statuses(b, supply, args)
    if args.get("serviceRequestId") is not None:

        def check(binding: Binding) -> str | None:
            try:
                ids.decode(supply(binding)["serviceRequestId"])
            except BadUserInput:
                return "bad_id"
            return None

        b.check(check)
        # schema.ids.row_id: an ID of another type is no row (NO_ROW).
        request = b.param(lambda bd: ids.row_id(supply(bd)["serviceRequestId"], "ServiceRequest"), "bigint")
        conditions.append(f"xrq.request_id = {request}")
    listing = Listing(
        "outbound_mails",
        "OutboundMail",
        OUTBOUND_ORDER,
        lambda a: [c.replace("xrq.", f"{a}.") for c in conditions],
    )
    return compile_connection(
        b, nodes, definition, "OutboundMailConnection", listing, _objects(b, "OutboundMail")
    )


def _inbound_mails(b: Builder, nodes: list[FieldNode]) -> str:
    """inboundMails: db.queries.mail's inbound list, newest first."""
    from db.queries.mail import INBOUND_ORDER

    _require(b, Capability.READ_MAIL)
    definition = b.field_definition("Query", "inboundMails")
    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])
    conditions = _mail_statuses(b, supply, args)
    listing = Listing(
        "inbound_mails",
        "InboundMail",
        INBOUND_ORDER,
        lambda a: [c.replace("xrq.", f"{a}.") for c in conditions],
    )
    return compile_connection(
        b, nodes, definition, "InboundMailConnection", listing, _objects(b, "InboundMail")
    )


def _metrics(b: Builder, nodes: list[FieldNode]) -> str:
    from planner.metrics import metrics

    return metrics(b, nodes)


ROOT_FIELDS: dict[str, RootHandler] = {
    "viewer": _viewer,
    "serviceRequests": _service_requests,
    "serviceRequestByNumber": _service_request_by_number,
    "node": _node,
    "teams": _teams,
    "invoices": _invoices,
    "nodes": _nodes,
    "customers": _customers,
    "approvals": _approvals,
    "outboundMails": _outbound_mails,
    "inboundMails": _inbound_mails,
    "metrics": _metrics,
}

# Root fields and types compiled in modules of their own (each module holds its types' handlers).
for _module in (webhooks, audit):
    ROOT_FIELDS.update(_module.ROOT_FIELDS)
    HANDLERS.update(_module.HANDLERS)
    TABLES.update(_module.TABLES)


def compile_objects(b: Builder, operation: OperationDefinitionNode, type_name: str) -> str:
    """SQL text of a bytea[]: the selection of the operation's one root field on each `type_name`
    row of the request's rows (in their order; null where the caller may not see the row), scoped
    and restricted as node(id:) reads that type. Subscriptions' payloads: one plan per document,
    run for the rows of each batch of events."""
    fields: dict[str, list[FieldNode]] = {}
    b._collect(operation.operation.value.capitalize(), operation.selection_set.selections, fields, set())
    if len(fields) != 1:
        raise Unplannable("not_one_root_field")
    [nodes] = fields.values()
    rows = b.param(lambda bd: list(bd.rows), "bigint[]")
    n = b.alias("n")
    value, unplanned = _node_branches(b, nodes, literal(type_name), f"{n}.pk")
    if type_name in unplanned or type_name not in _NODES:
        raise Unplannable("unsupported_type", type_name)
    return (
        f"SELECT array_agg(convert_to({value}, 'UTF8') ORDER BY {n}.i) "
        f"FROM unnest({rows}) WITH ORDINALITY AS {n}(pk, i)"
    )


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
