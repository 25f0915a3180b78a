"""`casegraph seed-demo`: the demo organisation plus N demo requests (the benchmark data generator).

The organisation goes through the master-data import (`import_master_data`),
exactly as an ERP file would. Requests, their comments, approvals and
events are then generated (demo.requests) in created_at order and
written with PostgreSQL COPY in batches of `batch_size` rows through the
asyncpg connection underneath SQLAlchemy; PostgreSQL computes the
generated columns (priority_rank, search_vector) and the `number` default
(SR-000001 ...), so numbers follow creation time within one run.

Running it again imports the organisation unchanged (same day) and adds N
more requests with the next numbers; nothing is deleted. Given an engine,
the import and every batch commit on their own; given a session, everything
happens in the caller's transaction and the caller commits. The seed
writes no audit entries: it backfills history, it does not act. Seeded
SLA due times use a 24x7 approximation (see demo.requests).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from db.engine import make_sessionmaker
from demo.data import demo_organisation
from demo.requests import (
    APPROVAL_COLUMNS,
    COMMENT_COLUMNS,
    EVENT_COLUMNS,
    REQUEST_COLUMNS,
    Batch,
    RequestGenerator,
)
from demo.world import load_world
from domain.enums import OPEN_STATUSES, RequestStatus
from domain.rules import DEFAULT_RULES
from importer.master_data import ImportSummary, import_master_data

__all__ = ["SeedSummary", "seed_demo"]

HISTORY = timedelta(days=60)
# Guaranteed once per run (when there are at least this many requests), oldest first.
_COVER = [
    RequestStatus.CLOSED,
    RequestStatus.CANCELLED,
    RequestStatus.RESOLVED,
    RequestStatus.PENDING_APPROVAL,
    RequestStatus.WAITING_ON_CUSTOMER,
    RequestStatus.IN_PROGRESS,
    RequestStatus.TRIAGED,
    RequestStatus.NEW,
]


@dataclass
class SeedSummary:
    """What one seed run wrote."""

    organisation: ImportSummary
    requests: int = 0
    comments: int = 0
    approvals: int = 0
    events: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    numbers: tuple[str, str] | None = None  # first and last request number of this run
    seconds: float = 0.0

    def __str__(self) -> str:
        span = f" ({self.numbers[0]} .. {self.numbers[1]})" if self.numbers else ""
        return (
            f"{self.requests} requests{span}, {self.comments} comments, {self.approvals} approvals, "
            f"{self.events} events in {self.seconds:.1f} s; organisation: {self.organisation}"
        )


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _ids(conn: AsyncConnection, table: str, count: int) -> list[int]:
    """`count` fresh values of the table's id sequence (safe beside concurrent inserts).

    Goes through SQLAlchemy on purpose: its first statement opens the transaction that the
    following raw COPY statements then join.
    """
    if count <= 0:
        return []
    sql = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
    return list((await conn.execute(sql, {"t": table, "n": count})).scalars())


class _Pool:
    """Ids taken in bulk; what a batch leaves unused serves the next one."""

    def __init__(self, table: str) -> None:
        self.table, self.ids = table, list[int]()
        self._pos = 0

    async def fill(self, conn: AsyncConnection, need: int) -> None:
        self.ids = self.ids[self._pos :]
        self._pos = 0
        self.ids += await _ids(conn, self.table, need - len(self.ids))

    def __iter__(self) -> _Pool:
        return self

    def __next__(self) -> int:
        self._pos += 1
        return self.ids[self._pos - 1]


@dataclass
class _Plan:
    """One batch to generate: its request ids and creation offsets (seconds after the start)."""

    ids: list[int]
    offsets: list[float]
    forced: dict[int, RequestStatus]


async def _write_batch(raw: Any, batch: Batch, *, skip_fk_checks: bool) -> None:
    """COPY one batch. The rows reference only rows that exist (ids come from the database and
    the batch itself), so a superuser may skip the per-row foreign-key triggers for these four
    statements, as pg_restore --disable-triggers does; that makes the load markedly faster."""
    if skip_fk_checks:
        await raw.execute("SET LOCAL session_replication_role = replica")
    try:
        await raw.copy_records_to_table("service_requests", records=batch.requests, columns=REQUEST_COLUMNS)
        await raw.copy_records_to_table("comments", records=batch.comments, columns=COMMENT_COLUMNS)
        await raw.copy_records_to_table("approvals", records=batch.approvals, columns=APPROVAL_COLUMNS)
        await raw.copy_records_to_table("request_events", records=batch.events, columns=EVENT_COLUMNS)
    finally:
        if skip_fk_checks:
            await raw.execute("SET LOCAL session_replication_role = origin")


async def _finish(conn: AsyncConnection, first_id: int) -> tuple[str, str] | None:
    """Derived facts the generated requests imply: disputed invoices, agents' last assignment."""
    open_statuses = [s.value for s in OPEN_STATUSES]
    await conn.execute(
        text(
            "UPDATE invoices i SET disputed = true WHERE NOT i.disputed AND EXISTS "
            "(SELECT 1 FROM service_requests r WHERE r.invoice_id = i.id "
            "AND r.type = 'BILLING_DISPUTE' AND r.status = ANY(:open))"
        ),
        {"open": open_statuses},
    )
    await conn.execute(
        text(
            "UPDATE staff s SET last_assigned_at = m.t FROM (SELECT assignee_id, max(created_at) AS t "
            "FROM service_requests WHERE id >= :first AND assignee_id IS NOT NULL GROUP BY assignee_id) m "
            "WHERE s.id = m.assignee_id AND (s.last_assigned_at IS NULL OR s.last_assigned_at < m.t)"
        ),
        {"first": first_id},
    )
    row = (
        await conn.execute(
            text("SELECT min(number), max(number) FROM service_requests WHERE id >= :first"),
            {"first": first_id},
        )
    ).one()
    for table in ("service_requests", "request_events", "comments", "approvals"):
        await conn.execute(text(f"ANALYZE {table}"))
    return (row[0], row[1]) if row[0] else None


