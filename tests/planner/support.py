"""What the read-planner tests share: principals, the seeded ids, the two-app pair and the comparison.

A comparison sends one operation to both apps as one principal and reduces each answer to what a
client relies on: HTTP status, content type, `data` and `errors` (in order, with messages, paths,
locations and codes) and the extensions that do not depend on the caller's remaining budget.
Differences are written to FINDINGS (the planner's to-do list) as minimal reproductions.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from tests.conftest import bearer

if TYPE_CHECKING:
    from tests.conftest import Tokens

# A Monday, mid-day: business-hour SLA clocks are running; the seed's history ends here.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

# Where differences are appended as reproductions when set (a file outside the repository);
# the assertion messages carry the same summary either way.
FINDINGS = Path(os.environ["PLANNER_FINDINGS"]) if os.environ.get("PLANNER_FINDINGS") else None

# Fallback reasons that are planner bugs (a statement PostgreSQL refused, an exception while
# planning), not operations the planner does not cover yet: the answer is right, the plan is not.
PLANNER_BUGS = ("sql_error", "planner_error")
PLANNED = "casegraph_read_planner_planned"
FALLBACKS = "casegraph_read_planner_fallbacks"


@dataclass(frozen=True)
class Who:
    """A principal of the demo organisation: role, token subject, scopes (None: all the role may have)."""

    role: str
    subject: str
    scopes: tuple[str, ...] | None = None
    customers: tuple[str, ...] = ()  # external refs the principal sees; () = all (staff)

    def token(self, tokens: Tokens) -> str:
        scopes = list(self.scopes) if self.scopes is not None else None
        if self.role == "CUSTOMER":
            return tokens.customer(self.subject, scopes=scopes)
        if self.role == "PARTNER":
            return tokens.partner(self.subject, scopes=scopes)
        return tokens.staff(self.subject, self.role, scopes=scopes)


# Every role of ACCESS.md, plus an agent whose token asks for requests:read only (an access class
# that differs from AGENT by scopes alone).
PRINCIPALS: dict[str, Who] = {
    "ADMIN": Who("ADMIN", "admin@example.com"),
    "AGENT": Who("AGENT", "ana.ortiz@example.com"),
    "SUPERVISOR": Who("SUPERVISOR", "daniel.weber@example.com"),
    "FINANCE": Who("FINANCE", "maria.garcia@example.com"),
    "AUDITOR": Who("AUDITOR", "irene.novak@example.com"),
    "AGENT_READ_ONLY": Who("AGENT", "liam.chen@example.com", scopes=("requests:read",)),
    "CUSTOMER": Who("CUSTOMER", "C-1001", customers=("C-1001",)),
    "PARTNER": Who("PARTNER", "erp-connector", customers=("C-1001", "C-1002")),
}


# ------------------------------------------------------------------ seeded ids ----


@dataclass
class Pool:
    """Real values of the seeded database: global IDs per type with their customer, request numbers."""

    by_type: dict[str, list[tuple[str, int | None]]]  # type -> [(global id, customer pk or None)]
    customer_refs: dict[str, int]  # external ref -> pk
    numbers: list[tuple[str, int]]  # request number, customer pk
    words: list[str]  # words of subjects, for searches
    # Webhook endpoints: global id -> the owning partner's client id (None: an ADMIN's endpoint).
    endpoint_owners: dict[str, str | None] = field(default_factory=dict)

    def customer_pks(self, who: Who) -> set[int] | None:
        """The customers the principal sees; None: all of them."""
        return {self.customer_refs[r] for r in who.customers} if who.customers else None

    def ids(self, type_name: str, who: Who, *, foreign: bool = False) -> list[str]:
        """IDs of `type_name` inside the principal's scope (or, `foreign`, outside it when it has one)."""
        if type_name == "WebhookEndpoint" and who.role == "PARTNER":
            # A partner manages its own endpoints (WEBHOOKS.md); staff roles see every one or none.
            owners = self.endpoint_owners
            return [gid for gid, owner in owners.items() if (owner == who.subject) != foreign]
        scope = self.customer_pks(who)
        rows = self.by_type.get(type_name, [])
        if scope is None:
            return [gid for gid, _ in rows]
        inside = [gid for gid, c in rows if c is None or c in scope]
        outside = [gid for gid, c in rows if c is not None and c not in scope]
        return outside if foreign else inside

    def number(self, who: Who, rng: random.Random) -> str:
        scope = self.customer_pks(who)
        return rng.choice([n for n, c in self.numbers if scope is None or c in scope])


