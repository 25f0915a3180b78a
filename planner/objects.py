"""The read model's object types as SQL: one handler per (type, field), each writing the JSON text
of that field for a row alias, with the same rules as the types of schema/types (scope of each
relation as its loader applies it, restricted fields decided from the access class).

A field without a handler makes the operation unplannable (the resolver path answers it).
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import FieldNode

from auth.permissions import Capability
from db.queries.invoices import invoice_status_sql
from db.tables import INVOICES
from domain.enums import OPEN_STATUSES, RequestType
from planner.builder import Builder, Unplannable
from planner.sa import embed
from planner.sql import (
    json_bool,
    json_date,
    json_datetime,
    json_int,
    json_object,
    json_text,
    literal,
)

__all__ = ["HANDLERS", "TABLES", "compile_object", "typename"]

Handler = Callable[[Builder, str, list[FieldNode]], str]

# Node type -> its table.
TABLES = {
    "ServiceRequest": "service_requests",
    "Customer": "customers",
    "Contract": "contracts",
    "Invoice": "invoices",
    "Payment": "payments",
    "Adjustment": "adjustments",
    "Agent": "staff",
    "Team": "teams",
    "Approval": "approvals",
    "Comment": "comments",
    "RequestEvent": "request_events",
    "SlaPolicy": "sla_policies",
    "BusinessCalendar": "business_calendars",
    "AuditEntry": "audit_entries",
    "Contact": "contacts",
    "Attachment": "attachments",
    "InboundMail": "inbound_mails",
    "OutboundMail": "outbound_mails",
}

_OPEN = ", ".join(literal(s.value) for s in sorted(OPEN_STATUSES))


def typename(type_name: str) -> str:
    return literal(f'"{type_name}"')


def compile_object(b: Builder, type_name: str, row: str, nodes: list[FieldNode]) -> str:
    """The JSON object the sub-selections of `nodes` select on the `type_name` row `row`."""
    handlers = HANDLERS.get(type_name)
    if handlers is None:
        raise Unplannable("unsupported_type", type_name)
    members = []
    for key, fields in b.collect(type_name, nodes).items():
        name = fields[0].name.value
        if name == "__typename":
            members.append((key, typename(type_name)))
            continue
        handler = handlers.get(name)
        if handler is None:
            raise Unplannable("unsupported_field", f"{type_name}.{name}")
        members.append((key, handler(b, row, fields)))
    return json_object(members)


# ------------------------------------------------------------------ handler factories


def _text(column: str) -> Handler:
    return lambda b, row, nodes: json_text(f"{row}.{column}")


def _int(column: str) -> Handler:
    return lambda b, row, nodes: json_int(f"{row}.{column}")


def _bool(column: str) -> Handler:
    return lambda b, row, nodes: json_bool(f"{row}.{column}")


def _datetime(column: str) -> Handler:
    return lambda b, row, nodes: json_datetime(f"{row}.{column}")


def _date(column: str) -> Handler:
    return lambda b, row, nodes: json_date(f"{row}.{column}")


def _id(type_name: str, column: str = "id") -> Handler:
    return lambda b, row, nodes: f"cg_global_id({literal(type_name)}, {row}.{column})"


def money_object(b: Builder, nodes: list[FieldNode], amount: str, currency: str) -> str:
    """Money{amount currency}: amounts are NUMERIC(18, 2), whose text is the quantized Decimal's."""
    members = []
    for key, fields in b.collect("Money", nodes).items():
        name = fields[0].name.value
        if name == "amount":
            members.append((key, f"""'"' || ({amount})::text || '"'"""))
        elif name == "currency":
            members.append((key, json_text(currency)))
        elif name == "__typename":
            members.append((key, typename("Money")))
        else:
            raise Unplannable("unsupported_field", f"Money.{name}")
    return json_object(members)


