"""The SLA state of a request as SQL, mirroring domain.sla.evaluate for filtering.

BREACHED, PAUSED and MET are exact. AT_RISK needs "80% of the target
elapsed", which domain.sla counts in the policy's business calendar; SQL
cannot walk a calendar, so a request counts as AT_RISK here when the SLA
engine has recorded the at-risk instant of an unmet target, or when the
at-risk instant counted in wall-clock time has passed. For 24x7 policies
that is exact; for business-hours policies the wall-clock instant is never
earlier than the true one, so the filter can lag behind `Sla.state` only
until the SLA engine records the alert (within a second when it runs).
ON_TRACK is everything else (including cancelled requests, as in the domain).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal_column, not_, or_

from db.tables import POLICIES, REQUESTS
from domain.enums import OPEN_STATUSES, RequestStatus, SlaState

__all__ = ["sla_state_condition"]

R = REQUESTS.c
_DONE = (RequestStatus.RESOLVED.value, RequestStatus.CLOSED.value)
_SECOND: ColumnElement[Any] = literal_column("interval '1 second'")


def _at_risk_fraction() -> Decimal:
    try:
        from domain.rules import DEFAULT_RULES

        return Decimal(DEFAULT_RULES.sla.at_risk_fraction)
    except ImportError:  # integrate: domain.rules lands with the SLA rules; LIFECYCLE §3 default.
        return Decimal("0.8")


def _clock(now: datetime) -> ColumnElement[Any]:
    """Where the clocks stopped (pause, resolution, cancellation), else now."""
    stop = case(
        (R.status == RequestStatus.WAITING_ON_CUSTOMER.value, R.paused_at),
        (R.status.in_(_DONE), func.coalesce(R.resolved_at, R.closed_at)),
        (R.status == RequestStatus.CANCELLED.value, R.cancelled_at),
        else_=None,
    )
    return func.least(func.coalesce(stop, now), now)


def _done() -> ColumnElement[bool]:
    return and_(R.status.in_(_DONE), R.resolved_at.is_not(None))


def _breached(now: datetime) -> ColumnElement[bool]:
    clock = _clock(now)
    first = or_(
        R.first_response_breached_at.is_not(None),
        and_(R.first_responded_at.is_not(None), R.first_responded_at > R.first_response_due_at),
        and_(R.first_responded_at.is_(None), clock >= R.first_response_due_at),
    )
    resolution = or_(
        R.resolution_breached_at.is_not(None),
        and_(_done(), R.resolved_at > R.resolution_due_at),
        and_(not_(_done()), clock >= R.resolution_due_at),
    )
    return or_(first, resolution)


def _running_at_risk(now: datetime) -> ColumnElement[bool]:
    fraction = _at_risk_fraction()
    p = POLICIES.c

    def threshold(due: Any, target: Any) -> ColumnElement[Any]:
        rest = target - func.ceil(target * fraction)
        return due - rest * _SECOND

    first = and_(
        R.first_responded_at.is_(None),
        or_(
            R.first_response_at_risk_at.is_not(None),
            threshold(R.first_response_due_at, p.first_response_seconds) <= now,
        ),
    )
    resolution = or_(
        R.resolution_at_risk_at.is_not(None),
        threshold(R.resolution_due_at, p.resolution_seconds) <= now,
    )
    return or_(first, resolution)


def _state(state: SlaState, now: datetime) -> ColumnElement[bool]:
    breached = _breached(now)
    waiting = R.status == RequestStatus.WAITING_ON_CUSTOMER.value
    running = R.status.in_([s.value for s in OPEN_STATUSES if s is not RequestStatus.WAITING_ON_CUSTOMER])
    if state is SlaState.BREACHED:
        return breached
    if state is SlaState.PAUSED:
        return and_(not_(breached), waiting)
    if state is SlaState.MET:
        return and_(not_(breached), not_(waiting), _done())
    at_risk = and_(not_(breached), running, _running_at_risk(now))
    if state is SlaState.AT_RISK:
        return at_risk
    return and_(not_(breached), not_(waiting), not_(_done()), not_(at_risk))


def sla_state_condition(states: Iterable[SlaState], now: datetime) -> ColumnElement[bool]:
    """Requests whose SLA is in one of `states` at `now` (needs sla_policies joined)."""
    wanted = list(dict.fromkeys(states))
    if not wanted:
        return false()
    return or_(*(_state(s, now) for s in wanted))
