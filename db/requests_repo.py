"""Service-request writes and the facts the lifecycle rules need (keyword-only async functions).

Every transaction that changes a request calls `lock_request` FIRST, so the
per-request event order equals the commit order (db/events.py relies on it).
The SLA clock and the transition guards read the same facts through
`request_facts` and `sla_snapshot`: the mutations and the read side
(`availableTransitions`, `Sla`) must build them with these functions only.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, and_, cast, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BusinessRules, ExchangeRate
from db.queries.financial_health import effective_risk_ratings
from db.queries.lookups import current_contracts
from db.tables import (
    ADJUSTMENTS,
    APPROVALS,
    CALENDARS,
    COMMENTS,
    CUSTOMERS,
    INVOICES,
    PAYMENTS,
    POLICIES,
    REQUESTS,
    STAFF,
    TEAM_MEMBERS,
    TEAMS,
    columns,
)
from domain.calendar import calendar_from_json
from domain.capture import InvoiceFacts, PaymentFacts
from domain.enums import (
    OPEN_STATUSES,
    ApprovalStatus,
    Priority,
    RequestEventKind,
    RequestStatus,
    RequestType,
    RiskRating,
    SlaTarget,
    SlaTier,
)
from domain.lifecycle import RequestFacts
from domain.routing import Candidate
from domain.rules import DEFAULT_RULES, Rules, parse_rules
from domain.sla import SlaPolicy, SlaSnapshot, next_check_at
from records.rows import CustomerRow, InvoiceRow, PaymentRow, RequestRow

__all__ = [
    "CustomerFacts",
    "LoadedPolicy",
    "StaffMember",
    "alerted_targets",
    "cancel_pending_approvals",
    "capture_facts",
    "changed",
    "clear_dispute_unless_open",
    "customer_facts",
    "exchange_rates",
    "find_idempotent_request",
    "has_pending_approval",
    "has_posted_adjustment",
    "insert_comment",
    "insert_request",
    "invoice_row",
    "load_rules",
    "lock_idempotency_key",
    "lock_request",
    "mark_assigned",
    "merged",
    "next_sla_check",
    "payment_row",
    "policy_by_id",
    "policy_for",
    "request_facts",
    "routing_candidates",
    "save_idempotency_key",
    "set_invoice_disputed",
    "sla_snapshot",
    "staff_member",
    "team_by_id",
    "team_by_name",
    "team_ids_of",
    "update_request",
    "utc_today",
]

R = REQUESTS.c
_OPEN = [s.value for s in OPEN_STATUSES]
_ROW_FIELDS = frozenset(f.name for f in fields(RequestRow))


# ------------------------------------------------------------- shared facts ----


def request_facts(row: RequestRow, *, has_pending_approval: bool) -> RequestFacts:
    """The lifecycle's view of a request: THE one place mutations and `availableTransitions` build it."""
    return RequestFacts(
        status=RequestStatus(row.status),
        customer_id=row.customer_id,
        version=row.version,
        assignee_id=row.assignee_id,
        resolved_at=row.resolved_at,
        has_pending_approval=has_pending_approval,
    )


def sla_snapshot(row: RequestRow, policy: SlaPolicy) -> SlaSnapshot:
    """The SLA clock's view of a request's stored columns."""
    return SlaSnapshot(
        status=RequestStatus(row.status),
        policy=policy,
        first_response_due_at=row.first_response_due_at,
        resolution_due_at=row.resolution_due_at,
        first_responded_at=row.first_responded_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        cancelled_at=row.cancelled_at,
        paused_at=row.paused_at,
        first_response_breached_at=row.first_response_breached_at,
        resolution_breached_at=row.resolution_breached_at,
    )