def _money(amount: str, currency: str, *, nullable: bool = False) -> Handler:
    def handler(b: Builder, row: str, nodes: list[FieldNode]) -> str:
        value = money_object(b, nodes, f"{row}.{amount}", f"{row}.{currency}")
        if not nullable:
            return value
        present = f"{row}.{amount} IS NOT NULL AND {row}.{currency} IS NOT NULL"
        return f"CASE WHEN {present} THEN {value} ELSE 'null' END"

    return handler


def to_one(
    b: Builder, target: str, key: str, nodes: list[FieldNode], *, scoped_by: str | None = None, by: str = "id"
) -> str:
    """The `target` row whose `by` column equals `key`, or null (scoped like its loader)."""
    a = b.alias()
    conditions = [f"{a}.{by} = {key}"]
    if scoped_by is not None:
        scope = b.in_scope(f"{a}.{scoped_by}")
        if scope is not None:
            conditions.append(scope)
    value = compile_object(b, target, a, nodes)
    return f"coalesce((SELECT {value} FROM {TABLES[target]} {a} WHERE {' AND '.join(conditions)}), 'null')"


def _to_one(
    target: str, fk: str, *, scoped_by: str | None = None, capability: Capability | None = None
) -> Handler:
    def handler(b: Builder, row: str, nodes: list[FieldNode]) -> str:
        if capability is not None and not b.access.can(capability):
            return "'null'"
        return to_one(b, target, f"{row}.{fk}", nodes, scoped_by=scoped_by)

    return handler


def children(
    b: Builder,
    target: str,
    nodes: list[FieldNode],
    *,
    where: Callable[[str], list[str]],
    order: Callable[[str], str],
    source: Callable[[str], str] | None = None,
) -> str:
    """The JSON list of `target` rows meeting `where(alias)` in `order(alias)`."""
    a = b.alias()
    element = compile_object(b, target, a, nodes)
    from_clause = source(a) if source is not None else f"{TABLES[target]} {a}"
    return (
        f"(SELECT '[' || coalesce(string_agg({element}, ',' ORDER BY {order(a)}), '') || ']' "
        f"FROM {from_clause} WHERE {' AND '.join(where(a))})"
    )


def _children(
    target: str,
    parent: str,
    *,
    order: tuple[str, ...] = ("id",),
    scoped_by: str | None = None,
    capability: Capability | None = None,
) -> Handler:
    def handler(b: Builder, row: str, nodes: list[FieldNode]) -> str:
        if capability is not None and not b.access.can(capability):
            return "'[]'"

        def where(a: str) -> list[str]:
            conditions = [f"{a}.{parent} = {row}.id"]
            scope = b.in_scope(f"{a}.{scoped_by}") if scoped_by is not None else None
            return conditions if scope is None else [*conditions, scope]

        return children(b, target, nodes, where=where, order=lambda a: ", ".join(f"{a}.{c}" for c in order))

    return handler


def _open_count(column: str) -> Handler:
    """Open requests per assignee or team, within the caller's customers (lookups.open_request_counts)."""

    def handler(b: Builder, row: str, nodes: list[FieldNode]) -> str:
        a = b.alias()
        conditions = [f"{a}.{column} = {row}.id", f"{a}.status IN ({_OPEN})"]
        scope = b.in_scope(f"{a}.customer_id")
        if scope is not None:
            conditions.append(scope)
        return f"(SELECT count(*) FROM service_requests {a} WHERE {' AND '.join(conditions)})::text"

    return handler


# ------------------------------------------------------------------ types


