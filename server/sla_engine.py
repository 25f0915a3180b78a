"""The SLA engine: SLA_AT_RISK and SLA_BREACHED at the moment they fall due, escalation on a
resolution breach, and the automatic CLOSE of resolved requests (LIFECYCLE.md §1, §3).

No scan on a timer. Every writer keeps `service_requests.next_sla_check_at` =
the next instant the request needs the engine (an alert's instant, or the
auto-close instant of a RESOLVED request; null when nothing is pending). The
engine reads the earliest of them (partial index) and sleeps exactly until
then; the process's EventHub wakes it early when a user's change commits
(such a change may set an earlier check). When due it claims the due rows
with FOR UPDATE SKIP LOCKED, so with several server processes each row is
handled by exactly one of them, and in ONE transaction per batch: stamps the
emitted alerts (at most once per request, target and kind), records events
and audit entries, escalates or closes, and reschedules each row.

A row a user's transaction holds is skipped and retried after ~50 ms. A
request the engine fails on is retried alone and, if it fails again, looked
at again a minute later, so one bad row never blocks the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import requests_repo as repo
from db import sla_repo
from db.events import EventRow
from db.queries.rows import RequestRow
from db.sla_repo import SlaStamps
from db.uow import ChangeActor, UnitOfWork
from domain.enums import RequestEventKind, RequestStatus, SlaTarget, TransitionAction
from domain.errors import DomainError
from domain.lifecycle import auto_close_due
from domain.rules import Rules
from domain.sla import PendingAlert, SlaPolicy, next_alerts
from resolvers.mutations.request_change import Author
from resolvers.mutations.requests_transitions import TransitionSpec, perform_transition
from resolvers.mutations.system import escalate_within
from server.event_hub import EventHub
from telemetry.spans import traced

__all__ = ["SlaEngine", "SlaEngineStats"]

log = logging.getLogger(__name__)

_SYSTEM = ChangeActor.system()
_K = RequestEventKind
_T = SlaTarget
# The column stamping each alert: at-risk stamps when it was emitted, a breach its instant (the due time).
_STAMP = {
    (_K.SLA_AT_RISK, _T.FIRST_RESPONSE): "first_response_at_risk_at",
    (_K.SLA_AT_RISK, _T.RESOLUTION): "resolution_at_risk_at",
    (_K.SLA_BREACHED, _T.FIRST_RESPONSE): "first_response_breached_at",
    (_K.SLA_BREACHED, _T.RESOLUTION): "resolution_breached_at",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class SlaEngineStats:
    """Counters for metrics, tests and the benchmark."""

    reads: int = 0  # reads of the earliest check
    batches: int = 0  # committed batches
    alerts: int = 0
    escalations: int = 0
    auto_closes: int = 0
    locked_retries: int = 0  # due rows held by another transaction, looked at again shortly
    failures: int = 0
    # Seconds from each alert's instant to the commit that emitted it (the latest 100,000).
    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one pass does to one claimed request."""

    row: RequestRow
    alerts: tuple[PendingAlert, ...] = ()
    stamps: SlaStamps | None = None  # None: closed instead (CLOSE reschedules it)
    escalate: bool = False
    close: bool = False


def _plan(row: RequestRow, policy: SlaPolicy, rules: Rules, now: datetime) -> _Plan:
    """The alerts due at `now`, the stamps recording them, and the request's next check."""
    status = RequestStatus(row.status)
    if auto_close_due(status=status, resolved_at=row.resolved_at, now=now, rules=rules.lifecycle):
        return _Plan(row, close=True)
    owed = next_alerts(repo.sla_snapshot(row, policy), repo.alerted_targets(row))
    due = tuple(a for a in owed if a.at <= now)
    stamps = {_STAMP[a.kind, a.target]: now if a.kind is _K.SLA_AT_RISK else a.due_at for a in due}
    if due:
        # Alerts only run while open: the next check is the first alert still owed after these
        # (what `next_sla_check` gives for the stamped row, without building it again).
        next_at = owed[len(due)].at if len(owed) > len(due) else None
    else:
        next_at = repo.next_sla_check(row, policy, auto_close_after=rules.lifecycle.auto_close_after)
    if next_at is not None and next_at <= now:
        # Cannot happen by the rules (every due alert was emitted); never spin on a row.
        log.warning("request %d: next SLA check %s is not after %s", row.id, next_at, now)
        next_at = now + timedelta(seconds=1)
    return _Plan(
        row,
        alerts=due,
        stamps=SlaStamps(row.id, next_at, changed=bool(due), **stamps),
        escalate=any(a.kind is _K.SLA_BREACHED and a.target is _T.RESOLUTION for a in due),
    )


