"""What one pass of the SLA engine does to the requests it claimed (LIFECYCLE.md §3).

For each claimed (locked) request, at the unit of work's instant: the alerts
that fell due are emitted (SLA_AT_RISK, SLA_BREACHED; each at most once per
request, target and kind, stamped on the row), recorded as events and audit
entries, a resolution breach escalates the request (services.sla.system),
a RESOLVED request past its auto-close delay is closed, and every row gets
its next check (`next_sla_check_at`). The engine (server.sla_engine) decides
when to run and which rows; this module decides what happens to them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from db.repositories.configuration import load_rules
from db.repositories.policies import policy_by_id
from db.repositories.requests import next_sla_check
from db.repositories.sla import SlaStamps, write_sla_stamps
from db.uow import UnitOfWork
from domain.enums import RequestEventKind, RequestStatus, SlaTarget
from domain.lifecycle import auto_close_due
from domain.rules import Rules
from domain.sla import PendingAlert, SlaPolicy, next_alerts
from records.rows import RequestRow
from services.sla.system import auto_close, escalate

__all__ = ["CheckOutcome", "run_checks"]

log = logging.getLogger(__name__)

_K = RequestEventKind
_T = SlaTarget
# The column stamping each alert: at-risk stamps when it was emitted, a breach its instant (the due time).
_STAMP = {
    (_K.SLA_AT_RISK, _T.FIRST_RESPONSE): "first_response_at_risk_at",
    (_K.SLA_AT_RISK, _T.RESOLUTION): "resolution_at_risk_at",
    (_K.SLA_BREACHED, _T.FIRST_RESPONSE): "first_response_breached_at",
    (_K.SLA_BREACHED, _T.RESOLUTION): "resolution_breached_at",
}


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
    owed = next_alerts(row.sla_snapshot(policy), row.alerted_targets())
    due = tuple(a for a in owed if a.at <= now)
    stamps = {_STAMP[a.kind, a.target]: now if a.kind is _K.SLA_AT_RISK else a.due_at for a in due}
    if due:
        # Alerts only run while open: the next check is the first alert still owed after these
        # (what `next_sla_check` gives for the stamped row, without building it again).
        next_at = owed[len(due)].at if len(owed) > len(due) else None
    else:
        next_at = next_sla_check(row, policy, auto_close_after=rules.lifecycle.auto_close_after)
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


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """What one pass did: the alerts emitted, requests escalated and closed."""

    alerts: tuple[PendingAlert, ...]
    escalated: int
    closed: int


async def run_checks(uow: UnitOfWork, *, rows: Sequence[RequestRow]) -> CheckOutcome:
    """Emit, escalate, close and reschedule the claimed `rows` at `uow.now` (the system's unit of work)."""
    session, now = uow.session, uow.now
    rules = await load_rules(session)
    policies = {
        policy_id: (await policy_by_id(session, policy_id=policy_id)).policy
        for policy_id in sorted({row.sla_policy_id for row in rows})
    }
    plans = [_plan(row, policies[row.sla_policy_id], rules, now) for row in rows]
    stamps = [plan.stamps for plan in plans if plan.stamps is not None]
    await write_sla_stamps(session, stamps=stamps, now=now)
    for plan in plans:
        _record(uow, plan)
    # After the stamps: escalation and CLOSE re-read the row and reschedule it themselves.
    escalated = [plan for plan in plans if plan.escalate]
    for plan in escalated:
        await escalate(uow, request_id=plan.row.id)
    closed = 0
    for plan in plans:
        if plan.close and await auto_close(uow, request_id=plan.row.id):
            closed += 1
    return CheckOutcome(
        alerts=tuple(alert for plan in plans for alert in plan.alerts),
        escalated=len(escalated),
        closed=closed,
    )