# type -> SQL returning (pk, customer pk or NULL)
_ID_SQL = {
    "ServiceRequest": "SELECT id, customer_id FROM service_requests",
    "Customer": "SELECT id, id FROM customers",
    "Invoice": "SELECT id, customer_id FROM invoices",
    "Payment": "SELECT id, customer_id FROM payments",
    "Contract": "SELECT id, customer_id FROM contracts",
    "Comment": "SELECT c.id, r.customer_id FROM comments c JOIN service_requests r ON r.id = c.request_id",
    "Approval": "SELECT a.id, r.customer_id FROM approvals a JOIN service_requests r ON r.id = a.request_id",
    "Adjustment": (
        "SELECT a.id, r.customer_id FROM adjustments a JOIN service_requests r ON r.id = a.request_id"
    ),
    "RequestEvent": "SELECT id, customer_id FROM request_events",
    "Team": "SELECT id, NULL::bigint FROM teams",
    "Agent": "SELECT id, NULL::bigint FROM staff",
    "SlaPolicy": "SELECT id, NULL::bigint FROM sla_policies",
    "BusinessCalendar": "SELECT id, NULL::bigint FROM business_calendars",
    "WebhookEndpoint": "SELECT id, NULL::bigint FROM webhook_endpoints",
    "AuditEntry": "SELECT sequence, NULL::bigint FROM audit_entries",
}


async def load_pool(engine: AsyncEngine) -> Pool:
    async with engine.connect() as conn:
        by_type = {}
        for type_name, sql in _ID_SQL.items():
            rows = (await conn.execute(text(sql + " ORDER BY 1"))).all()
            by_type[type_name] = [(ids.encode(type_name, pk), cust) for pk, cust in rows]
        refs = {r: pk for r, pk in await conn.execute(text("SELECT external_ref, id FROM customers"))}
        requests = await conn.execute(text("SELECT number, customer_id FROM service_requests"))
        numbers = [(n, c) for n, c in requests]
        subjects = (await conn.execute(text("SELECT subject FROM service_requests LIMIT 40"))).scalars()
        owners = await conn.execute(
            text(
                "SELECT e.id, p.client_id FROM webhook_endpoints e "
                "LEFT JOIN partners p ON p.id = e.owner_partner_id ORDER BY e.id"
            )
        )
        endpoint_owners = {ids.encode("WebhookEndpoint", pk): owner for pk, owner in owners}
    words = sorted({w.strip(",.").lower() for s in subjects for w in s.split() if len(w) > 5})
    return Pool(
        by_type=by_type, customer_refs=refs, numbers=numbers, words=words, endpoint_owners=endpoint_owners
    )


# -------------------------------------------------------------- audit data ----

# Audit values as services record them, and what else the write path (db.audit.append_audit, the
# engine's json.dumps) can store and the resolver path can answer: escapes and non-ASCII text,
# keys jsonb reorders (by length, then bytes), nested and empty containers, JSON nulls, ints to the
# edges of 64 bits, floats in fixed and exponent notation and those jsonb turns into ints.
AUDIT_VALUES: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = [
    # (entity type, entity id, before, after)
    ("ServiceRequest", "", {"status": "NEW"}, {"status": "TRIAGED", "priority": "HIGH", "version": 2}),
    ("service_request", "", None, {"number": "SR-000001", "amount": Decimal("1.50"), "currency": "EUR"}),
    (
        "Comment",
        "1",
        None,
        {
            "body": 'quote " backslash \\ slash / tab \t newline \n cr \r bell \x07 del \x7f',
            "unicode": "M\u00fcller \u2013 \u6771\u4eac \U0001f600 \u2028 \u2029 \ufeff",
            "visibility": "INTERNAL",
        },
    ),
    (
        "invoice",
        "7",
        {"b": 1, "a": 2, "aa": 3, "B": 4, "\u00e9": 5, "": 6, "a b": None},
        {"nested": [[1, [2, [], {}]], {"z": 1, "a": [True, False, None]}], "empty": {}, "list": []},
    ),
    (
        "WebhookEndpoint",
        "3",
        {"ints": [0, 100, -7, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 10**18]},
        {
            "floats": [1.5, 1.0, -2.5e-10, 1e-7, 0.00001, 0.0001, 1 / 3, 3.141592653589793, 1e15, 1e16],
            "more": [123456789.123, 1.5e18, 9007199254740993.0, 2.5e-5, -0.0, 0.1 + 0.2, 1e-300],
        },
    ),
    ("webhook_endpoint", "0042", None, {"queued": 3}),
    ("Customer", "C-1001", {"kycStatus": "PENDING"}, {"kycStatus": "VERIFIED"}),
    ("customer_", "12", None, None),
    ("_approval", "5", {"status": "PENDING"}, {"status": "CANCELLED"}),
    ("approval", "12345678901234567890", None, {"status": "APPROVED"}),
    ("lowercase", "9", None, {"x": "y"}),
    ("9Lives", "9", None, {"x": "y"}),
]