def _build(
    generator: RequestGenerator, plan: _Plan, start: datetime, comments: _Pool, approvals: _Pool
) -> Batch:
    batch = Batch()
    for i, (request_id, offset) in enumerate(zip(plan.ids, plan.offsets, strict=True)):
        generator.add(
            batch,
            request_id=request_id,
            created=start + timedelta(seconds=offset),
            comment_ids=comments,
            approval_ids=approvals,
            status=plan.forced.get(i),
        )
    return batch


async def _generate(
    conn: AsyncConnection,
    summary: SeedSummary,
    *,
    requests: int,
    now: datetime,
    rng_seed: int,
    batch_size: int,
    commit: bool,
    progress: Callable[[str], None],
) -> None:
    """Generate and COPY the requests batch by batch.

    Batch k+1 is generated in a worker thread while PostgreSQL ingests batch k, so the two
    cores of a small machine both work. With `commit`, every batch is its own transaction.
    """
    rules = DEFAULT_RULES
    world = await load_world(
        conn, today=now.date(), default_dispute_window_days=rules.lifecycle.default_dispute_window_days
    )
    raw = (await conn.get_raw_connection()).driver_connection
    superuser = (await conn.execute(text("SELECT current_setting('is_superuser')"))).scalar_one() == "on"
    generator = RequestGenerator(world, now=now, rng=random.Random(rng_seed), rules=rules)
    rng = random.Random(rng_seed + 1)
    start, span = now - HISTORY, (HISTORY - timedelta(minutes=1)).total_seconds()
    batches = max(1, -(-requests // batch_size)) if requests else 0
    comments, approvals = _Pool("comments"), _Pool("approvals")

    async def plan(b: int) -> _Plan:
        n = requests // batches + (1 if b < requests % batches else 0)
        low, high = span * b / batches, span * (b + 1) / batches
        forced: dict[int, RequestStatus] = {}
        if b == batches - 1 and requests >= len(_COVER):
            forced = {i * n // len(_COVER): s for i, s in enumerate(_COVER)}
        ids = await _ids(conn, "service_requests", n)
        await comments.fill(conn, 5 * n)  # at most five comments per request
        await approvals.fill(conn, n)
        return _Plan(ids, sorted(rng.uniform(low, high) for _ in range(n)), forced)

    statuses: Counter[str] = Counter()
    first_id: int | None = None
    done, started = 0, time.monotonic()
    batch: Batch | None = None
    for b in range(batches):
        if batch is None:
            current = await plan(b)
            first_id = current.ids[0] if current.ids else None
            batch = await asyncio.to_thread(_build, generator, current, start, comments, approvals)
        # A statement through SQLAlchemy opens this batch's transaction before the raw COPY joins it.
        following = None
        if b + 1 < batches:
            following = await plan(b + 1)
        else:
            await conn.execute(text("SELECT 1"))
        writing = asyncio.create_task(_write_batch(raw, batch, skip_fk_checks=superuser))
        try:
            upcoming = (
                await asyncio.to_thread(_build, generator, following, start, comments, approvals)
                if following
                else None
            )
        finally:
            await writing
        if commit:
            await conn.commit()
        done += len(batch.requests)
        statuses.update(batch.statuses)
        summary.comments += len(batch.comments)
        summary.approvals += len(batch.approvals)
        summary.events += len(batch.events)
        rate = done / max(time.monotonic() - started, 1e-6)
        progress(f"seed-demo: {done}/{requests} requests ({rate:,.0f}/s)")
        batch = upcoming
    summary.requests = done
    summary.by_status = dict(sorted(statuses.items()))
    if first_id is not None:
        summary.numbers = await _finish(conn, first_id)
    if commit:
        await conn.commit()


async def seed_demo(
    target: AsyncEngine | AsyncSession,
    *,
    requests: int,
    now: datetime,
    rng_seed: int = 7,
    batch_size: int = 50_000,
    progress: Callable[[str], None] | None = _stderr,
) -> SeedSummary:
    """Import the demo organisation, then generate `requests` demo requests over the last 60 days.

    `target` is an engine (each step commits) or a session (the caller commits). Deterministic
    for a given `now` and `rng_seed` on an empty database. Progress lines go to `progress`.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if requests < 0 or batch_size < 1:
        raise ValueError("requests must be >= 0 and batch_size >= 1")
    started = time.monotonic()
    report = progress or (lambda _message: None)
    organisation = demo_organisation(now.date())
    if isinstance(target, AsyncSession):
        summary = SeedSummary(await import_master_data(target, organisation))
        conn = await target.connection()
        await _generate(
            conn, summary, requests=requests, now=now, rng_seed=rng_seed, batch_size=batch_size,
            commit=False, progress=report,
        )  # fmt: skip
    else:
        async with make_sessionmaker(target)() as session:
            summary = SeedSummary(await import_master_data(session, organisation))
            await session.commit()
        async with target.connect() as conn:
            await _generate(
                conn, summary, requests=requests, now=now, rng_seed=rng_seed, batch_size=batch_size,
                commit=True, progress=report,
            )  # fmt: skip
    summary.seconds = time.monotonic() - started
    return summary
