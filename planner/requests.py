"""Service requests as SQL: the filter and the lists under a request, a customer or an invoice.

Filters come from their one definition, embedded as SQL: the SLA-state filter of
db.queries.sla_state, the search of db.queries.requests, the invoice status of
db.queries.invoices. The SLA view and the transitions are in planner.rules.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from graphql import FieldNode
from sqlalchemy import literal_column

from auth.permissions import Capability
from db.queries.invoices import INVOICE_ORDER, PAYMENT_ORDER, invoice_status_sql
from db.queries.requests import _search, request_ordering
from db.queries.sla_state import sla_state_condition
from db.queries.timeline import COMMENT_ORDER, EVENT_ORDER
from db.tables import INVOICES, POLICIES, REQUESTS
from domain.enums import SlaState
from domain.money import MAX_INTEGER_DIGITS
from planner.builder import Binding, Builder
from planner.connections import Listing, compile_connection
from planner.objects import compile_object
from planner.sa import embed, embed_bound
from planner.sql import literal
from schema import ids
from schema.errors import BadUserInput

__all__ = [
    "comments",
    "customer_invoices",
    "customer_payments",
    "customer_requests",
    "events",
    "invoice_requests",
    "request_listing",
]


# ------------------------------------------------------------------ request lists


def _value(obj: Any, name: str) -> Any:
    """A field of a coerced input object (a dict by GraphQL field name)."""
    return None if obj is None else obj.get(name)


def _field(supply: Callable[[Binding], Any], name: str, binding: Binding) -> Any:
    return _value(supply(binding), name)


def _names(supply: Callable[[Binding], Any], name: str, binding: Binding) -> list[str]:
    """An enum list of the request's filter, as the stored names."""
    return [str(getattr(v, "value", v)) for v in _value(supply(binding), name)]


def _decoded_id(supply: Callable[[Binding], Any], name: str, type_name: str, binding: Binding) -> int | None:
    return ids.decode_as(_value(supply(binding), name), type_name)


def _search_value(supply: Callable[[Binding], Any], template: str, marker: str, binding: Binding) -> str:
    text = str(_value(supply(binding), "search")).strip()
    return template.replace(marker.upper(), text.upper()).replace(marker, text)


def request_conditions(
    b: Builder,
    alias: str,
    policy_alias: str,
    filter_value: Any,
    supply_filter: Callable[[Binding], Any],
) -> list[str]:
    """db.queries.requests.request_conditions as SQL text, values as parameters."""
    conditions: list[str] = []
    scope = b.in_scope(f"{alias}.customer_id")
    if scope is not None:
        conditions.append(scope)
    if filter_value is None:
        return conditions
    for name, column in (
        ("status", "status"),
        ("type", "type"),
        ("priority", "priority"),
        ("channel", "channel"),
    ):
        values = _value(filter_value, name)
        if values is None:
            continue
        if not values:
            conditions.append("false")
            continue
        param = b.param(partial(_names, supply_filter, name), "text[]")
        conditions.append(f"{alias}.{column} = ANY({param})")
    states = _value(filter_value, "slaState")
    if states is not None:
        wanted = [SlaState(getattr(s, "value", s)) for s in states]
        condition = sla_state_condition(wanted, literal_column(b.now()))  # type: ignore[arg-type]
        conditions.append(embed(condition, {REQUESTS: alias, POLICIES: policy_alias}))
    for name, column, type_name in (
        ("customerId", "customer_id", "Customer"),
        ("teamId", "team_id", "Team"),
        ("assigneeId", "assignee_id", "Agent"),
        ("invoiceId", "invoice_id", "Invoice"),
    ):
        if _value(filter_value, name) is None:
            continue

        def check(binding: Binding, name: str = name) -> str | None:
            try:
                ids.decode(_value(supply_filter(binding), name))
            except BadUserInput:
                return "bad_id"
            return None

        b.check(check)
        param = b.param(partial(_decoded_id, supply_filter, name, type_name), "bigint")
        conditions.append(f"{alias}.{column} = {param}")
    for name, op in (("createdAfter", ">="), ("createdBefore", "<")):
        if _value(filter_value, name) is not None:
            param = b.param(partial(_field, supply_filter, name), "timestamptz")
            conditions.append(f"{alias}.created_at {op} {param}")
    search = _value(filter_value, "search")
    if search is not None and str(search).strip():
        # db.queries.requests._search itself, for a marker standing for the request's text: its
        # values containing the marker become parameters. Its structure depends on whether the
        # text is digits, which the plan's variable shape says (planner.runtime).
        text = str(search).strip()
        marker = "90817263" if text.isascii() and text.isdigit() else "zqz"

        def bind(value: Any) -> str:
            if isinstance(value, str) and (marker in value or marker.upper() in value):
                return b.param(partial(_search_value, supply_filter, value, marker), "text")
            return literal(str(value))

        conditions.append(embed_bound(_search(marker), {REQUESTS: alias}, bind))
    if _value(filter_value, "minFinancialImpact") is not None:

        def minimum(binding: Binding) -> Any:
            return _value(supply_filter(binding), "minFinancialImpact")

        # Past what NUMERIC(18,2) holds: BAD_USER_INPUT, decided by the resolvers (one place).
        b.check(lambda binding: "bad_value" if _beyond_amounts(minimum(binding)) else None)
        param = b.param(minimum, "numeric")
        conditions.append(f"{alias}.financial_impact_amount >= {param}")
    return conditions