async def seed_audit(engine: AsyncEngine) -> None:
    """Audit entries through the write path (chained at commit): one per seeded request, as the
    lifecycle records them, then AUDIT_VALUES."""
    from db.audit import AuditRecord, append_audit
    from db.engine import make_sessionmaker

    async with make_sessionmaker(engine)() as session, session.begin():
        requests = (await session.execute(text("SELECT id, status FROM service_requests ORDER BY id"))).all()
        records = [
            AuditRecord(
                "ana.ortiz@example.com",
                "UPDATE",
                "ServiceRequest",
                str(pk),
                {"status": "NEW"},
                {"status": st},
            )
            for pk, st in requests
        ]
        first = requests[0][0]
        for kind, key, before, after in AUDIT_VALUES:
            records.append(AuditRecord("admin@example.com", "TEST", kind, key or str(first), before, after))
        await append_audit(session, records, now=NOW)


# ------------------------------------------------------------ webhook data ----

# Endpoints of the demo's partner (`erp-connector`, PRINCIPALS["PARTNER"]), of another partner and
# of an ADMIN, with delivery logs: every status, PINGs, retries, errors and response bodies with
# escapes and non-ASCII text; and, for the partner, the event of an INTERNAL comment (which the
# trigger of migration 0013 would not deliver to it): the event is read by id alone, its comment
# is hidden from the partner as everywhere.
_ENDPOINTS = [
    # (owner client id, url, description, kinds, enabled, disabled reason)
    (
        "erp-connector",
        "https://erp.example.com/hooks",
        'ERP \u2013 "prod" hook',
        "{CREATED,STATUS_CHANGED,COMMENTED}",
        True,
        None,
    ),
    ("erp-connector", "https://erp.example.com/old", None, "{CREATED}", False, "HTTP 410 Gone"),
    ("other-connector", "https://crm.example.org/in", "CRM", "{ASSIGNED}", True, None),
    (
        None,
        "https://ops.example.net/all",
        "Everything, for operations",
        "{CREATED,COMMENTED,ESCALATED}",
        True,
        None,
    ),
]
_DELIVERY_STATES = [
    # (status, attempts, next attempt in s, last status code, last error, last response body, delivered)
    ("DELIVERED", 1, None, 200, None, '{"ok":true}', True),
    ("PENDING", 0, 0, None, None, None, False),
    ("RETRYING", 3, 120, 503, "HTTP 503", "Service\tunavailable \u00e9\u00e8 \u6771 \x01 \\ end", False),
    ("FAILED", 11, None, None, "timeout after 10 s", None, False),
    ("DELIVERED", 2, None, 204, None, "", True),
]