def alerted_targets(row: RequestRow) -> frozenset[tuple[RequestEventKind, SlaTarget]]:
    """The SLA alerts already emitted for a request (the engine stamps one column per alert)."""
    stamps = (
        (row.first_response_at_risk_at, RequestEventKind.SLA_AT_RISK, SlaTarget.FIRST_RESPONSE),
        (row.resolution_at_risk_at, RequestEventKind.SLA_AT_RISK, SlaTarget.RESOLUTION),
        (row.first_response_breached_at, RequestEventKind.SLA_BREACHED, SlaTarget.FIRST_RESPONSE),
        (row.resolution_breached_at, RequestEventKind.SLA_BREACHED, SlaTarget.RESOLUTION),
    )
    return frozenset((kind, target) for stamp, kind, target in stamps if stamp is not None)


def next_sla_check(
    row: RequestRow, policy: SlaPolicy, *, auto_close_after: timedelta | None = None
) -> datetime | None:
    """`next_sla_check_at` for a request in this state (the SLA engine's index).

    A RESOLVED request is due for auto-close `auto_close_after` (None: the shipped
    rules' 7 days) after its resolution: the SLA engine closes it then.
    """
    if row.status == RequestStatus.RESOLVED.value and row.resolved_at is not None:
        return row.resolved_at + (auto_close_after or DEFAULT_RULES.lifecycle.auto_close_after)
    return next_check_at(sla_snapshot(row, policy), alerted_targets(row))


async def has_pending_approval(session: AsyncSession, *, request_id: int) -> bool:
    """Whether an approval of the request is still PENDING (RESOLVE is refused then)."""
    stmt = select(
        exists().where(
            APPROVALS.c.request_id == request_id, APPROVALS.c.status == ApprovalStatus.PENDING.value
        )
    )
    return bool(await session.scalar(stmt))


async def has_posted_adjustment(session: AsyncSession, *, request_id: int) -> bool:
    """Whether an adjustment was posted on the request (resolution code ADJUSTMENT_POSTED needs one)."""
    return bool(await session.scalar(select(exists().where(ADJUSTMENTS.c.request_id == request_id))))


# ------------------------------------------------------------- the request ----


async def lock_request(session: AsyncSession, *, request_id: int) -> RequestRow | None:
    """The request row, locked FOR UPDATE until the transaction ends (None: no such request)."""
    stmt = select(*columns(REQUESTS, RequestRow)).where(R.id == request_id).with_for_update()
    found = (await session.execute(stmt)).mappings().first()
    return RequestRow.of(found) if found is not None else None


def merged(row: RequestRow, values: Mapping[str, Any]) -> RequestRow:
    """The row as it will read after `values` are written (columns RequestRow does not carry are ignored)."""
    return replace(row, **{k: v for k, v in values.items() if k in _ROW_FIELDS})


async def update_request(
    session: AsyncSession, *, request_id: int, values: Mapping[str, Any], now: datetime
) -> RequestRow:
    """Write `values`, bump `version` by one and stamp `updated_at`; the row as written."""
    stmt = (
        update(REQUESTS)
        .where(R.id == request_id)
        .values(**values, version=R.version + 1, updated_at=now)
        .returning(*columns(REQUESTS, RequestRow))
    )
    return RequestRow.of((await session.execute(stmt)).mappings().one())


async def insert_request(session: AsyncSession, *, values: Mapping[str, Any]) -> RequestRow:
    """Insert a new request; the row as written (number assigned by the database)."""
    stmt = insert(REQUESTS).values(**values).returning(*columns(REQUESTS, RequestRow))
    return RequestRow.of((await session.execute(stmt)).mappings().one())


async def insert_comment(
    session: AsyncSession,
    *,
    request_id: int,
    body: str,
    visibility: str,
    author_subject: str,
    author_name: str,
    author_role: str,
    now: datetime,
) -> int:
    """A new comment's id."""
    stmt = (
        insert(COMMENTS)
        .values(
            request_id=request_id,
            body=body,
            visibility=visibility,
            author_subject=author_subject,
            author_name=author_name,
            author_role=author_role,
            created_at=now,
        )
        .returning(COMMENTS.c.id)
    )
    return int((await session.execute(stmt)).scalar_one())