def _record(uow: UnitOfWork, plan: _Plan) -> None:
    """An event (actor 'system') and an audit entry per emitted alert."""
    row = plan.row
    for alert in plan.alerts:
        column = _STAMP[alert.kind, alert.target]
        uow.event(
            request_id=row.id,
            customer_id=row.customer_id,
            team_id=row.team_id,
            kind=alert.kind.value,
            sla_target=alert.target.value,
            due_at=alert.due_at,
        )
        value = getattr(plan.stamps, column)
        uow.audit(
            alert.kind.value,
            "ServiceRequest",
            row.id,
            {column: None, "version": row.version},
            {
                column: value,
                "version": row.version + 1,
                "slaTarget": alert.target.value,
                "dueAt": alert.due_at,
            },
        )


class SlaEngine:
    """One per server process. Use `async with SlaEngine(...)` or `start()` / `stop()`.

    `hub` (the process's EventHub) wakes the engine when a change commits;
    without it call `wake()` after changes that may set an earlier check.
    `clock` is the application's clock (injectable in tests).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = _utcnow,
        hub: EventHub | None = None,
        batch_size: int = 200,
        locked_retry_delays: Sequence[float] = (0.05, 0.05, 0.1, 0.2, 0.4),
        failure_delays: Sequence[float] = (0.5, 1.0, 2.0, 5.0),
        defer_failed: timedelta = timedelta(minutes=1),
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._hub = hub
        self._batch_size = batch_size
        self._locked_delays = tuple(locked_retry_delays) or (0.05,)
        self._failure_delays = tuple(failure_delays) or (1.0,)
        self._defer_failed = defer_failed
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unhook: Callable[[], None] | None = None
        self._claimed: list[int] = []
        self._due: datetime | None = None
        self.stats = SlaEngineStats()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Hook into the hub, then start the loop (it first handles everything already due)."""
        if self._task is not None:
            raise RuntimeError("SlaEngine already started")
        if self._hub is not None:
            # Before the first read of the earliest check, so no later change goes unnoticed.
            self._unhook = self._hub.on_events(self._on_events)
        self._task = asyncio.create_task(self._run(), name="sla-engine")

    async def stop(self) -> None:
        """Stop the loop (a batch in flight rolls back) and leave the hub."""
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> SlaEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- public API -----------------------------------------------------------------------------

    @property
    def next_due(self) -> datetime | None:
        """The earliest pending check as last read (what the engine sleeps until)."""
        return self._due

    def wake(self) -> None:
        """Re-read the earliest check now (a change may have set an earlier one)."""
        self._dirty.set()

    async def process_due(self, now: datetime | None = None) -> int:
        """Handle every request due at `now` (default: the clock) in this task; the number of
        requests handled. The running loop does this by itself; tests and tools may call it."""
        _, handled = await self._drain(now or self._clock())
        return handled

    # -- the loop -------------------------------------------------------------------------------

    def _on_events(self, rows: Sequence[EventRow]) -> None:
        # Runs in the hub's pump: only set a flag. The engines' own changes (actor 'system')
        # only ever move checks later, so they need no re-read.
        if any(row.actor_subject != _SYSTEM.subject for row in rows):
            self._dirty.set()

    async def _earliest(self) -> datetime | None:
        self._dirty.clear()  # before the read: a change committed after it wakes us again
        async with self._sessionmaker() as session:
            self._due = await sla_repo.earliest_check(session)
        self.stats.reads += 1
        return self._due

    async def _run(self) -> None:
        known, failures, locked = False, 0, 0
        scheduled_closes = False
        while True:
            try:
                if not scheduled_closes:
                    await self._schedule_auto_closes()
                    scheduled_closes = True
                due = self._due if known else await self._earliest()
                now = self._clock()
                if due is not None and due <= now:
                    now, _ = await self._drain(now)
                    due = await self._earliest()
                failures = 0
            except Exception:
                if failures == 0:
                    log.exception("the SLA engine failed; retrying")
                delay: float | None = self._failure_delays[min(failures, len(self._failure_delays) - 1)]
                failures += 1
                self.stats.failures += 1
                known = False
                await self._wait(delay)
                continue
            if due is not None and due <= now:
                # Due at the last claim yet not claimed: another transaction holds the row
                # (a user's mutation, or another engine mid-batch). Look again shortly.
                delay = self._locked_delays[min(locked, len(self._locked_delays) - 1)]
                locked += 1
                self.stats.locked_retries += 1
            else:
                locked = 0
                delay = None if due is None else max((due - self._clock()).total_seconds(), 0.0)
            woken = await self._wait(delay)
            # Woken by a change: the earliest check may have moved. By the timer: it is due now.
            known = not woken

    async def _wait(self, delay: float | None) -> bool:
        """Sleep `delay` seconds (None: until woken); True when woken by a change."""
        if delay is not None and delay <= 0:
            return self._dirty.is_set()
        try:
            await asyncio.wait_for(self._dirty.wait(), delay)
        except TimeoutError:
            return False
        return True

    async def _schedule_auto_closes(self) -> None:
        """Catch-up on start: RESOLVED requests written without their auto-close check."""
        async with self._sessionmaker() as session, session.begin():
            rules = await repo.load_rules(session)
            count = await sla_repo.schedule_auto_closes(
                session, auto_close_after=rules.lifecycle.auto_close_after
            )
        if count:
            log.info("scheduled the auto-close of %d resolved requests", count)

    @traced("sla_engine.drain")
    async def _drain(self, now: datetime) -> tuple[datetime, int]:
        """Handle everything due at `now`, batch after batch; (the last claim's now, rows handled)."""
        handled = 0
        while True:
            claimed = await self._guarded_batch(now)
            handled += claimed
            if claimed < self._batch_size:
                return now, handled
            now = self._clock()

    async def _guarded_batch(self, now: datetime) -> int:
        self._claimed = []
        try:
            return await self._batch(now)
        except Exception:
            claimed = self._claimed
            if not claimed:
                raise  # the claim itself failed: the database is unreachable or broken
            log.exception("the SLA engine failed on a batch of %d requests; one by one now", len(claimed))
            for request_id in claimed:
                await self._single(request_id, now)
            return len(claimed)

    async def _single(self, request_id: int, now: datetime) -> None:
        try:
            await self._batch(now, request_id=request_id)
        except Exception:
            self.stats.failures += 1
            log.exception(
                "the SLA engine failed on request %d; next look in %s", request_id, self._defer_failed
            )
            async with self._sessionmaker() as session, session.begin():
                await sla_repo.defer_check(session, request_id=request_id, until=now + self._defer_failed)

    async def _batch(self, now: datetime, *, request_id: int | None = None) -> int:
        """One transaction: claim, emit, escalate, close, reschedule. The number of rows claimed."""
        async with UnitOfWork(self._sessionmaker, actor=_SYSTEM, now=now, publisher=self._hub) as uow:
            session = uow.session
            rows = await sla_repo.claim_due(session, now=now, limit=self._batch_size, request_id=request_id)
            if not rows:
                return 0
            self._claimed = [row.id for row in rows]
            rules = await repo.load_rules(session)
            policies = {
                policy_id: (await repo.policy_by_id(session, policy_id=policy_id)).policy
                for policy_id in sorted({row.sla_policy_id for row in rows})
            }
            plans = [_plan(row, policies[row.sla_policy_id], rules, now) for row in rows]
            stamps = [plan.stamps for plan in plans if plan.stamps is not None]
            await sla_repo.write_sla_stamps(session, stamps=stamps, now=now)
            for plan in plans:
                _record(uow, plan)
            # After the stamps: escalation and CLOSE re-read the row and reschedule it themselves.
            escalated = [plan for plan in plans if plan.escalate]
            for plan in escalated:
                await escalate_within(uow, request_id=plan.row.id)
            closed = 0
            for plan in plans:
                if plan.close:
                    closed += await self._close(uow, plan.row.id)
            await uow.commit()
        committed = self._clock()
        alerts = [alert for plan in plans for alert in plan.alerts]
        self.stats.batches += 1
        self.stats.alerts += len(alerts)
        self.stats.escalations += len(escalated)
        self.stats.auto_closes += closed
        self.stats.lateness.extend((committed - alert.at).total_seconds() for alert in alerts)
        return len(rows)

    @staticmethod
    async def _close(uow: UnitOfWork, request_id: int) -> int:
        """CLOSE a RESOLVED request as the system inside `uow`; 1 when closed."""
        spec = TransitionSpec(action=TransitionAction.CLOSE, expected_version=None)
        try:
            await perform_transition(uow, request_id=request_id, spec=spec, author=Author.system())
        except DomainError:
            return 0
        return 1