async def seed_webhooks(conn: Any) -> None:
    """Webhook endpoints and deliveries in the seeded database (an asyncpg connection)."""
    other = await conn.fetchval(
        "INSERT INTO partners (client_id, name, scopes, active) "
        "VALUES ('other-connector', 'Other Connector', '{requests:read}', true) RETURNING id"
    )
    partners = {"other-connector": other}
    partners["erp-connector"] = await conn.fetchval(
        "SELECT id FROM partners WHERE client_id = 'erp-connector'"
    )
    linked = [
        r["customer_id"]
        for r in await conn.fetch(
            "SELECT customer_id FROM partner_customers WHERE partner_id = $1", partners["erp-connector"]
        )
    ]
    for n, (owner, url, description, kinds, enabled, reason) in enumerate(_ENDPOINTS):
        endpoint = await conn.fetchval(
            "INSERT INTO webhook_endpoints (url, description, event_kinds, enabled, disabled_reason, "
            "owner_partner_id, created_at, created_txid, secret) "
            "VALUES ($1, $2, $3::text::text[], $4, $5, $6, $7, 1, 'plain:whsec_test') RETURNING id",
            url,
            description,
            kinds,
            enabled,
            reason,
            partners.get(owner) if owner else None,
            NOW.replace(month=n + 1),
        )
        if owner == "erp-connector":
            events = await conn.fetch(
                "SELECT e.id, e.request_id, e.txid, e.occurred_at FROM request_events e "
                "WHERE e.customer_id = ANY($1) ORDER BY e.id LIMIT 7",
                linked,
            )
            events += await conn.fetch(
                "SELECT e.id, e.request_id, e.txid, e.occurred_at FROM request_events e "
                "JOIN comments c ON c.id = e.comment_id WHERE c.visibility = 'INTERNAL' "
                "AND e.customer_id = ANY($1) ORDER BY e.id LIMIT 1",
                linked,
            )
        else:
            events = await conn.fetch(
                "SELECT e.id, e.request_id, e.txid, e.occurred_at FROM request_events e "
                "ORDER BY e.id DESC LIMIT $1",
                3 if owner else 6,
            )
        rows: list[Any] = [*events, None]  # and a PING
        for i, event in enumerate(rows):
            status, attempts, next_in, code, error, body, delivered = _DELIVERY_STATES[
                i % len(_DELIVERY_STATES)
            ]
            created = NOW.replace(day=1, hour=i % 24) if event is None else event["occurred_at"]
            await conn.execute(
                "INSERT INTO webhook_deliveries (endpoint_id, event_id, request_id, event_txid, webhook_id, "
                "status, attempts, next_attempt_at, last_status_code, last_error, last_response_body, "
                "created_at, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                endpoint,
                None if event is None else event["id"],
                None if event is None else event["request_id"],
                None if event is None else event["txid"],
                f"msg_{endpoint}_{'ping' if event is None else event['id']}",
                status,
                attempts,
                None
                if next_in is None
                else NOW.replace(microsecond=0) + timedelta(seconds=next_in, microseconds=i),
                code,
                error,
                body,
                created,
                created + timedelta(seconds=1, microseconds=250 * i) if delivered else None,
            )