async def cancel_pending_approvals(session: AsyncSession, *, request_id: int, now: datetime) -> list[int]:
    """Mark the request's PENDING approvals CANCELLED; their ids."""
    stmt = (
        update(APPROVALS)
        .where(APPROVALS.c.request_id == request_id, APPROVALS.c.status == ApprovalStatus.PENDING.value)
        .values(status=ApprovalStatus.CANCELLED.value, decided_at=now)
        .returning(APPROVALS.c.id)
    )
    return sorted(int(i) for i in (await session.execute(stmt)).scalars())


# ----------------------------------------------------------- capture facts ----


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What capture, priority and the SLA policy need of a customer."""

    customer: CustomerRow
    tier: SlaTier | None  # the current contract's tier (None: no contract)
    dispute_window_days: int | None  # None: no contract, the default window applies
    risk: RiskRating  # effective: the worse of the imported rating and the latest statement's


async def customer_facts(
    session: AsyncSession, *, customer_id: int, today: date, rules: Rules
) -> CustomerFacts | None:
    """The customer with its current contract and effective risk (None: no such customer)."""
    stmt = select(*columns(CUSTOMERS, CustomerRow)).where(CUSTOMERS.c.id == customer_id)
    found = (await session.execute(stmt)).mappings().first()
    if found is None:
        return None
    conn = await session.connection()
    contract = (await current_contracts(conn, [customer_id], today)).get(customer_id)
    risk = (await effective_risk_ratings(conn, [customer_id], rules.risk)).get(customer_id)
    customer = CustomerRow.of(found)
    return CustomerFacts(
        customer=customer,
        tier=SlaTier(contract.sla_tier) if contract is not None else None,
        dispute_window_days=contract.dispute_window_days if contract is not None else None,
        risk=risk if risk is not None else RiskRating(customer.risk_rating),
    )


async def invoice_row(session: AsyncSession, *, invoice_id: int) -> InvoiceRow | None:
    """The invoice, if it exists (capture checks whose customer it is)."""
    stmt = select(*columns(INVOICES, InvoiceRow)).where(INVOICES.c.id == invoice_id)
    found = (await session.execute(stmt)).mappings().first()
    return InvoiceRow.of(found) if found is not None else None


async def payment_row(session: AsyncSession, *, payment_id: int) -> PaymentRow | None:
    """The payment, if it exists (capture checks whose customer it is)."""
    stmt = select(*columns(PAYMENTS, PaymentRow)).where(PAYMENTS.c.id == payment_id)
    found = (await session.execute(stmt)).mappings().first()
    return PaymentRow.of(found) if found is not None else None


async def capture_facts(
    session: AsyncSession, *, invoice_id: int | None, payment_id: int | None
) -> tuple[InvoiceFacts | None, PaymentFacts | None]:
    """What capture validation (domain.capture) needs of a request's invoice and payment."""
    invoice = None if invoice_id is None else await invoice_row(session, invoice_id=invoice_id)
    payment = None if payment_id is None else await payment_row(session, payment_id=payment_id)
    return (
        None
        if invoice is None
        else InvoiceFacts(invoice.customer_id, invoice.currency, invoice.outstanding, invoice.issued_on),
        None if payment is None else PaymentFacts(payment.customer_id),
    )


async def load_rules(session: AsyncSession) -> Rules:
    """The configured business rules (table business_rules; shipped defaults for missing sets).

    Read in every transaction that applies them (a change to the table takes effect at once);
    parsed only when their text differs from what was parsed before.
    """
    stmt = select(BusinessRules.name, cast(BusinessRules.rules, Text)).order_by(BusinessRules.name)
    rows = (await session.execute(stmt)).all()
    return _parsed_rules(tuple((str(name), str(data)) for name, data in rows))


