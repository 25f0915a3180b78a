"""SLA clocks as pure functions of the request's timeline, its policy and `now`.

Due times are stored on the request and moved only by pauses (and restarted
on reopen); everything else here (state, remaining seconds, breach instants,
the alerts still owed) is derived from them, so the GraphQL view, the SLA
engine and the mutations cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain.calendar import BusinessCalendar, add_business_seconds, business_seconds_between
from domain.enums import OPEN_STATUSES, RequestEventKind, RequestStatus, SlaState, SlaTarget
from domain.rules import DEFAULT_RULES, SlaRules

__all__ = [
    "DueTimes",
    "PendingAlert",
    "Resumed",
    "SlaPolicy",
    "SlaSnapshot",
    "SlaView",
    "at_risk_instant",
    "evaluate",
    "initial_due_times",
    "next_alerts",
    "next_check_at",
    "paused_business_seconds",
    "rederive_due_times",
    "reopened_resolution_due",
    "resume_due_times",
    "resume_shift",
]

_SECOND = timedelta(seconds=1)
_DONE = frozenset({RequestStatus.RESOLVED, RequestStatus.CLOSED})


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets in seconds, counted in `calendar` (None: 24x7)."""

    first_response_seconds: int
    resolution_seconds: int
    calendar: BusinessCalendar | None = None

    def target_seconds(self, target: SlaTarget) -> int:
        """The target's length in business seconds."""
        if target is SlaTarget.FIRST_RESPONSE:
            return self.first_response_seconds
        return self.resolution_seconds


@dataclass(frozen=True, slots=True)
class DueTimes:
    first_response_due_at: datetime
    resolution_due_at: datetime


@dataclass(frozen=True, slots=True)
class SlaSnapshot:
    """What the SLA clock needs of a request (its stored columns and its policy)."""

    status: RequestStatus
    policy: SlaPolicy
    first_response_due_at: datetime
    resolution_due_at: datetime
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    paused_at: datetime | None = None
    first_response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SlaView:
    """The contract's `Sla` state fields."""

    state: SlaState
    remaining_seconds: int | None
    breached_at: datetime | None


@dataclass(frozen=True, slots=True)
class PendingAlert:
    """An SLA alert not emitted yet and the instant it falls due."""

    kind: RequestEventKind  # SLA_AT_RISK or SLA_BREACHED
    target: SlaTarget
    at: datetime
    due_at: datetime


def initial_due_times(*, policy: SlaPolicy, start: datetime) -> DueTimes:
    """Due times of a request created at `start`, counted in the policy's calendar."""
    return DueTimes(
        first_response_due_at=add_business_seconds(policy.calendar, start, policy.first_response_seconds),
        resolution_due_at=add_business_seconds(policy.calendar, start, policy.resolution_seconds),
    )


def rederive_due_times(*, policy: SlaPolicy, created_at: datetime, paused_seconds: int) -> DueTimes:
    """Due times after a priority change at triage: from `createdAt` again, plus the pauses so far.

    `paused_seconds` is the accumulated paused business time (the request's
    `pausedSeconds`), counted in the new policy's calendar.
    """
    due = initial_due_times(policy=policy, start=created_at)
    return DueTimes(
        first_response_due_at=add_business_seconds(
            policy.calendar, due.first_response_due_at, paused_seconds
        ),
        resolution_due_at=add_business_seconds(policy.calendar, due.resolution_due_at, paused_seconds),
    )


def reopened_resolution_due(*, policy: SlaPolicy, now: datetime) -> datetime:
    """On REOPEN the resolution clock restarts from now with the same policy."""
    return add_business_seconds(policy.calendar, now, policy.resolution_seconds)


def at_risk_instant(
    *,
    due_at: datetime,
    target_seconds: int,
    calendar: BusinessCalendar | None,
    rules: SlaRules = DEFAULT_RULES.sla,
) -> datetime:
    """When the at-risk fraction (80%) of a target has elapsed: the due time minus the rest.

    Counted back from the (possibly pause-shifted) due time so pauses carry over.
    """
    elapsed = math.ceil(Decimal(target_seconds) * rules.at_risk_fraction)
    return add_business_seconds(calendar, due_at, -(target_seconds - elapsed))


