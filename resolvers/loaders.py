"""Request-scoped DataLoaders: one per relation, each batch one Core select.

`Loaders(engine, scope=...)` is built per GraphQL operation (Context.loaders),
so its caches never outlive the operation, and knows the caller's customers:
the relations that could lead outside them (a request, an invoice, a
payment, open workloads) apply that scope in SQL, like every other read.

Sibling resolvers run concurrently and a connection (or an AsyncSession)
must never be used by two tasks at once, so the batches of an operation
take turns on one pooled connection
(`Loaders.connection()`, see `SharedConnection`). Loaders return plain row
records (records.rows), never ORM objects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from strawberry.dataloader import DataLoader

from db.queries import lookups
from db.queries.financial_health import financial_health
from db.queries.mail import requesters
from db.queries.requests import fetch_request_rows
from db.queries.scope import CustomerScope, in_scope
from db.repositories.configuration import load_rules
from db.tables import (
    ADJUSTMENTS,
    APPROVALS,
    ATTACHMENTS,
    CALENDARS,
    COMMENTS,
    CONTACTS,
    CONTRACTS,
    CUSTOMERS,
    DECISIONS,
    INVOICES,
    PAYMENTS,
    POLICIES,
    STAFF,
    TEAMS,
)
from domain.calendar import BusinessCalendar, calendar_from_json
from domain.rules import Rules
from domain.sla import SlaPolicy as DomainSlaPolicy
from records.insight import FinancialHealthRow, PaymentBehaviorRow
from records.mail import AttachmentRow, ContactRow
from records.rows import (
    AdjustmentRow,
    ApprovalRow,
    CalendarRow,
    CommentRow,
    ContractRow,
    CustomerRow,
    DecisionRow,
    InvoiceRow,
    PaymentRow,
    PolicyRow,
    RequestRecord,
    Row,
    StaffRow,
    TeamRow,
)
from reporting.customer_insight import payment_behavior

__all__ = ["Loaders", "SharedConnection", "primer"]

K = TypeVar("K")
V = TypeVar("V")
RowT = TypeVar("RowT", bound=Row)


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


IdentifiedT = TypeVar("IdentifiedT", bound=_Identified)


def primer(loader: DataLoader[int, IdentifiedT | None]) -> Callable[[Sequence[IdentifiedT]], None]:
    """Caches the rows a page fetched in `loader`, by id: their relations then find them there."""
    return lambda rows: loader.prime_many({row.id: row for row in rows})


class SharedConnection:
    """One pooled connection that the reads of an operation in flight together take turns on.

    Sibling fields dispatch their batches in the same loop iteration. Each used to check out
    a connection of its own: with the pool's pre-ping and the implicit transaction that was
    six round trips for one statement, and 32 concurrent operations wanted far more
    connections than the pool holds. Now the first user checks a connection out, the others
    queue on a lock, and the last one out returns it to the pool: nothing is held while the
    operation is busy elsewhere, and a connection is never used by two tasks at once.

    Statements run in autocommit: each reads its own snapshot, exactly as it did alone in a
    READ COMMITTED transaction, and one failing statement cannot abort the next one's
    transaction. A connection that saw an error is not reused.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._lock = asyncio.Lock()
        self._conn: AsyncConnection | None = None
        self._users = 0

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncConnection]:
        """The connection, for this task alone until the block ends (read statements only)."""
        self._users += 1
        try:
            async with self._lock:
                if self._conn is None:
                    conn = await self._engine.connect()
                    try:
                        await conn.execution_options(isolation_level="AUTOCOMMIT")
                    except BaseException:
                        await conn.close()
                        raise
                    self._conn = conn
                try:
                    yield self._conn
                except BaseException:
                    await self._release()
                    raise
        finally:
            self._users -= 1
            if self._users == 0:
                await self._release()

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