@functools.lru_cache(maxsize=8)
def _parsed_rules(rows: tuple[tuple[str, str], ...]) -> Rules:
    return parse_rules({name: json.loads(data) for name, data in rows})


async def exchange_rates(session: AsyncSession) -> dict[str, Decimal]:
    """USD per unit of each configured currency."""
    rows = (await session.execute(select(ExchangeRate.currency, ExchangeRate.usd))).all()
    return {currency: Decimal(usd) for currency, usd in rows}


async def set_invoice_disputed(session: AsyncSession, *, invoice_id: int) -> bool:
    """Flag the invoice disputed; True when it was not flagged before."""
    stmt = (
        update(INVOICES)
        .where(INVOICES.c.id == invoice_id, INVOICES.c.disputed.is_(False))
        .values(disputed=True)
        .returning(INVOICES.c.id)
    )
    return (await session.execute(stmt)).first() is not None


async def clear_dispute_unless_open(session: AsyncSession, *, invoice_id: int, request_id: int) -> bool:
    """Clear `disputed` unless another open billing dispute remains on the invoice; True when cleared."""
    other_open = exists().where(
        R.invoice_id == invoice_id,
        R.id != request_id,
        R.type == RequestType.BILLING_DISPUTE.value,
        R.status.in_(_OPEN),
    )
    stmt = (
        update(INVOICES)
        .where(INVOICES.c.id == invoice_id, INVOICES.c.disputed.is_(True), ~other_open)
        .values(disputed=False)
        .returning(INVOICES.c.id)
    )
    return (await session.execute(stmt)).first() is not None


# -------------------------------------------------------------- SLA policy ----


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    id: int
    policy: SlaPolicy


def _policy_select() -> Any:
    p = POLICIES.c
    c = CALENDARS.c
    return select(
        p.id, p.first_response_seconds, p.resolution_seconds, c.name, c.time_zone, c.weekly_hours, c.holidays
    ).select_from(POLICIES.outerjoin(CALENDARS, c.id == p.calendar_id))


def _loaded(row: Any) -> LoadedPolicy:
    calendar = None
    if row.time_zone is not None:
        calendar = calendar_from_json(row.time_zone, row.weekly_hours, row.holidays or (), name=row.name)
    return LoadedPolicy(row.id, SlaPolicy(row.first_response_seconds, row.resolution_seconds, calendar))


async def policy_for(session: AsyncSession, *, tier: SlaTier | None, priority: Priority) -> LoadedPolicy:
    """The SLA policy of (tier or STANDARD) x priority, with its calendar (None: 24x7)."""
    wanted = (tier or SlaTier.STANDARD).value
    stmt = _policy_select().where(POLICIES.c.tier == wanted, POLICIES.c.priority == priority.value)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise LookupError(f"no SLA policy for {wanted} x {priority}")
    return _loaded(row)


async def policy_by_id(session: AsyncSession, *, policy_id: int) -> LoadedPolicy:
    """The request's stored SLA policy with its calendar."""
    row = (await session.execute(_policy_select().where(POLICIES.c.id == policy_id))).one()
    return _loaded(row)


# ----------------------------------------------------------------- routing ----


async def team_by_name(session: AsyncSession, *, name: str) -> int | None:
    """The id of the team routing named (None: no such team configured)."""
    return await session.scalar(select(TEAMS.c.id).where(TEAMS.c.name == name))


async def team_by_id(session: AsyncSession, *, team_id: int) -> int | None:
    """`team_id` when that team exists."""
    return await session.scalar(select(TEAMS.c.id).where(TEAMS.c.id == team_id))


async def team_ids_of(session: AsyncSession, *, staff_id: int) -> list[int]:
    """The teams a staff member belongs to, lowest id first."""
    stmt = (
        select(TEAM_MEMBERS.c.team_id)
        .where(TEAM_MEMBERS.c.staff_id == staff_id)
        .order_by(TEAM_MEMBERS.c.team_id)
    )
    return [int(i) for i in (await session.execute(stmt)).scalars()]


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    role: str
    active: bool


