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
from datetime import UTC, datetime
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

    def customer_pks(self, who: Who) -> set[int] | None:
        """The customers the principal sees; None: all of them."""
        return {self.customer_refs[r] for r in who.customers} if who.customers else None

    def ids(self, type_name: str, who: Who, *, foreign: bool = False) -> list[str]:
        """IDs of `type_name` inside the principal's scope (or, `foreign`, outside it when it has one)."""
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
    words = sorted({w.strip(",.").lower() for s in subjects for w in s.split() if len(w) > 5})
    return Pool(by_type=by_type, customer_refs=refs, numbers=numbers, words=words)


# ----------------------------------------------------------------- the pair ----


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any  # the parsed JSON, key order kept

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
        return Answer(response.status_code, response.headers.get("content-type", ""), body)

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
# paths): the webhook delivery log.
# The list can only shrink: a document planned now fails the test until it is taken off.
UNPLANNED_DOCUMENTS = frozenset({"PartnerWebhookDeliveries", "PartnerWebhookEndpoints"})
