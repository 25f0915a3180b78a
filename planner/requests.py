"""Service requests as SQL: the filter, the SLA view, the available transitions and the lists
under a request or a customer.

Rules come from their one definition: the SLA state of domain.sla.evaluate for 24x7 policies
(a business-hours policy whose at-risk instant cannot be decided without walking its calendar
writes the SENTINEL, and that request takes the resolver path), the SLA-state filter from
db.queries.sla_state, the invoice status from db.queries.invoices, and `availableTransitions`
from domain.lifecycle.allowed_actions itself, evaluated at plan time for every combination of
the facts it reads (status, assignee, pending approval, reopen window) into a lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from graphql import FieldNode
from sqlalchemy import literal_column

from auth.permissions import Capability, transition_capability
from db.queries.invoices import INVOICE_ORDER, PAYMENT_ORDER, invoice_status_sql
from db.queries.requests import request_ordering
from db.queries.sla_state import sla_state_condition
from db.queries.timeline import COMMENT_ORDER, EVENT_ORDER
from db.tables import INVOICES, POLICIES, REQUESTS
from domain.enums import OPEN_STATUSES, RequestStatus, SlaState
from domain.lifecycle import Actor, RequestFacts, allowed_actions
from domain.rules import DEFAULT_RULES
from planner.builder import Binding, Builder, Unplannable
from planner.connections import Listing, compile_connection
from planner.objects import compile_object, typename
from planner.sa import embed
from planner.sql import SENTINEL, json_datetime, json_object, literal
from schema import ids
from schema.errors import BadUserInput

__all__ = [
    "available_transitions",
    "comments",
    "customer_invoices",
    "customer_payments",
    "customer_requests",
    "events",
    "invoice_requests",
    "request_listing",
    "sla",
]

_OPEN = ", ".join(literal(s.value) for s in sorted(OPEN_STATUSES))
_DONE = "('RESOLVED', 'CLOSED')"


# ------------------------------------------------------------------ SLA


def sla(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """Sla of schema.types.sla.sla_of: domain.sla.evaluate over the stored columns at the clock."""
    sp = b.alias("sp")
    now = b.now()
    r = row
    stop = (
        f"CASE WHEN {r}.status = 'WAITING_ON_CUSTOMER' THEN {r}.paused_at "
        f"WHEN {r}.status IN {_DONE} THEN coalesce({r}.resolved_at, {r}.closed_at) "
        f"WHEN {r}.status = 'CANCELLED' THEN {r}.cancelled_at END"
    )
    clock = f"(CASE WHEN ({stop}) IS NULL THEN {now} ELSE least({stop}, {now}) END)"
    done = f"({r}.status IN {_DONE} AND {r}.resolved_at IS NOT NULL)"
    first_breach = (
        f"(CASE WHEN {r}.first_response_breached_at IS NOT NULL THEN {r}.first_response_breached_at "
        f"WHEN ({r}.first_responded_at IS NOT NULL AND {r}.first_responded_at > {r}.first_response_due_at) "
        f"OR ({r}.first_responded_at IS NULL AND {clock} >= {r}.first_response_due_at) "
        f"THEN {r}.first_response_due_at END)"
    )
    resolution_breach = (
        f"(CASE WHEN {r}.resolution_breached_at IS NOT NULL THEN {r}.resolution_breached_at "
        f"WHEN {done} THEN CASE WHEN {r}.resolved_at > {r}.resolution_due_at THEN {r}.resolution_due_at END "
        f"WHEN {clock} >= {r}.resolution_due_at THEN {r}.resolution_due_at END)"
    )
    breached_at = f"least({first_breach}, {resolution_breach})"
    first_due = (
        f"(CASE WHEN {r}.first_responded_at IS NULL OR {first_breach} IS NOT NULL "
        f"THEN {r}.first_response_due_at END)"
    )
    resolution_due = (
        f"(CASE WHEN NOT {done} OR {resolution_breach} IS NOT NULL THEN {r}.resolution_due_at END)"
    )
    earliest = f"least({first_due}, {resolution_due})"
    fraction = literal(str(DEFAULT_RULES.sla.at_risk_fraction))

    def wall_at_risk(due: str, target: str) -> str:
        # domain.sla.at_risk_instant counted in wall-clock time: exact for 24x7 policies, and never
        # before the business-hours instant (so "at risk" by it is at risk by the calendar too).
        rest = f"({sp}.{target} - ceil({sp}.{target} * {fraction}::numeric))"
        return f"({due} - {rest} * interval '1 second' <= {now})"

    at_risk = (
        f"({wall_at_risk(first_due, 'first_response_seconds')} "
        f"OR {wall_at_risk(resolution_due, 'resolution_seconds')})"
    )

    def open_between(a: str, z: str) -> str:
        # Open seconds of the policy's calendar from `a` to `z` (planner.calendars' spans; a span
        # lies within one local day, so none opening more than 26 hours before `a` reaches it).
        return (
            f"(SELECT coalesce(sum(extract(epoch FROM "
            f"least(s.closes_at, {z}) - greatest(s.opens_at, {a}))), 0) "
            f"FROM calendar_open_spans s WHERE s.calendar_id = {sp}.calendar_id "
            f"AND s.opens_at >= {a} - interval '26 hours' AND s.opens_at < {z} AND s.closes_at > {a})"
        )

    def spans_cover(a: str, z: str) -> str:
        return (
            f"EXISTS (SELECT 1 FROM calendar_span_sets ss "
            f"JOIN business_calendars bc ON bc.id = ss.calendar_id "
            f"WHERE ss.calendar_id = {sp}.calendar_id AND ss.time_zone = bc.time_zone "
            f"AND ss.weekly_hours = bc.weekly_hours AND ss.holidays = bc.holidays "
            f"AND ss.covers_from <= {a} AND ss.covers_to >= {z})"
        )

    open_now = (
        f"EXISTS (SELECT 1 FROM calendar_open_spans s WHERE s.calendar_id = {sp}.calendar_id "
        f"AND s.opens_at <= {now} AND s.opens_at >= {now} - interval '26 hours' AND s.closes_at > {now})"
    )

    def calendar_at_risk(due: str, target: str) -> str:
        # domain.sla.at_risk_instant walks `rest` open seconds back from the due time and lands on
        # a span's start when it exhausts a span: it is not after now exactly when fewer than
        # `rest` open seconds remain, or `rest` and now is open.
        rest = f"({sp}.{target} - ceil({sp}.{target} * {fraction}::numeric))"
        remaining = open_between(now, due)
        return f"({due} IS NOT NULL AND ({remaining} < {rest} OR ({remaining} = {rest} AND {open_now})))"

    calendar_risk = (
        f"({calendar_at_risk(first_due, 'first_response_seconds')} "
        f"OR {calendar_at_risk(resolution_due, 'resolution_seconds')})"
    )
    running_states = f"{r}.status = 'WAITING_ON_CUSTOMER' OR {done} OR {r}.status NOT IN ({_OPEN})"

    def seconds(interval: str) -> str:
        return f"floor(extract(epoch FROM {interval}))::bigint"

    members = []
    for key, fields in b.collect("Sla", nodes).items():
        name = fields[0].name.value
        if name == "policy":
            members.append((key, compile_object(b, "SlaPolicy", sp, fields)))
        elif name == "state":
            state = (
                f"CASE WHEN {breached_at} IS NOT NULL THEN '\"BREACHED\"' "
                f"WHEN {r}.status = 'WAITING_ON_CUSTOMER' THEN '\"PAUSED\"' "
                f"WHEN {done} THEN '\"MET\"' "
                f"WHEN {r}.status NOT IN ({_OPEN}) THEN '\"ON_TRACK\"' "
                f"WHEN {sp}.calendar_id IS NULL THEN CASE WHEN {at_risk} THEN '\"AT_RISK\"' "
                f"ELSE '\"ON_TRACK\"' END "
                f"WHEN NOT {spans_cover(now, f'greatest({first_due}, {resolution_due})')} THEN {SENTINEL} "
                f"WHEN {calendar_risk} THEN '\"AT_RISK\"' "
                f"ELSE '\"ON_TRACK\"' END"
            )
            members.append((key, state))
        elif name == "remainingSeconds":
            remaining = (
                f"CASE WHEN {breached_at} IS NOT NULL THEN {seconds(f'{earliest} - {clock}')}::text "
                f"WHEN {running_states} THEN 'null' "
                f"ELSE {seconds(f'{earliest} - {now}')}::text END"
            )
            members.append((key, remaining))
        elif name == "breachedAt":
            members.append((key, json_datetime(breached_at)))
        elif name == "firstResponseDueAt":
            members.append((key, json_datetime(f"{r}.first_response_due_at")))
        elif name == "firstRespondedAt":
            members.append((key, json_datetime(f"{r}.first_responded_at")))
        elif name == "resolutionDueAt":
            members.append((key, json_datetime(f"{r}.resolution_due_at")))
        elif name == "pausedSeconds":
            running_pause = f"{r}.status = 'WAITING_ON_CUSTOMER' AND {r}.paused_at IS NOT NULL"
            paused_at = f"{r}.paused_at"
            in_calendar = f"floor({open_between(paused_at, now)})::bigint"
            paused = (
                f"CASE WHEN NOT ({running_pause}) THEN {r}.paused_seconds::text "
                f"WHEN {sp}.calendar_id IS NULL THEN ({r}.paused_seconds + "
                f"greatest({seconds(f'{now} - {paused_at}')}, 0))::text "
                f"WHEN NOT {spans_cover(f'least({paused_at}, {now})', now)} THEN {SENTINEL} "
                f"ELSE ({r}.paused_seconds + greatest({in_calendar}, 0))::text END"
            )
            members.append((key, paused))
        elif name == "__typename":
            members.append((key, typename("Sla")))
        else:
            raise Unplannable("unsupported_field", f"Sla.{name}")
    return f"(SELECT {json_object(members)} FROM sla_policies {sp} WHERE {sp}.id = {r}.sla_policy_id)"


# ------------------------------------------------------------------ transitions

_ME, _OTHER = 1, 2
_PLAN_NOW = datetime(2000, 1, 1, tzinfo=UTC)


def available_transitions(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """ServiceRequest.availableTransitions: allowed_actions for each combination of its facts."""
    access = b.access
    actor = Actor(roles=access.roles, staff_id=_ME if access.has_staff_id else None)
    window = DEFAULT_RULES.lifecycle.reopen_window
    fields = b.collect("Transition", nodes)

    def element(action: str, to_status: str) -> str:
        parts = []
        for key, found in fields.items():
            name = found[0].name.value
            if name == "action":
                parts.append(f'"{key}":"{action}"')
            elif name == "toStatus":
                parts.append(f'"{key}":"{to_status}"')
            elif name == "__typename":
                parts.append(f'"{key}":"Transition"')
            else:
                raise Unplannable("unsupported_field", f"Transition.{name}")
        return "{" + ",".join(parts) + "}"

    answers: dict[str, list[str]] = {}
    for status in RequestStatus:
        for assignee in (0, _ME, _OTHER):
            for pending in (False, True):
                if pending and status not in OPEN_STATUSES:
                    continue  # only open requests look at their approvals
                for expired in (False, True):
                    facts = RequestFacts(
                        status=status,
                        customer_id=1,
                        version=1,
                        assignee_id=assignee or None,
                        resolved_at=_PLAN_NOW - window - timedelta(seconds=1) if expired else _PLAN_NOW,
                        has_pending_approval=pending,
                    )
                    allowed = [
                        element(action.value, to_status.value)
                        for action, to_status in allowed_actions(request=facts, actor=actor, now=_PLAN_NOW)
                        if access.can(transition_capability(action))
                    ]
                    key = f"{status.value}:{assignee}:{int(pending)}:{int(expired)}"
                    answers.setdefault("[" + ",".join(allowed) + "]", []).append(key)
    now = b.now()
    if access.has_staff_id:
        me = b.shared("staff_id", lambda binding: binding.principal.staff_id, "bigint")
        assignee_sql = (
            f"CASE WHEN {row}.assignee_id IS NULL THEN 0 WHEN {row}.assignee_id = {me} THEN 1 ELSE 2 END"
        )
    else:
        assignee_sql = f"CASE WHEN {row}.assignee_id IS NULL THEN 0 ELSE 2 END"
    pending_sql = (
        f"CASE WHEN {row}.status IN ({_OPEN}) AND EXISTS (SELECT 1 FROM approvals ap WHERE "
        f"ap.request_id = {row}.id AND ap.status = 'PENDING') THEN 1 ELSE 0 END"
    )
    expired_sql = (
        f"CASE WHEN {row}.resolved_at IS NOT NULL AND {now} > {row}.resolved_at + "
        f"interval '{int(window.total_seconds())} seconds' THEN 1 ELSE 0 END"
    )
    key_sql = f"{row}.status || ':' || ({assignee_sql}) || ':' || ({pending_sql}) || ':' || ({expired_sql})"
    if len(answers) == 1:
        return literal(next(iter(answers)))
    branches = " ".join(
        f"WHEN k.key IN ({', '.join(literal(k) for k in keys)}) THEN {literal(answer)}"
        for answer, keys in answers.items()
    )
    return f"(SELECT CASE {branches} ELSE '[]' END FROM (SELECT {key_sql} AS key) k)"


# ------------------------------------------------------------------ request lists


def _value(obj: Any, name: str) -> Any:
    """A field of a coerced input object (a dict by GraphQL field name)."""
    return None if obj is None else obj.get(name)


def _decoded(value: Any, type_name: str) -> int | None:
    """The pk of a global ID of `type_name`; None for another type (matches nothing)."""
    return ids.decode_as(value, type_name)


def _field(supply: Callable[[Binding], Any], name: str, binding: Binding) -> Any:
    return _value(supply(binding), name)


def _names(supply: Callable[[Binding], Any], name: str, binding: Binding) -> list[str]:
    """An enum list of the request's filter, as the stored names."""
    return [str(getattr(v, "value", v)) for v in _value(supply(binding), name)]


def _decoded_id(supply: Callable[[Binding], Any], name: str, type_name: str, binding: Binding) -> int | None:
    return ids.decode_as(_value(supply(binding), name), type_name)


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
    if search is not None:
        raise Unplannable("search_filter")
    if _value(filter_value, "minFinancialImpact") is not None:
        param = b.param(lambda binding: _value(supply_filter(binding), "minFinancialImpact"), "numeric")
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