async def staff_member(session: AsyncSession, *, staff_id: int) -> StaffMember | None:
    """A staff member's role and whether they are active (None: no such staff member)."""
    stmt = select(STAFF.c.id, STAFF.c.role, STAFF.c.active).where(STAFF.c.id == staff_id)
    row = (await session.execute(stmt)).first()
    return StaffMember(row.id, row.role, row.active) if row is not None else None


async def routing_candidates(session: AsyncSession, *, team_id: int) -> list[Candidate]:
    """The team's members with their open workload, locked so concurrent routings queue up.

    The lock (staff rows, in id order) makes the second of two concurrent
    routings count the first one's assignment instead of picking the same agent.
    """
    members = select(TEAM_MEMBERS.c.staff_id).where(TEAM_MEMBERS.c.team_id == team_id)
    locked = select(STAFF.c.id).where(STAFF.c.id.in_(members)).order_by(STAFF.c.id).with_for_update()
    await session.execute(locked)
    workload = (
        select(func.count())
        .where(and_(R.assignee_id == STAFF.c.id, R.status.in_(_OPEN)))
        .correlate(STAFF)
        .scalar_subquery()
    )
    stmt = select(
        STAFF.c.id, STAFF.c.skills, STAFF.c.active, STAFF.c.last_assigned_at, workload.label("open")
    ).where(STAFF.c.id.in_(members))
    return [
        Candidate(
            staff_id=row.id,
            skills=tuple(row.skills or ()),
            open_workload=int(row.open),
            last_assigned_at=row.last_assigned_at,
            active=row.active,
        )
        for row in (await session.execute(stmt)).all()
    ]


async def mark_assigned(session: AsyncSession, *, staff_id: int, now: datetime) -> datetime | None:
    """Stamp `last_assigned_at` (routing's tie-breaker); the previous value."""
    previous = await session.scalar(select(STAFF.c.last_assigned_at).where(STAFF.c.id == staff_id))
    await session.execute(update(STAFF).where(STAFF.c.id == staff_id).values(last_assigned_at=now))
    return previous


# ------------------------------------------------------------- idempotency ----


async def lock_idempotency_key(session: AsyncSession, *, subject: str, key: str) -> None:
    """Serialize concurrent retries of one (subject, key) until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": "idempotency:" + json.dumps([subject, key])},
    )


async def find_idempotent_request(session: AsyncSession, *, subject: str, key: str) -> tuple[int, str] | None:
    """(request id, input hash) stored for (subject, key), if any."""
    row = (
        await session.execute(
            text("SELECT request_id, input_hash FROM idempotency_keys WHERE subject = :s AND key = :k"),
            {"s": subject, "k": key},
        )
    ).first()
    return (int(row.request_id), str(row.input_hash)) if row is not None else None


async def save_idempotency_key(
    session: AsyncSession, *, subject: str, key: str, input_hash: str, request_id: int, now: datetime
) -> bool:
    """Remember the request created for (subject, key); False when the key was taken meanwhile."""
    result = await session.execute(
        text(
            "INSERT INTO idempotency_keys (subject, key, input_hash, request_id, created_at) "
            "VALUES (:s, :k, :h, :r, :now) ON CONFLICT (subject, key) DO NOTHING RETURNING request_id"
        ),
        {"s": subject, "k": key, "h": input_hash, "r": request_id, "now": now},
    )
    return result.first() is not None


def utc_today(now: datetime) -> date:
    """The business date of an instant (UTC)."""
    return now.astimezone(UTC).date()


def changed(
    before: RequestRow, after: RequestRow, names: Sequence[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Audit before/after of the columns that differ (or of `names`)."""
    keys = names if names is not None else [f.name for f in fields(RequestRow)]
    diff = [k for k in keys if getattr(before, k) != getattr(after, k)]
    return {k: getattr(before, k) for k in diff}, {k: getattr(after, k) for k in diff}