class Loaders:
    """All DataLoaders of one operation."""

    def __init__(self, engine: AsyncEngine, *, scope: CustomerScope) -> None:
        self._engine = engine
        self._scope = scope
        self._shared = SharedConnection(engine)
        self._domain_policies: dict[int, DomainSlaPolicy] = {}
        self._rules: asyncio.Task[Rules] | None = None
        self._keyed: dict[Hashable, DataLoader[int, Any]] = {}

    @cached_property
    def customer(self) -> DataLoader[int, CustomerRow | None]:
        return self._by_id(CUSTOMERS, CustomerRow)

    @cached_property
    def contract(self) -> DataLoader[int, ContractRow | None]:
        return self._by_id(CONTRACTS, ContractRow)

    @cached_property
    def invoice(self) -> DataLoader[int, InvoiceRow | None]:
        return self._by_id(INVOICES, InvoiceRow, scoped_by=INVOICES.c.customer_id)

    @cached_property
    def payment(self) -> DataLoader[int, PaymentRow | None]:
        return self._by_id(PAYMENTS, PaymentRow, scoped_by=PAYMENTS.c.customer_id)

    @cached_property
    def staff(self) -> DataLoader[int, StaffRow | None]:
        return self._by_id(STAFF, StaffRow)

    @cached_property
    def team(self) -> DataLoader[int, TeamRow | None]:
        return self._by_id(TEAMS, TeamRow)

    @cached_property
    def policy(self) -> DataLoader[int, PolicyRow | None]:
        return self._by_id(POLICIES, PolicyRow)

    @cached_property
    def calendar(self) -> DataLoader[int, CalendarRow | None]:
        return self._by_id(CALENDARS, CalendarRow)

    @cached_property
    def comment(self) -> DataLoader[int, CommentRow | None]:
        return self._by_id(COMMENTS, CommentRow)

    @cached_property
    def approval(self) -> DataLoader[int, ApprovalRow | None]:
        return self._by_id(APPROVALS, ApprovalRow)

    @cached_property
    def adjustment(self) -> DataLoader[int, AdjustmentRow | None]:
        return self._by_id(ADJUSTMENTS, AdjustmentRow)

    @cached_property
    def service_request(self) -> DataLoader[int, RequestRecord | None]:
        return DataLoader(self._load_requests)

    @cached_property
    def approvals_by_request(self) -> DataLoader[int, list[ApprovalRow]]:
        return self._children(APPROVALS, ApprovalRow, "request_id")

    @cached_property
    def adjustments_by_request(self) -> DataLoader[int, list[AdjustmentRow]]:
        return self._children(ADJUSTMENTS, AdjustmentRow, "request_id")

    @cached_property
    def adjustments_by_invoice(self) -> DataLoader[int, list[AdjustmentRow]]:
        return self._children(ADJUSTMENTS, AdjustmentRow, "invoice_id")

    @cached_property
    def payments_by_invoice(self) -> DataLoader[int, list[PaymentRow]]:
        return self._children(
            PAYMENTS,
            PaymentRow,
            "invoice_id",
            order_by=(PAYMENTS.c.received_at, PAYMENTS.c.id),
            scoped_by=PAYMENTS.c.customer_id,
        )

    @cached_property
    def decisions_by_approval(self) -> DataLoader[int, list[DecisionRow]]:
        return self._children(
            DECISIONS, DecisionRow, "approval_id", order_by=(DECISIONS.c.decided_at, DECISIONS.c.id)
        )

    @cached_property
    def teams_by_staff(self) -> DataLoader[int, list[TeamRow]]:
        return self._grouped(lookups.teams_by_staff)

    @cached_property
    def members_by_team(self) -> DataLoader[int, list[StaffRow]]:
        return self._grouped(lookups.members_by_team)

    @cached_property
    def open_balance(self) -> DataLoader[int, list[tuple[str, Decimal]]]:
        return self._grouped(lookups.open_balances)

    @cached_property
    def current_contract(self) -> DataLoader[tuple[int, date], ContractRow | None]:
        return DataLoader(self._load_current_contracts)

    @cached_property
    def open_workload(self) -> DataLoader[int, int]:
        # Counted within the caller's customers: other customers' requests do not exist for them.
        return DataLoader(self._open_counts("assignee_id"))

    @cached_property
    def team_open_requests(self) -> DataLoader[int, int]:
        return DataLoader(self._open_counts("team_id"))

    @cached_property
    def payment_behavior(self) -> DataLoader[tuple[int, datetime], PaymentBehaviorRow | None]:
        # Credit insight: payment behaviour depends on the operation's clock.
        return DataLoader(self._load_payment_behavior)

    @cached_property
    def financial_health(self) -> DataLoader[int, FinancialHealthRow | None]:
        return DataLoader(self._load_financial_health)

    @cached_property
    def contacts_by_customer(self) -> DataLoader[int, list[ContactRow]]:
        # The email channel: relations of rows the caller already sees.
        return self._children(CONTACTS, ContactRow, "customer_id", order_by=(CONTACTS.c.email,))

    @cached_property
    def requester_by_request(self) -> DataLoader[int, list[ContactRow]]:
        return self._grouped(requesters)

    @cached_property
    def attachments_by_request(self) -> DataLoader[int, list[AttachmentRow]]:
        return self._children(ATTACHMENTS, AttachmentRow, "request_id")

    @cached_property
    def attachments_by_comment(self) -> DataLoader[int, list[AttachmentRow]]:
        return self._children(ATTACHMENTS, AttachmentRow, "comment_id")

    @cached_property
    def attachments_by_inbound(self) -> DataLoader[int, list[AttachmentRow]]:
        return self._children(ATTACHMENTS, AttachmentRow, "inbound_mail_id")

    @cached_property
    def sla_policy(self) -> DataLoader[int, DomainSlaPolicy]:
        # The domain's view of a policy (with its calendar); built from primed rows, no SQL of its own.
        return DataLoader(self._load_sla_policies)

    def keyed(
        self, key: Hashable, batch: Callable[[AsyncConnection, list[int]], Awaitable[Mapping[int, V]]]
    ) -> DataLoader[int, V]:
        """The operation's loader of `batch` (parent ids -> value each) for `key`.

        For nested connections: a customer's invoices asked on every customer of a page is one
        `batch` for all of them, one loader per distinct set of arguments (`key`).
        """
        loader = self._keyed.get(key)
        if loader is None:

            async def load(parents: Sequence[int]) -> list[V]:
                found = await self._run(batch, list(parents))
                return [found[p] for p in parents]

            loader = self._keyed[key] = DataLoader(load)
        return loader

    async def business_rules(self) -> Rules:
        """The stored business rules, read once per operation: what the mutations apply."""
        if self._rules is None:
            self._rules = asyncio.ensure_future(self._run(load_rules))
        return await asyncio.shield(self._rules)

    def connection(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """The operation's read connection, for the caller's task alone until the block ends.

        For read statements only (autocommit); the block must not wait for a loader.
        """
        return self._shared.use()

    async def _run(self, work: Callable[..., Awaitable[V]], *args: Any, **kwargs: Any) -> V:
        """`work(conn, *args)` on the operation's read connection (one batch at a time)."""
        async with self._shared.use() as conn:
            return await work(conn, *args, **kwargs)

    def _by_id(
        self, table: Table, row_type: type[RowT], *, scoped_by: ColumnElement[Any] | None = None
    ) -> DataLoader[int, RowT | None]:
        where = () if scoped_by is None else (in_scope(scoped_by, self._scope),)

        async def load(ids: list[int]) -> list[RowT | None]:
            found = await self._run(lookups.rows_by_ids, table, row_type, ids, where=where)
            return [found.get(i) for i in ids]

        return DataLoader(load)

    def _children(
        self,
        table: Table,
        row_type: type[RowT],
        parent: str,
        order_by: Sequence[Any] = (),
        *,
        scoped_by: ColumnElement[Any] | None = None,
    ) -> DataLoader[int, list[RowT]]:
        where = () if scoped_by is None else (in_scope(scoped_by, self._scope),)

        async def load(ids: list[int]) -> list[list[RowT]]:
            found = await self._run(
                lookups.rows_grouped, table, row_type, parent, ids, order_by=order_by, where=where
            )
            return [found.get(i, []) for i in ids]

        return DataLoader(load)

    def _grouped(
        self, query: Callable[[AsyncConnection, Sequence[int]], Awaitable[dict[int, list[V]]]]
    ) -> DataLoader[int, list[V]]:
        async def load(ids: list[int]) -> list[list[V]]:
            found = await self._run(query, ids)
            return [found.get(i, []) for i in ids]

        return DataLoader(load)

    def _open_counts(self, column: str) -> Callable[[list[int]], Awaitable[list[int]]]:
        async def load(ids: list[int]) -> list[int]:
            found = await self._run(lookups.open_request_counts, column, ids, self._scope)
            return [found.get(i, 0) for i in ids]

        return load

    async def _load_requests(self, ids: list[int]) -> list[RequestRecord | None]:
        records = await self._run(fetch_request_rows, ids, scope=self._scope)
        self.prime_requests(records)
        found = {r.request.id: r for r in records}
        return [found.get(i) for i in ids]

    def prime_requests(self, records: Sequence[RequestRecord]) -> None:
        """Cache requests fetched elsewhere (a page, a node look-up) with their policies and calendars."""
        for record in records:
            self.service_request.prime(record.request.id, record)
            self.policy.prime(record.policy.id, record.policy)
            if record.calendar is not None:
                self.calendar.prime(record.calendar.id, record.calendar)

    async def _load_current_contracts(self, keys: list[tuple[int, date]]) -> list[ContractRow | None]:
        by_day: dict[date, list[int]] = defaultdict(list)
        for customer_id, today in keys:
            by_day[today].append(customer_id)
        found: dict[tuple[int, date], ContractRow] = {}
        for today, ids in by_day.items():
            rows = await self._run(lookups.current_contracts, ids, today)
            found.update({(cid, today): row for cid, row in rows.items()})
        return [found.get(k) for k in keys]

    async def _load_payment_behavior(
        self, keys: list[tuple[int, datetime]]
    ) -> list[PaymentBehaviorRow | None]:
        by_now: dict[datetime, list[int]] = defaultdict(list)
        for customer_id, now in keys:
            by_now[now].append(customer_id)
        found: dict[tuple[int, datetime], PaymentBehaviorRow] = {}
        for now, ids in by_now.items():
            rows = await self._run(payment_behavior, ids, now)
            found.update({(cid, now): row for cid, row in rows.items()})
        return [found.get(k) for k in keys]

    async def _load_financial_health(self, ids: list[int]) -> list[FinancialHealthRow | None]:
        found = await self._run(financial_health, ids)
        return [found.get(i) for i in ids]

    async def _load_sla_policies(self, ids: list[int]) -> list[DomainSlaPolicy]:
        policies = await self.policy.load_many(ids)
        calendar_ids = sorted(
            {p.calendar_id for p in policies if p is not None and p.calendar_id is not None}
        )
        calendars = dict(zip(calendar_ids, await self.calendar.load_many(calendar_ids), strict=True))
        result = []
        for policy_id, policy in zip(ids, policies, strict=True):
            if policy is None:
                raise LookupError(f"SLA policy {policy_id} does not exist")
            row = calendars.get(policy.calendar_id) if policy.calendar_id is not None else None
            result.append(self._domain_policy(policy, row))
        return result

    def sla_policy_of(self, record: RequestRecord) -> DomainSlaPolicy:
        """The domain's view of a request's policy, from the record itself (no await, no SQL).

        The record carries its policy and calendar rows; a page of 50 requests shares a handful
        of policies, so each is built once per operation, as the `sla_policy` loader would.
        """
        return self._domain_policy(record.policy, record.calendar)

    def _domain_policy(self, policy: PolicyRow, calendar_row: CalendarRow | None) -> DomainSlaPolicy:
        cached = self._domain_policies.get(policy.id)
        if cached is not None:
            return cached
        calendar = _calendar_of(calendar_row) if calendar_row is not None else None
        built = DomainSlaPolicy(
            first_response_seconds=policy.first_response_seconds,
            resolution_seconds=policy.resolution_seconds,
            calendar=calendar,
        )
        self._domain_policies[policy.id] = built
        return built


# Domain calendars by their stored form, shared by operations: parsing one (calendar_from_json)
# cost each operation about as much as the SLA of a dozen requests, and a shared calendar keeps
# its per-day span cache warm. An edited calendar has another key; the size is bounded.
_CALENDARS: dict[tuple[object, ...], BusinessCalendar] = {}
_CALENDARS_MAX = 256


def _calendar_of(row: CalendarRow) -> BusinessCalendar:
    key = (row.id, row.name, row.time_zone, repr(row.weekly_hours), tuple(row.holidays))
    calendar = _CALENDARS.get(key)
    if calendar is None:
        if len(_CALENDARS) >= _CALENDARS_MAX:
            _CALENDARS.clear()
        calendar = _CALENDARS[key] = calendar_from_json(
            row.time_zone, row.weekly_hours, row.holidays, name=row.name
        )
    return calendar
