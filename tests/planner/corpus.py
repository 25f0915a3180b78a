"""The differential corpus: every query operation the SDK ships and every one the test suite writes.

- SDK: the persisted-documents manifest the SDK build writes (each operation with its fragments,
  exactly the text the SDK and the console send), checked against the `.graphql` sources so a
  stale manifest cannot shrink the corpus.
- Test suite: string constants of the test modules (found with `ast`, never imported) that parse
  as GraphQL documents holding a query operation; one entry per query operation.

Variables come from `variables_for`: real values of the seeded database chosen by the variable's
type and name, inside the principal's scope.
"""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    parse,
    print_ast,
    type_from_ast,
)

from schema import ids
from tests.planner.support import NOW, Pool, Who

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "frontend-sdk"
MANIFEST = SDK / "src" / "generated" / "persisted-documents.json"


@dataclass(frozen=True)
class Op:
    """One query operation of a document: where it comes from, the text to send, its name."""

    source: str
    query: str
    operation: str | None
    node: OperationDefinitionNode
    document: DocumentNode


def _query_ops(source: str, text: str, document: DocumentNode) -> Iterator[Op]:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for op in ops:
        if op.operation is OperationType.QUERY:
            name = op.name.value if op.name else None
            yield Op(source, text, name, op, document)


def sdk_operations() -> list[Op]:
    """Every query operation of the SDK's manifest (the portal's, the partner's and the console's)."""
    manifest: dict[str, str] = json.loads(MANIFEST.read_text())
    ops = [op for text in manifest.values() for op in _query_ops("sdk:" + _sdk_name(text), text, parse(text))]
    ops.sort(key=lambda op: op.source)
    return ops


def _sdk_name(text: str) -> str:
    for d in parse(text).definitions:
        if isinstance(d, OperationDefinitionNode) and d.name:
            return d.name.value
    return "?"


def sdk_source_operation_names() -> set[str]:
    """Names of the query operations written in the SDK's `.graphql` files."""
    names = set()
    for path in sorted((SDK / "src" / "operations").rglob("*.graphql")):
        for d in parse(path.read_text()).definitions:
            if isinstance(d, OperationDefinitionNode) and d.operation is OperationType.QUERY and d.name:
                names.add(d.name.value)
    return names


# The differential's own modules (the HARVEST query of the property test is no test of the suite).
OWN = {"conftest.py", "corpus.py", "generate.py", "support.py", "test_differential.py", "test_property.py"}


def suite_operations() -> list[Op]:
    """Query operations in string constants of the test suite's Python files (these modules excepted)."""
    seen: set[str] = set()
    ops: list[Op] = []
    here = Path(__file__).parent
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.parent == here and path.name in OWN:
            continue
        tree = ast.parse(path.read_text(), str(path))
        parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in parts:
                continue
            if "{" not in node.value:
                continue
            try:
                document = parse(node.value)
            except GraphQLError:
                continue
            key = print_ast(document)
            if key in seen:
                continue
            seen.add(key)
            source = f"{path.relative_to(ROOT)}:{node.lineno}"
            ops.extend(_query_ops(source, node.value, document))
    return ops


# ---------------------------------------------------------------- variables ----

PAGING = {"after", "before", "last"}
_ID_ARGS = {
    "customerId": "Customer",
    "teamId": "Team",
    "assigneeId": "Agent",
    "invoiceId": "Invoice",
    "serviceRequestId": "ServiceRequest",
    "entityId": "ServiceRequest",
    "endpointId": "WebhookEndpoint",
}
_ID_KINDS = {name: [kind] for name, kind in _ID_ARGS.items()}