def paused_business_seconds(
    *, calendar: BusinessCalendar | None, paused_at: datetime, resumed_at: datetime
) -> int:
    """The paused time that counts: open seconds of the calendar (a weekend pause costs nothing)."""
    return max(business_seconds_between(calendar, paused_at, resumed_at), 0)


def resume_shift(
    *, due_at: datetime, paused_at: datetime, resumed_at: datetime, calendar: BusinessCalendar | None
) -> datetime:
    """A due time moved by the business time the request was paused."""
    paused = paused_business_seconds(calendar=calendar, paused_at=paused_at, resumed_at=resumed_at)
    return add_business_seconds(calendar, due_at, paused)


@dataclass(frozen=True, slots=True)
class Resumed:
    due: DueTimes
    paused_seconds: int  # to add to the request's `pausedSeconds`


def resume_due_times(*, snapshot: SlaSnapshot, resumed_at: datetime) -> Resumed:
    """Due times when WAITING_ON_CUSTOMER ends; a met first-response target keeps its due time."""
    if snapshot.paused_at is None:
        due = DueTimes(snapshot.first_response_due_at, snapshot.resolution_due_at)
        return Resumed(due=due, paused_seconds=0)
    calendar = snapshot.policy.calendar
    paused = paused_business_seconds(calendar=calendar, paused_at=snapshot.paused_at, resumed_at=resumed_at)
    first = snapshot.first_response_due_at
    if snapshot.first_responded_at is None:
        first = add_business_seconds(calendar, first, paused)
    resolution = add_business_seconds(calendar, snapshot.resolution_due_at, paused)
    return Resumed(due=DueTimes(first, resolution), paused_seconds=paused)


def _clock(snapshot: SlaSnapshot, now: datetime) -> datetime:
    """The instant up to which the clocks ran: they stop on pause, resolution and cancellation."""
    status = snapshot.status
    stop: datetime | None = None
    if status is RequestStatus.WAITING_ON_CUSTOMER:
        stop = snapshot.paused_at
    elif status in _DONE:
        stop = snapshot.resolved_at or snapshot.closed_at
    elif status is RequestStatus.CANCELLED:
        stop = snapshot.cancelled_at
    return min(stop, now) if stop is not None else now


def _resolution_done(snapshot: SlaSnapshot) -> bool:
    return snapshot.status in _DONE and snapshot.resolved_at is not None


def _breaches(snapshot: SlaSnapshot, clock: datetime) -> dict[SlaTarget, datetime]:
    """Breach instant per breached target (the recorded one, else the due time that passed unmet)."""
    breaches: dict[SlaTarget, datetime] = {}
    first_due = snapshot.first_response_due_at
    responded = snapshot.first_responded_at
    if snapshot.first_response_breached_at is not None:
        breaches[SlaTarget.FIRST_RESPONSE] = snapshot.first_response_breached_at
    elif (responded is not None and responded > first_due) or (responded is None and clock >= first_due):
        breaches[SlaTarget.FIRST_RESPONSE] = first_due
    resolution_due = snapshot.resolution_due_at
    if snapshot.resolution_breached_at is not None:
        breaches[SlaTarget.RESOLUTION] = snapshot.resolution_breached_at
    elif _resolution_done(snapshot):
        assert snapshot.resolved_at is not None
        if snapshot.resolved_at > resolution_due:
            breaches[SlaTarget.RESOLUTION] = resolution_due
    elif clock >= resolution_due:
        breaches[SlaTarget.RESOLUTION] = resolution_due
    return breaches