# ----------------------------------------------------------------- the pair ----


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any  # the parsed JSON, key order kept
    raw: bytes = b""  # the response's bytes

    @property
    def data_bytes(self) -> bytes:
        """The response's bytes up to its `extensions` (written last): the `data` (and `errors`)
        exactly as sent. Parsed JSON hides a float's digits and a string's escapes; these do not."""
        found = self.raw.rfind(b',"extensions":')
        return self.raw if found < 0 else self.raw[:found]

    def same_as(self, other: Answer) -> bool:
        """The same answer: the same reduced JSON and the same bytes of `data`."""
        return self.canonical() == other.canonical() and self.data_bytes == other.data_bytes

    def reduced(self) -> dict[str, Any]:
        """What must be identical between the two paths."""
        body = self.body if isinstance(self.body, dict) else {"<body>": self.body}
        extensions = dict(body.get("extensions") or {})
        cost = extensions.get("cost")
        if isinstance(cost, dict):  # the caller's remaining budget moves with every request
            extensions["cost"] = {k: v for k, v in cost.items() if k not in ("remaining", "resetAt")}
        reduced = {k: v for k, v in body.items() if k != "extensions"}
        if extensions:
            reduced["extensions"] = extensions
        return {"status": self.status, "contentType": self.content_type, "body": reduced}

    def canonical(self) -> str:
        return json.dumps(self.reduced(), ensure_ascii=False)  # key order matters: no sort_keys

    @property
    def error_codes(self) -> list[str | None]:
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        return [(e.get("extensions") or {}).get("code") for e in errors or []]

    @property
    def has_data(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("data") is not None


@dataclass
class Counters:
    planned: float = 0.0
    fallbacks: Counter[str] = field(default_factory=Counter)

    def __sub__(self, other: Counters) -> Counters:
        return Counters(self.planned - other.planned, self.fallbacks - other.fallbacks)

    @property
    def fallback_total(self) -> float:
        return sum(self.fallbacks.values())


@dataclass
class Pair:
    """Two clients, one per app, and a token per principal name."""

    on: httpx.AsyncClient
    off: httpx.AsyncClient
    tokens: dict[str, str]
    marked: Counters | None = None

    async def ask(
        self, client: httpx.AsyncClient, who: str, query: str, variables: Any, operation: str | None
    ) -> Answer:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        if operation is not None:
            payload["operationName"] = operation
        response = await client.post("/graphql", json=payload, headers=bearer(self.tokens[who]))
        try:
            body = json.loads(response.content)
        except ValueError:
            body = {"<text>": response.text[:2000]}
        return Answer(response.status_code, response.headers.get("content-type", ""), body, response.content)

    async def both(
        self, who: str, query: str, variables: Any = None, operation: str | None = None
    ) -> tuple[Answer, Answer]:
        """(planner on, planner off) answers to the same request."""
        on = await self.ask(self.on, who, query, variables, operation)
        off = await self.ask(self.off, who, query, variables, operation)
        return on, off

    async def mark(self) -> None:
        """Remember the counters now (`since_mark` counts from here)."""
        self.marked = await self.counters()

    async def since_mark(self) -> Counters:
        """What the planner counted since the last mark; marks again. One /metrics read per call:
        the `off` app counts nothing (checked by the differential), so runs can be chained."""
        now = await self.counters()
        delta = now - (self.marked or Counters())
        self.marked = now
        return delta

    async def counters(self) -> Counters:
        """The planner's counters as the `on` app's /metrics shows them (process-wide)."""
        response = await self.on.get("/metrics")
        assert response.status_code == 200
        counters = Counters()
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == PLANNED + "_total":
                    counters.planned += sample.value
                elif sample.name == FALLBACKS + "_total":
                    counters.fallbacks[sample.labels.get("reason", "")] += int(sample.value)
        return counters


def planner_present() -> bool:
    """True once the planner package is part of the code base (then it must actually plan)."""
    import importlib.util

    return importlib.util.find_spec("planner") is not None


# ---------------------------------------------------------------- findings ----


def _abbreviated(answer: Answer, limit: int = 1500) -> str:
    text_ = answer.canonical()
    return text_ if len(text_) <= limit else text_[:limit] + f" … ({len(text_)} chars)"


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """The first place where two JSON values differ, as a path and both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path or '/'}: keys {list(a)} vs {list(b)}"
        for k in a:
            if a[k] != b[k] or json.dumps(a[k]) != json.dumps(b[k]):
                return first_difference(a[k], b[k], f"{path}/{k}")
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if json.dumps(x) != json.dumps(y):
                return first_difference(x, y, f"{path}/{i}")
    return f"{path or '/'}: {json.dumps(a)[:300]} (on) vs {json.dumps(b)[:300]} (off)"


def _first_byte_difference(a: bytes, b: bytes) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at byte {at}: {a[max(0, at - 60) : at + 60]!r} (on) vs {b[max(0, at - 60) : at + 60]!r} (off)"


def record_finding(
    source: str,
    who: str,
    query: str,
    variables: Any,
    operation: str | None,
    on: Answer,
    off: Answer,
    *,
    note: str = "",
) -> str:
    """Append a reproduction to FINDINGS (once per document and kind); the summary line.

    Without a `note` the finding is the first difference between the answers; with one (a planner
    log line), the note is the finding even when the answers agree (e.g. a fallback after an error).
    """
    where = note or first_difference(on.reduced(), off.reduced())
    if not note and on.reduced() == off.reduced():
        where = f"bytes differ: {_first_byte_difference(on.data_bytes, off.data_bytes)}"
    summary = f"{source} as {who}: {where}"
    # One entry per document and kind of finding: the first role and variables that showed it.
    key = json.dumps([query, operation, note[:60] if note else "difference"], sort_keys=True)
    marker = f"<!-- {hashlib.sha256(key.encode()).hexdigest()[:12]} -->"
    if FINDINGS is None:
        return summary
    try:
        existing = FINDINGS.read_text() if FINDINGS.exists() else ""
        if marker not in existing:
            with FINDINGS.open("a") as f:
                f.write(
                    f"\n## {source} as {who} {marker}\n"
                    f"- {'planner log' if note else 'first difference'}: `{where}`\n"
                    f"- operationName: `{operation}`\n"
                    f"- variables: `{json.dumps(variables)}`\n\n"
                    f"```graphql\n{query.strip()}\n```\n\n"
                    f"READ_PLANNER=on:\n```json\n{_abbreviated(on)}\n```\n"
                    f"READ_PLANNER=off (reference):\n```json\n{_abbreviated(off)}\n```\n"
                )
    except OSError:  # a read-only location (CI): the assertion message still carries the summary
        pass
    return summary


# Documents the planner does not compile yet, answered by the resolver path (README: Two read
# paths): none today.
# The list can only shrink: a document planned now fails the test until it is taken off.
UNPLANNED_DOCUMENTS: frozenset[str] = frozenset()