def _type_conditions(
    selection: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> list[str]:
    found: list[str] = []
    for s in selection.selections if selection else ():
        if isinstance(s, InlineFragmentNode) and s.type_condition:
            found.append(s.type_condition.name.value)
        elif isinstance(s, FragmentSpreadNode) and s.name.value in fragments:
            found.append(fragments[s.name.value].type_condition.name.value)
    return found


def id_targets(op: Op) -> dict[str, list[str]]:
    """Variable name -> the object types its IDs should be of, from where the operation uses it."""
    fragments = {d.name.value: d for d in op.document.definitions if isinstance(d, FragmentDefinitionNode)}
    targets: dict[str, list[str]] = {}

    def value(v: ValueNode, key: str, field: FieldNode) -> None:
        if isinstance(v, VariableNode):
            if field.name.value in ("node", "nodes") and key in ("id", "ids"):
                kinds = [t for t in _type_conditions(field.selection_set, fragments) if t != "Node"]
                targets.setdefault(v.name.value, kinds or ["ServiceRequest"])
            elif key in _ID_ARGS:
                targets.setdefault(v.name.value, [_ID_ARGS[key]])
        elif isinstance(v, ObjectValueNode):
            for f in v.fields:
                value(f.value, f.name.value, field)
        elif isinstance(v, ListValueNode):
            for item in v.values:
                value(item, key, field)

    def walk(selection: SelectionSetNode | None) -> None:
        for s in selection.selections if selection else ():
            if isinstance(s, FieldNode):
                for arg in s.arguments or ():
                    value(arg.value, arg.name.value, s)
                walk(s.selection_set)
            elif isinstance(s, InlineFragmentNode):
                walk(s.selection_set)

    walk(op.node.selection_set)
    for fragment in fragments.values():
        walk(fragment.selection_set)
    return targets


class Filler:
    """Chooses values for an operation's variables from the seeded database, for one principal."""

    def __init__(self, schema: GraphQLSchema, pool: Pool, who: Who, rng: random.Random) -> None:
        self.schema, self.pool, self.who, self.rng = schema, pool, who, rng

    def ids(self, kinds: list[str], count: int) -> list[str]:
        chosen: list[str] = []
        for i in range(count):
            candidates = self.pool.ids(kinds[i % len(kinds)], self.who)
            if candidates:
                chosen.append(self.rng.choice(candidates))
        return chosen or [self.rng.choice(self.pool.ids("ServiceRequest", self.who))]

    def value(self, type_: GraphQLInputType, name: str, kinds: list[str] | None) -> Any:
        if isinstance(type_, GraphQLNonNull):
            return self.value(type_.of_type, name, kinds)
        if isinstance(type_, GraphQLList):
            inner = type_.of_type
            base = inner.of_type if isinstance(inner, GraphQLNonNull) else inner
            if isinstance(base, GraphQLScalarType) and base.name == "ID":
                return self.ids(kinds or ["ServiceRequest"], 3)
            if isinstance(base, GraphQLEnumType):
                return self.rng.sample(list(base.values), k=min(2, len(base.values)))
            return [self.value(inner, name, kinds)]
        if isinstance(type_, GraphQLEnumType):
            return self.rng.choice(list(type_.values))
        if isinstance(type_, GraphQLInputObjectType):
            fields = type_.fields
            required = [n for n, f in fields.items() if isinstance(f.type, GraphQLNonNull)]
            optional = [n for n in fields if n not in required]
            picked = required + (self.rng.sample(optional, k=1) if optional else [])
            return {n: self.value(fields[n].type, n, _ID_KINDS.get(n)) for n in picked}
        assert isinstance(type_, GraphQLScalarType)
        return self.scalar(type_.name, name, kinds)

    def scalar(self, type_name: str, name: str, kinds: list[str] | None) -> Any:
        if type_name == "ID":
            return self.ids(kinds or [_ID_ARGS.get(name, "ServiceRequest")], 1)[0]
        if type_name == "Int":
            return 3
        if type_name == "Boolean":
            return True
        if type_name == "DateTime":
            return (NOW - timedelta(days=14)).isoformat().replace("+00:00", "Z")
        if type_name == "Date":
            return (NOW - timedelta(days=14)).date().isoformat()
        if type_name == "Decimal":
            return "100.00"
        if type_name == "Float":
            return 1.5
        if name == "number":
            return self.pool.number(self.who, self.rng)
        return self.rng.choice(self.pool.words) if self.pool.words else "invoice"

    def variables(self, op: Op) -> dict[str, Any] | None:
        """Values for every variable without a default, paging variables (after, before, last) null."""
        targets = id_targets(op)
        values: dict[str, Any] = {}
        for definition in op.node.variable_definitions or ():
            name = definition.variable.name.value
            if definition.default_value is not None or name in PAGING:
                continue
            type_ = type_from_ast(self.schema, definition.type)
            if type_ is None:  # an unknown type: the document is invalid, both paths must say so
                continue
            values[name] = self.value(type_, name, targets.get(name))  # type: ignore[arg-type]
        return values or None


def first_cursor(body: Any) -> str | None:
    """The first `endCursor` (else edge `cursor`) in a response, depth first."""
    found: dict[str, str] = {}

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, item in v.items():
                if k in ("endCursor", "cursor") and isinstance(item, str):
                    found.setdefault(k, item)
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(body)
    return found.get("endCursor") or found.get("cursor")


def paging_rounds(op: Op, base: dict[str, Any] | None, cursor: str | None) -> list[dict[str, Any]]:
    """Further variable sets for an operation declaring $after / $before, from a cursor it answered."""
    declared = {d.variable.name.value for d in op.node.variable_definitions or ()}
    if cursor is None:
        return []
    rounds = []
    if "after" in declared:
        rounds.append({**(base or {}), "after": cursor})
    if "before" in declared:
        backwards = {**(base or {}), "before": cursor}
        if "last" in declared:
            backwards["last"] = 2
            if "first" in declared:
                backwards["first"] = None  # over the operation's default page size
        rounds.append(backwards)
    return rounds


# ------------------------------------------------------- the planner's own ----

_WEBHOOK_ENDPOINT = "id url description eventKinds enabled disabledReason createdAt ownerClientId"
_EVENT = (
    "id cursor kind occurredAt actorName fromStatus toStatus serviceRequest { number customer { name } } "
    "comment { body visibility } approval { id status }"
)
_AUDIT_ENTRY = (
    "__typename id sequence occurredAt actorSubject action entityType entityId before after hash previousHash"
)
_PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

# Operations written for fields the SDK and the suite reach only in one or two shapes: every field,
# pages from a cursor (`$after`), counts alone, filters (an empty one too), IDs of another caller's
# row or of another type. The seeded rows they read are made by tests.planner.support.
PLANNER_QUERIES: dict[str, str] = {
    "webhook-endpoints": f"""query WebhookEndpointsPage($first: Int, $after: String) {{
      webhookEndpoints(first: $first, after: $after) {{
        totalCount {_PAGE_INFO} __typename
        edges {{ cursor node {{ __typename {_WEBHOOK_ENDPOINT} }} }}
      }}
    }}""",
    "webhook-endpoints-count": "query WebhookEndpointCount { webhookEndpoints { totalCount } }",
    "webhook-deliveries": f"""query WebhookDeliveryLog($endpointId: ID!, $first: Int, $after: String) {{
      webhookDeliveries(endpointId: $endpointId, first: $first, after: $after) {{
        totalCount {_PAGE_INFO}
        edges {{ cursor node {{
          id webhookId status attempts nextAttemptAt lastStatusCode lastError lastResponseBody createdAt
          deliveredAt endpoint {{ {_WEBHOOK_ENDPOINT} }} event {{ {_EVENT} }} __typename
        }} }}
      }}
    }}""",
    "webhook-deliveries-status": """query WebhookDeliveriesByStatus(
      $endpointId: ID!, $status: [WebhookDeliveryStatus!], $after: String
    ) {
      webhookDeliveries(endpointId: $endpointId, status: $status, first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id status event { id kind } }
      }
    }""",
    "webhook-deliveries-no-status": """query WebhookDeliveriesNoStatus($endpointId: ID!) {
      none: webhookDeliveries(endpointId: $endpointId, status: []) { totalCount nodes { id } }
      failed: webhookDeliveries(endpointId: $endpointId, status: [FAILED, RETRYING]) { totalCount }
    }""",
    "webhook-deliveries-others": f"""query WebhookDeliveriesOfOthers {{
      other: webhookDeliveries(endpointId: "{ids.encode("WebhookEndpoint", 3)}") {{ totalCount }}
    }}""",
    "webhook-deliveries-admins": f"""query WebhookDeliveriesOfAdmins {{
      admins: webhookDeliveries(endpointId: "{ids.encode("WebhookEndpoint", 4)}", first: 1) {{
        nodes {{ endpoint {{ ownerClientId }} event {{ comment {{ visibility }} }} }}
      }}
    }}""",
    "webhook-deliveries-wrong-type": f"""query WebhookDeliveriesWrongType {{
      webhookDeliveries(endpointId: "{ids.encode("ServiceRequest", 1)}") {{ totalCount }}
    }}""",
    "webhook-deliveries-bad-id": """query WebhookDeliveriesBadId {
      webhookDeliveries(endpointId: "not-an-id") { totalCount }
    }""",
    "audit-log": f"""query AuditLogPage($first: Int, $after: String) {{
      auditLog(first: $first, after: $after) {{
        totalCount {_PAGE_INFO} __typename
        edges {{ cursor node {{ {_AUDIT_ENTRY} }} }}
      }}
    }}""",
    "audit-log-tail": f"""query AuditLogTail {{
      auditLog(first: 20) {{ nodes {{ {_AUDIT_ENTRY} }} }}
      count: auditLog {{ totalCount }}
    }}""",
    "audit-log-entity": f"""query AuditOfEntity($entityId: ID, $after: String) {{
      auditLog(entityId: $entityId, first: 1, after: $after) {{
        totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {_AUDIT_ENTRY} }}
      }}
    }}""",
    "audit-log-spellings": f"""query AuditOfSpellings {{
      request: auditLog(entityId: "{ids.encode("ServiceRequest", 1)}") {{
        totalCount nodes {{ entityType entityId }}
      }}
      endpoint: auditLog(entityId: "{ids.encode("WebhookEndpoint", 42)}") {{
        nodes {{ entityType entityId after }}
      }}
      none: auditLog(entityId: "{ids.encode("Team", 999)}") {{ totalCount nodes {{ id }} }}
    }}""",
    "audit-log-bad-entity": """query AuditOfBadEntity { auditLog(entityId: "not-an-id") { totalCount } }""",
    "audit-entry-node": f"""query AuditEntryNode {{
      node(id: "{ids.encode("AuditEntry", 1)}") {{ id ... on AuditEntry {{ {_AUDIT_ENTRY} }} }}
      nodes(ids: ["{ids.encode("AuditEntry", 2)}", "{ids.encode("AuditEntry", 999999)}"]) {{
        __typename ... on AuditEntry {{ sequence before after }}
      }}
    }}""",
}


# ------------------------------------------------ the planner's own: credit and metrics ----

_PAYMENT_BEHAVIOR = (
    "paymentBehavior { averageDaysToPay latePaymentRatio openDisputes disputesLast90Days "
    "recurringDisputes __typename }"
)
_FINANCIAL_HEALTH = "financialHealth { asOf dscr currentRatio riskRating __typename }"
_DURATION = "{ count averageSeconds p50Seconds p90Seconds }"
_MONEY = "{ amount currency }"
_ALL_METRICS = (
    "from to createdCount resolvedCount openCount byStatus { key count } byType { key count } "
    "byChannel { key count } byPriority { key count __typename } "
    f"firstResponseTime {_DURATION} resolutionTime {_DURATION} approvalTurnaround {_DURATION} "
    "slaCompliance breachedCount atRiskCount backlogAging { label count __typename } "
    f"disputedAmountOpen {_MONEY} adjustmentsPosted {_MONEY} reopenRate __typename"
)

# Documents written for what the planner computes with floats or restricts by role (credit data,
# metrics), run by the differential as every principal: the forbidden callers get the resolver
# path's error, the others the same figures from both paths.
PLANNER_DOCUMENTS: dict[str, str] = {
    "customers with credit data": (
        f"query Credit {{ customers(first: 50) {{ totalCount nodes {{ id externalRef creditLimit {_MONEY} "
        f"riskRating {_PAYMENT_BEHAVIOR} {_FINANCIAL_HEALTH} }} }} }}"
    ),
    "credit data of one customer": (
        f"query CreditOf($id: ID!) {{ node(id: $id) {{ ... on Customer {{ name "
        f"pb: paymentBehavior {{ latePaymentRatio averageDaysToPay }} {_FINANCIAL_HEALTH} }} }} }}"
    ),
    "own credit data": (
        f"query OwnCredit {{ viewer {{ customer {{ id creditLimit {_MONEY} {_PAYMENT_BEHAVIOR} "
        f"{_FINANCIAL_HEALTH} }} }} }}"
    ),
    "credit data of requests' customers": (
        f"query RequestCredit {{ serviceRequests(first: 30) {{ nodes {{ number customer {{ id "
        f"{_PAYMENT_BEHAVIOR} {_FINANCIAL_HEALTH} }} }} }} }}"
    ),
    "metrics, default window": f"query Metrics {{ metrics {{ {_ALL_METRICS} }} }}",
    "metrics, every request": (
        f'query MetricsEver {{ metrics(filter: {{ from: "2000-01-01T00:00:00Z" }}) {{ {_ALL_METRICS} }} }}'
    ),
    "metrics, partial days and an offset": (
        'query MetricsPartial { metrics(filter: { from: "2026-10-20T06:30:00+02:00", '
        f'to: "2026-11-23T09:15:30.250000Z" }}) {{ {_ALL_METRICS} }} }}'
    ),
    "metrics, until a past instant": (
        f'query MetricsUntil {{ metrics(filter: {{ to: "2026-11-10T00:00:00Z" }}) {{ {_ALL_METRICS} }} }}'
    ),
    "metrics, the future": (
        'query MetricsFuture { metrics(filter: { from: "2027-01-01T00:00:00Z", '
        f'to: "2027-02-01T00:00:00Z" }}) {{ {_ALL_METRICS} }} }}'
    ),
    "metrics of a team": (
        "query MetricsTeam($teamId: ID) { metrics(filter: { teamId: $teamId, "
        f'from: "2026-01-01T00:00:00Z" }}) {{ {_ALL_METRICS} }} }}'
    ),
    "metrics of a customer": (
        "query MetricsCustomer($customerId: ID!) { metrics(filter: { customerId: $customerId, "
        f'from: "2026-01-01T00:00:00Z" }}) {{ {_ALL_METRICS} }} }}'
    ),
    "metrics of types": (
        "query MetricsTypes { metrics(filter: { type: [BILLING_DISPUTE, GENERAL_INQUIRY], "
        f'from: "2026-06-01T00:00:00Z" }}) {{ {_ALL_METRICS} }} }}'
    ),
    "metrics of no type": f"query MetricsNoType {{ metrics(filter: {{ type: [] }}) {{ {_ALL_METRICS} }} }}",
    "metrics by a filter variable": (
        f"query MetricsFilter($filter: MetricsFilter) {{ metrics(filter: $filter) {{ {_ALL_METRICS} }} }}"
    ),
    "metrics, a team ID of another type": (
        f'query MetricsWrongType {{ metrics(filter: {{ teamId: "Q3VzdG9tZXI6MQ==" }}) {{ {_ALL_METRICS} }} }}'
    ),
    "metrics, an ID that does not parse": (
        'query MetricsBadId { metrics(filter: { customerId: "not-an-id" }) { openCount } }'
    ),
    "metrics, an empty window": (
        'query MetricsEmpty { metrics(filter: { from: "2026-11-01T00:00:00Z", to: "2026-11-01T00:00:00Z" }) '
        "{ openCount } }"
    ),
    "two windows and more": (
        "query Two { a: metrics { slaCompliance reopenRate firstResponseTime { p50Seconds p90Seconds } } "
        'b: metrics(filter: { from: "2026-09-01T00:00:00Z" }) { ...Figures } viewer { subject } } '
        f"fragment Figures on ServiceMetrics {{ {_ALL_METRICS} }}"
    ),
}


def planner_operations() -> list[Op]:
    """The operations of PLANNER_QUERIES and PLANNER_DOCUMENTS (source `planner:<name>`)."""
    return [
        op
        for source, text in {**PLANNER_QUERIES, **PLANNER_DOCUMENTS}.items()
        for op in _query_ops(f"planner:{source}", text, parse(text))
    ]