def _unmet_dues(snapshot: SlaSnapshot, breaches: dict[SlaTarget, datetime]) -> dict[SlaTarget, datetime]:
    """Due time of every target not met (running or breached)."""
    dues: dict[SlaTarget, datetime] = {}
    if snapshot.first_responded_at is None or SlaTarget.FIRST_RESPONSE in breaches:
        dues[SlaTarget.FIRST_RESPONSE] = snapshot.first_response_due_at
    if not _resolution_done(snapshot) or SlaTarget.RESOLUTION in breaches:
        dues[SlaTarget.RESOLUTION] = snapshot.resolution_due_at
    return dues


def evaluate(snapshot: SlaSnapshot, now: datetime) -> SlaView:
    """The SLA state of LIFECYCLE.md §3 at `now`.

    BREACHED is final (also once resolved or cancelled); otherwise PAUSED
    while waiting on the customer, MET once resolved in time, ON_TRACK with
    no remaining time once cancelled, AT_RISK past 80% of a running target.
    `remaining_seconds` counts to the earliest unmet due time from the
    instant the clocks stopped (negative once breached).
    """
    clock = _clock(snapshot, now)
    breaches = _breaches(snapshot, clock)
    dues = _unmet_dues(snapshot, breaches)
    if breaches:
        earliest = min(dues.values())
        return SlaView(SlaState.BREACHED, _seconds(earliest - clock), min(breaches.values()))
    if snapshot.status is RequestStatus.WAITING_ON_CUSTOMER:
        return SlaView(SlaState.PAUSED, None, None)
    if _resolution_done(snapshot):
        return SlaView(SlaState.MET, None, None)
    if snapshot.status not in OPEN_STATUSES:
        return SlaView(SlaState.ON_TRACK, None, None)
    policy = snapshot.policy
    at_risk = any(
        at_risk_instant(due_at=due, target_seconds=policy.target_seconds(target), calendar=policy.calendar)
        <= now
        for target, due in dues.items()
    )
    state = SlaState.AT_RISK if at_risk else SlaState.ON_TRACK
    return SlaView(state, _seconds(min(dues.values()) - now), None)


def _seconds(delta: timedelta) -> int:
    return delta // _SECOND


def next_alerts(
    snapshot: SlaSnapshot, alerted: AbstractSet[tuple[RequestEventKind, SlaTarget]]
) -> list[PendingAlert]:
    """The alerts still owed for the running targets, earliest first (none unless open and not paused).

    `alerted` holds the (kind, target) pairs already emitted: each is emitted
    at most once per request. The engine emits those whose `at` has come.
    """
    if snapshot.status not in OPEN_STATUSES or snapshot.status is RequestStatus.WAITING_ON_CUSTOMER:
        return []
    policy = snapshot.policy
    running: list[tuple[SlaTarget, datetime]] = []
    if snapshot.first_responded_at is None:
        running.append((SlaTarget.FIRST_RESPONSE, snapshot.first_response_due_at))
    running.append((SlaTarget.RESOLUTION, snapshot.resolution_due_at))
    alerts = []
    for target, due in running:
        if (RequestEventKind.SLA_AT_RISK, target) not in alerted:
            at = at_risk_instant(
                due_at=due, target_seconds=policy.target_seconds(target), calendar=policy.calendar
            )
            alerts.append(PendingAlert(RequestEventKind.SLA_AT_RISK, target, at, due))
        if (RequestEventKind.SLA_BREACHED, target) not in alerted:
            alerts.append(PendingAlert(RequestEventKind.SLA_BREACHED, target, due, due))
    # At-risk before breach at equal instants, first response before resolution.
    kinds = {RequestEventKind.SLA_AT_RISK: 0, RequestEventKind.SLA_BREACHED: 1}
    alerts.sort(key=lambda alert: (alert.at, kinds[alert.kind], alert.target is SlaTarget.RESOLUTION))
    return alerts


def next_check_at(
    snapshot: SlaSnapshot, alerted: AbstractSet[tuple[RequestEventKind, SlaTarget]]
) -> datetime | None:
    """The earliest instant an alert falls due (the SLA engine's index); None when nothing is owed."""
    alerts = next_alerts(snapshot, alerted)
    return alerts[0].at if alerts else None