def request_listing(
    b: Builder,
    filter_value: Any,
    supply_filter: Callable[[Binding], Any],
    order_value: Any,
    parent: tuple[str, str] | None = None,
) -> Listing:
    """The requests of a `serviceRequests` field: the filter, the order, the parent (column, row)."""
    if order_value is not None:
        field = getattr(order_value["field"], "value", order_value["field"])
        descending = getattr(order_value["direction"], "value", order_value["direction"]) == "DESC"
        ordering = request_ordering(str(field), descending=descending)
    else:
        ordering = request_ordering()
    uses_policy = _value(filter_value, "slaState") is not None
    cache: dict[str, list[str]] = {}

    def conditions(alias: str) -> list[str]:
        # One set of parameters for the page, the probe and the count.
        found = cache.get("c")
        if found is None:
            found = cache["c"] = request_conditions(b, "xrq", "xrp", filter_value, supply_filter)
            if parent is not None:
                found.append(f"xrq.{parent[0]} = {parent[1]}")
        return [c.replace("xrq.", f"{alias}.").replace("xrp.", f"{alias}p.") for c in found]

    source = None
    if uses_policy:

        def source(alias: str) -> str:
            return (
                f"service_requests {alias} JOIN sla_policies {alias}p ON {alias}p.id = {alias}.sla_policy_id"
            )

    return Listing("service_requests", "ServiceRequest", ordering, conditions, source)


def _node(b: Builder, type_name: str) -> Callable[[str, list[FieldNode]], str]:
    return lambda row, nodes: compile_object(b, type_name, row, nodes)


def _requests_under(parent_column: str) -> Callable[[Builder, str, list[FieldNode]], str]:
    def handler(b: Builder, row: str, nodes: list[FieldNode]) -> str:
        parent_type = "Customer" if parent_column == "customer_id" else "Invoice"
        definition = b.field_definition(parent_type, "serviceRequests")
        args = b.arguments(definition, nodes[0])
        supply = b.argument_supplier(definition, nodes[0])
        flt = args.get("filter")
        listing = request_listing(
            b, flt, lambda binding: supply(binding).get("filter"), None, parent=(parent_column, f"{row}.id")
        )
        return compile_connection(
            b, nodes, definition, "ServiceRequestConnection", listing, _node(b, "ServiceRequest")
        )

    return handler


customer_requests = _requests_under("customer_id")
invoice_requests = _requests_under("invoice_id")


def comments(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    internal = b.access.can(Capability.READ_INTERNAL_COMMENTS)

    def conditions(a: str) -> list[str]:
        found = [f"{a}.request_id = {row}.id"]
        return found if internal else [*found, f"{a}.visibility <> 'INTERNAL'"]

    listing = Listing("comments", "Comment", COMMENT_ORDER, conditions)
    definition = b.field_definition("ServiceRequest", "comments")
    return compile_connection(b, nodes, definition, "CommentConnection", listing, _node(b, "Comment"))


def events(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    internal = b.access.can(Capability.READ_INTERNAL_COMMENTS)

    def conditions(a: str) -> list[str]:
        found = [f"{a}.request_id = {row}.id"]
        if internal:
            return found
        hidden = (
            f"EXISTS (SELECT 1 FROM comments {a}c WHERE {a}c.id = {a}.comment_id "
            f"AND {a}c.visibility = 'INTERNAL')"
        )
        return [*found, f"NOT {hidden}"]

    listing = Listing("request_events", "RequestEvent", EVENT_ORDER, conditions)
    definition = b.field_definition("ServiceRequest", "events")
    return compile_connection(
        b, nodes, definition, "RequestEventConnection", listing, _node(b, "RequestEvent")
    )


def invoice_conditions(
    b: Builder, alias: str, statuses: Any, supply_statuses: Callable[[Binding], Any]
) -> list[str]:
    """db.queries.invoices._invoice_conditions as SQL text."""
    conditions = []
    scope = b.in_scope(f"{alias}.customer_id")
    if scope is not None:
        conditions.append(scope)
    if statuses is not None:
        status = embed(invoice_status_sql(literal_column(b.today())), {INVOICES: alias})  # type: ignore[arg-type]
        if not statuses:
            conditions.append("false")
        else:
            param = b.shared(
                f"invoice_statuses_{id(supply_statuses)}",
                lambda binding: [str(getattr(s, "value", s)) for s in supply_statuses(binding)],
                "text[]",
            )
            conditions.append(f"{status} = ANY({param})")
    return conditions


def customer_invoices(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    definition = b.field_definition("Customer", "invoices")
    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])

    def statuses(binding: Binding) -> Any:
        return supply(binding).get("status")

    def conditions(a: str) -> list[str]:
        return [f"{a}.customer_id = {row}.id", *invoice_conditions(b, a, args.get("status"), statuses)]

    listing = Listing("invoices", "Invoice", INVOICE_ORDER, conditions)
    return compile_connection(b, nodes, definition, "InvoiceConnection", listing, _node(b, "Invoice"))


def customer_payments(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    definition = b.field_definition("Customer", "payments")

    def conditions(a: str) -> list[str]:
        scope = b.in_scope(f"{a}.customer_id")
        return [f"{a}.customer_id = {row}.id", *([scope] if scope else [])]

    listing = Listing("payments", "Payment", PAYMENT_ORDER, conditions)
    return compile_connection(b, nodes, definition, "PaymentConnection", listing, _node(b, "Payment"))


def _beyond_amounts(value: Any) -> bool:
    try:
        return Decimal(str(value)).adjusted() >= MAX_INTEGER_DIGITS
    except (ArithmeticError, ValueError):
        return True