def _skills(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    known = ", ".join(literal(t.value) for t in RequestType)
    return (
        f"(SELECT '[' || coalesce(string_agg(to_json(s.skill)::text, ',' ORDER BY s.n), '') || ']' "
        f"FROM unnest({row}.skills) WITH ORDINALITY AS s(skill, n) WHERE s.skill IN ({known}))"
    )


def _agent_teams(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    return children(
        b,
        "Team",
        nodes,
        source=lambda a: f"teams {a} JOIN team_members {a}m ON {a}m.team_id = {a}.id",
        where=lambda a: [f"{a}m.staff_id = {row}.id"],
        order=lambda a: f"{a}.name, {a}.id",
    )


def _team_members(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    return children(
        b,
        "Agent",
        nodes,
        source=lambda a: f"staff {a} JOIN team_members {a}m ON {a}m.staff_id = {a}.id",
        where=lambda a: [f"{a}m.team_id = {row}.id", f"{a}.active"],
        order=lambda a: f"{a}.name, {a}.id",
    )


def _invoice_status(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    from sqlalchemy import literal_column

    return f"to_json({embed(invoice_status_sql(literal_column(b.today())), {INVOICES: row})})::text"  # type: ignore[arg-type]


def _credit(field: str) -> Callable[[Handler], Handler]:
    """auth.permissions.visible_credit_fields: every credit field with READ_CREDIT_DATA, the own
    customer's creditLimit with READ_OWN_CREDIT_LIMIT, else null; always within the caller's scope."""

    def wrap(value: Handler) -> Handler:
        def handler(b: Builder, row: str, nodes: list[FieldNode]) -> str:
            access = b.access
            readable = access.can(Capability.READ_REQUESTS) or access.can(Capability.READ_CUSTOMERS)
            if not readable:
                return "'null'"
            conditions = []
            scope = b.in_scope(f"{row}.id")
            if scope is not None:
                conditions.append(scope)
            if access.can(Capability.READ_CREDIT_DATA):
                pass
            elif (
                field == "creditLimit"
                and access.can(Capability.READ_OWN_CREDIT_LIMIT)
                and access.has_customer_id
            ):
                own = b.shared("customer_id", lambda binding: binding.principal.customer_id, "bigint")
                conditions.append(f"{row}.id = {own}")
            else:
                return "'null'"
            inner = value(b, row, nodes)
            if not conditions:
                return inner
            return f"CASE WHEN {' AND '.join(conditions)} THEN {inner} ELSE 'null' END"

        return handler

    return wrap


def _credit_limit(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    value = money_object(b, nodes, f"{row}.credit_limit_amount", f"coalesce({row}.credit_limit_currency, '')")
    return f"CASE WHEN {row}.credit_limit_amount IS NULL THEN 'null' ELSE {value} END"


def _open_balance(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    a = b.alias()
    element = money_object(b, nodes, f"{a}.total", f"{a}.currency")
    return (
        f"(SELECT '[' || coalesce(string_agg({element}, ',' ORDER BY {a}.currency), '') || ']' FROM "
        f"(SELECT i.currency, sum(i.outstanding) AS total FROM invoices i WHERE i.customer_id = {row}.id "
        f"AND i.outstanding > 0 AND i.voided IS FALSE GROUP BY i.currency) {a})"
    )


def _current_contract(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """lookups.current_contracts: the latest started contract in force today, else the latest."""
    a = b.alias()
    today = b.today()
    value = compile_object(b, "Contract", a, nodes)
    in_force = f"{a}.starts_on <= {today} AND ({a}.ends_on IS NULL OR {a}.ends_on >= {today})"
    return (
        f"coalesce((SELECT {value} FROM contracts {a} WHERE {a}.customer_id = {row}.id ORDER BY "
        f"CASE WHEN {in_force} THEN 0 ELSE 1 END, {a}.starts_on DESC, {a}.id DESC LIMIT 1), 'null')"
    )


def _minutes(column: str) -> Handler:
    return lambda b, row, nodes: f"(floor({row}.{column} / 60.0))::bigint::text"


def _resolution(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    done = (
        f"{row}.status IN ('RESOLVED', 'CLOSED') AND {row}.resolution_code IS NOT NULL "
        f"AND {row}.resolved_at IS NOT NULL AND {row}.resolved_by_id IS NOT NULL"
    )
    members = []
    for key, fields in b.collect("Resolution", nodes).items():
        name = fields[0].name.value
        if name == "code":
            members.append((key, json_text(f"{row}.resolution_code")))
        elif name == "summary":
            members.append((key, json_text(f"coalesce({row}.resolution_summary, '')")))
        elif name == "resolvedAt":
            members.append((key, json_datetime(f"{row}.resolved_at")))
        elif name == "resolvedBy":
            members.append((key, to_one(b, "Agent", f"{row}.resolved_by_id", fields)))
        elif name == "__typename":
            members.append((key, typename("Resolution")))
        else:
            raise Unplannable("unsupported_field", f"Resolution.{name}")
    return f"CASE WHEN {done} THEN {json_object(members)} ELSE 'null' END"


def _decisions(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    return children(
        b,
        "ApprovalDecision",
        nodes,
        source=lambda a: f"approval_decisions {a}",
        where=lambda a: [f"{a}.approval_id = {row}.id"],
        order=lambda a: f"{a}.decided_at, {a}.id",
    )


def _event_comment(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """RequestEvent.comment: INTERNAL comments only for callers who may read them."""
    a = b.alias()
    conditions = [f"{a}.id = {row}.comment_id"]
    if not b.access.can(Capability.READ_INTERNAL_COMMENTS):
        conditions.append(f"{a}.visibility <> 'INTERNAL'")
    value = compile_object(b, "Comment", a, nodes)
    return f"coalesce((SELECT {value} FROM comments {a} WHERE {' AND '.join(conditions)}), 'null')"


def _event_cursor(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """records.events.encode_cursor: URL-safe base64 of "v1:txid:id"."""
    return f"""'"' || cg_cursor('v1:' || {row}.txid::text || ':' || {row}.id::text) || '"'"""


def _attachment_url(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """schema.types.mail.attachment_path: /attachments/<global ID>."""
    encoded = f"encode(convert_to('Attachment:' || {row}.id::text, 'UTF8'), 'base64')"
    return f"""'"/attachments/' || {encoded} || '"'"""


def _request_attachments(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """schema.types.mail.visible_attachments: those of INTERNAL comments for staff only."""
    internal = b.access.can(Capability.READ_INTERNAL_COMMENTS)

    def where(a: str) -> list[str]:
        found = [f"{a}.request_id = {row}.id"]
        if not internal:
            found.append(
                f"NOT EXISTS (SELECT 1 FROM comments {a}c WHERE {a}c.id = {a}.comment_id "
                f"AND {a}c.visibility = 'INTERNAL')"
            )
        return found

    return children(b, "Attachment", nodes, where=where, order=lambda a: f"{a}.id")


def _lazy(name: str) -> Handler:
    """A handler defined in another module of the planner (they refer to each other)."""

    def handler(b: Builder, row: str, nodes: list[FieldNode]) -> str:
        from planner import requests, rules

        found: Handler = getattr(rules if hasattr(rules, name) else requests, name)
        return found(b, row, nodes)

    return handler


def _credit_insight(name: str) -> Handler:
    """A handler of planner.credit (which builds on this module)."""

    def handler(b: Builder, row: str, nodes: list[FieldNode]) -> str:
        from planner import credit

        found: Handler = getattr(credit, name)
        return found(b, row, nodes)

    return handler


HANDLERS: dict[str, dict[str, Handler]] = {
    "ServiceRequest": {
        "id": _id("ServiceRequest"),
        "number": _text("number"),
        "type": _text("type"),
        "channel": _text("channel"),
        "subject": _text("subject"),
        "description": _text("description"),
        "priority": _text("priority"),
        "status": _text("status"),
        "escalated": _bool("escalated"),
        "createdAt": _datetime("created_at"),
        "updatedAt": _datetime("updated_at"),
        "version": _int("version"),
        "customer": _to_one("Customer", "customer_id"),
        "financialImpact": _money("financial_impact_amount", "financial_impact_currency", nullable=True),
        "invoice": _to_one("Invoice", "invoice_id", scoped_by="customer_id"),
        "payment": _to_one("Payment", "payment_id", scoped_by="customer_id"),
        "team": _to_one("Team", "team_id", capability=Capability.READ_TEAMS),
        "assignee": _to_one("Agent", "assignee_id", capability=Capability.READ_TEAMS),
        "sla": _lazy("sla"),
        "approvals": _children("Approval", "request_id", capability=Capability.READ_APPROVALS),
        "adjustments": _children("Adjustment", "request_id"),
        "duplicateOf": _to_one("ServiceRequest", "duplicate_of_id", scoped_by="customer_id"),
        "resolution": _resolution,
        "comments": _lazy("comments"),
        "events": _lazy("events"),
        "availableTransitions": _lazy("available_transitions"),
        "requester": _to_one("Contact", "requester_contact_id"),
        "attachments": _request_attachments,
    },
    "Customer": {
        "id": _id("Customer"),
        "externalRef": _text("external_ref"),
        "name": _text("name"),
        "segment": _text("segment"),
        "country": _text("country"),
        "kycStatus": _text("kyc_status"),
        "kycReviewedAt": _datetime("kyc_reviewed_at"),
        "paymentTermsDays": _int("payment_terms_days"),
        "creditLimit": _credit("creditLimit")(_credit_limit),
        "riskRating": _credit("riskRating")(_text("risk_rating")),
        "paymentBehavior": _credit("paymentBehavior")(_credit_insight("payment_behavior")),
        "financialHealth": _credit("financialHealth")(_credit_insight("financial_health")),
        "openBalance": _open_balance,
        "contract": _current_contract,
        "invoices": _lazy("customer_invoices"),
        "payments": _lazy("customer_payments"),
        "serviceRequests": _lazy("customer_requests"),
        "contacts": _children("Contact", "customer_id", order=("email",)),
    },
    "Contract": {
        "id": _id("Contract"),
        "number": _text("number"),
        "slaTier": _text("sla_tier"),
        "startsOn": _date("starts_on"),
        "endsOn": _date("ends_on"),
        "disputeWindowDays": _int("dispute_window_days"),
        "customer": _to_one("Customer", "customer_id"),
    },
    "Invoice": {
        "id": _id("Invoice"),
        "number": _text("number"),
        "issuedOn": _date("issued_on"),
        "dueOn": _date("due_on"),
        "disputed": _bool("disputed"),
        "customer": _to_one("Customer", "customer_id"),
        "amount": _money("amount", "currency"),
        "outstanding": _money("outstanding", "currency"),
        "status": _invoice_status,
        "payments": _children("Payment", "invoice_id", order=("received_at", "id"), scoped_by="customer_id"),
        "adjustments": _children("Adjustment", "invoice_id"),
        "serviceRequests": _lazy("invoice_requests"),
    },
    "Payment": {
        "id": _id("Payment"),
        "reference": _text("reference"),
        "receivedAt": _datetime("received_at"),
        "status": _text("status"),
        "customer": _to_one("Customer", "customer_id"),
        "invoice": _to_one("Invoice", "invoice_id", scoped_by="customer_id"),
        "amount": _money("amount", "currency"),
    },
    "Adjustment": {
        "id": _id("Adjustment"),
        "kind": _text("kind"),
        "postedAt": _datetime("posted_at"),
        "invoice": _to_one("Invoice", "invoice_id", scoped_by="customer_id"),
        "serviceRequest": _to_one("ServiceRequest", "request_id", scoped_by="customer_id"),
        "amount": _money("amount", "currency"),
        "approval": _to_one("Approval", "approval_id", capability=Capability.READ_APPROVALS),
        "postedBy": _to_one("Agent", "posted_by_id"),
    },
    "Agent": {
        "id": _id("Agent"),
        "name": _text("name"),
        "email": _text("email"),
        "role": _text("role"),
        "approvalLevel": _text("approval_level"),
        "teams": _agent_teams,
        "skills": _skills,
        "openWorkload": _open_count("assignee_id"),
    },
    "Team": {
        "id": _id("Team"),
        "name": _text("name"),
        "members": _team_members,
        "openRequests": _open_count("team_id"),
    },
    "Approval": {
        "id": _id("Approval"),
        "kind": _text("kind"),
        "requiredLevel": _text("required_level"),
        "requiredApprovals": _int("required_approvals"),
        "status": _text("status"),
        "justification": _text("justification"),
        "requestedAt": _datetime("requested_at"),
        "serviceRequest": _to_one("ServiceRequest", "request_id", scoped_by="customer_id"),
        "amount": _money("amount", "currency", nullable=True),
        "requestedBy": _to_one("Agent", "requested_by_id"),
        "decisions": _decisions,
    },
    "ApprovalDecision": {
        "decision": _text("decision"),
        "comment": _text("comment"),
        "decidedAt": _datetime("decided_at"),
        "approver": _to_one("Agent", "approver_id"),
    },
    "Comment": {
        "id": _id("Comment"),
        "body": _text("body"),
        "visibility": _text("visibility"),
        "authorName": _text("author_name"),
        "authorRole": _text("author_role"),
        "createdAt": _datetime("created_at"),
        "channel": _text("channel"),
        "attachments": _children("Attachment", "comment_id"),
    },
    "RequestEvent": {
        "id": _id("RequestEvent"),
        "cursor": _event_cursor,
        "kind": _text("kind"),
        "occurredAt": _datetime("occurred_at"),
        "actorName": _text("actor_name"),
        "fromStatus": _text("from_status"),
        "toStatus": _text("to_status"),
        "serviceRequest": _to_one("ServiceRequest", "request_id", scoped_by="customer_id"),
        "comment": _event_comment,
        "approval": _to_one("Approval", "approval_id", capability=Capability.READ_APPROVALS),
    },
    "SlaPolicy": {
        "id": _id("SlaPolicy"),
        "name": _text("name"),
        "tier": _text("tier"),
        "priority": _text("priority"),
        "firstResponseMinutes": _minutes("first_response_seconds"),
        "resolutionMinutes": _minutes("resolution_seconds"),
        "calendar": _to_one("BusinessCalendar", "calendar_id"),
    },
    "Contact": {
        "id": _id("Contact"),
        "email": _text("email"),
        "name": _text("name"),
        "active": _bool("active"),
        "bouncing": _bool("bouncing"),
        "customer": _to_one("Customer", "customer_id"),
    },
    "Attachment": {
        "id": _id("Attachment"),
        "filename": _text("filename"),
        "contentType": _text("content_type"),
        "size": _int("size"),
        "createdAt": _datetime("created_at"),
        "url": _attachment_url,
    },
    "InboundMail": {
        "id": _id("InboundMail"),
        "messageId": _text("message_id"),
        "from": _text("from_address"),
        "to": lambda b, row, nodes: f"coalesce(array_to_json({row}.to_addresses)::text, 'null')",
        "subject": _text("subject"),
        "receivedAt": _datetime("received_at"),
        "status": _text("status"),
        "reason": _text("reason"),
        "textBody": _text("text_body"),
        "serviceRequest": _to_one("ServiceRequest", "request_id", scoped_by="customer_id"),
        "attachments": _children("Attachment", "inbound_mail_id"),
    },
    "OutboundMail": {
        "id": _id("OutboundMail"),
        "to": lambda b, row, nodes: f"'[' || to_json({row}.recipient)::text || ']'",
        "subject": _text("subject"),
        "status": _text("status"),
        "attempts": _int("attempts"),
        "lastError": _text("last_error"),
        "createdAt": _datetime("created_at"),
        "sentAt": _datetime("sent_at"),
        "serviceRequest": _to_one("ServiceRequest", "request_id", scoped_by="customer_id"),
    },
    "BusinessCalendar": {
        "id": _id("BusinessCalendar"),
        "name": _text("name"),
        "timeZone": _text("time_zone"),
    },
}
