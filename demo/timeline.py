"""The timeline of one demo request: its path of statuses, comments and SLA instants.

Pure and fast (it runs a million times for the benchmark data): plain
floats for durations, one sort of a handful of steps per request.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from demo.world import Policy
from domain.enums import RequestStatus

__all__ = ["Timeline", "plan_timeline"]

S = RequestStatus
_STATUSES = list(RequestStatus)
# Weights per age band (NEW, TRIAGED, IN_PROGRESS, WAITING, PENDING_APPROVAL, RESOLVED, CLOSED, CANCELLED):
# recent requests are mostly open, old ones mostly closed.
_BANDS: list[tuple[float, list[float]]] = [
    (86_400, [35, 25, 20, 8, 5, 5, 0.5, 2]),
    (3 * 86_400, [8, 15, 30, 14, 10, 15, 3, 5]),
    (7 * 86_400, [2, 5, 18, 12, 8, 35, 12, 6]),
    (float("inf"), [0.2, 0.5, 2.5, 3, 1.5, 8, 78, 6.3]),
]
_CUMULATIVE = [(limit, list(itertools.accumulate(w))) for limit, w in _BANDS]
# Mean time before entering each status, as a share of the policy's first-response (TRIAGED) or
# resolution target (the rest): about one request in ten misses a target, as in a busy team.
_FR_SHARE = 0.45
_RES_SHARE = {
    S.IN_PROGRESS: 0.08,
    S.WAITING_ON_CUSTOMER: 0.1,
    S.PENDING_APPROVAL: 0.1,
    S.RESOLVED: 0.3,
    S.CANCELLED: 0.3,
}
_CLOSE_MEAN = 20 * 3600  # a customer closing a resolved request before the automatic close
_RESUME_MEAN = 30 * 3600  # the customer's answer while WAITING_ON_CUSTOMER
_CANCEL_PREFIXES = [
    [],
    [S.TRIAGED],
    [S.TRIAGED, S.IN_PROGRESS],
    [S.TRIAGED, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER],
]


@dataclass(slots=True)
class Timeline:
    created: datetime
    status: RequestStatus
    steps: list[tuple[datetime, str]] = field(default_factory=list)  # status names, ACK, NOTE, RISK:/BREACH:
    at: dict[str, datetime] = field(default_factory=dict)  # latest entry into each status
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    paused_at: datetime | None = None
    paused_seconds: int = 0
    first_response_at_risk_at: datetime | None = None
    resolution_at_risk_at: datetime | None = None
    first_response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None
    next_sla_check_at: datetime | None = None


def _status_by_age(rng: random.Random, age: float) -> RequestStatus:
    cumulative = next(c for limit, c in _CUMULATIVE if age < limit)
    return _STATUSES[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def _path(rng: random.Random, status: RequestStatus, assigned: bool) -> list[RequestStatus]:
    if status is S.NEW:
        return []
    if status is S.CANCELLED:
        prefixes = _CANCEL_PREFIXES if assigned else _CANCEL_PREFIXES[:2]
        return [*rng.choice(prefixes), S.CANCELLED]
    path = [S.TRIAGED]
    if status is S.TRIAGED:
        return path
    path.append(S.IN_PROGRESS)
    if status in (S.IN_PROGRESS, S.RESOLVED, S.CLOSED) and rng.random() < 0.15:
        path += [S.WAITING_ON_CUSTOMER, S.IN_PROGRESS]  # asked the customer, who answered
    if status in (S.WAITING_ON_CUSTOMER, S.PENDING_APPROVAL, S.RESOLVED):
        path.append(status)
    elif status is S.CLOSED:
        path += [S.RESOLVED, S.CLOSED]
    return path


def plan_timeline(
    *,
    rng: random.Random,
    created: datetime,
    now: datetime,
    status: RequestStatus | None,
    assigned: bool,
    can_request_approval: bool,
    policy: Policy,
    at_risk_fraction: float,
    auto_close_after: timedelta,
) -> Timeline:
    """A consistent timeline ending in `status` (drawn by age when None) no later than `now`."""
    age = (now - created).total_seconds()
    status = status or _status_by_age(rng, age)
    if not assigned and status not in (S.NEW, S.TRIAGED, S.CANCELLED):
        status = S.TRIAGED  # work only starts once somebody is assigned
    if status is S.PENDING_APPROVAL and not can_request_approval:
        status = S.IN_PROGRESS
    path = _path(rng, status, assigned)
    expo = rng.expovariate
    gaps = []
    previous = S.NEW
    for step in path:
        if step is S.TRIAGED:
            gap = expo(1 / (_FR_SHARE * policy.first_response_seconds))
        elif step is S.CLOSED:
            # Mostly closed automatically; sometimes by the customer first.
            auto = auto_close_after.total_seconds()
            gap = auto + rng.uniform(60, 900) if rng.random() < 0.7 else min(expo(1 / _CLOSE_MEAN), auto)
        elif step is S.IN_PROGRESS and previous is S.WAITING_ON_CUSTOMER:
            gap = expo(1 / _RESUME_MEAN)
        else:
            gap = expo(1 / (_RES_SHARE[step] * policy.resolution_seconds))
        gaps.append(max(gap, 60.0))
        previous = step
    room = max(age * 0.97 - 1, 0.0)
    total = sum(gaps)
    if total > room:
        gaps = [g * room / total for g in gaps]
    t = Timeline(created, status)
    clock = 0.0
    offsets: list[float] = []
    for step, gap in zip(path, gaps, strict=True):
        clock += gap
        offsets.append(clock)
        at = created + timedelta(seconds=clock)
        t.steps.append((at, step))
        t.at[step] = at
    _comments(t, rng, path, offsets, age, assigned)
    _sla(t, path, offsets, now, policy, at_risk_fraction)
    t.steps.sort(key=lambda s: s[0])
    return t


def _comments(
    t: Timeline,
    rng: random.Random,
    path: list[RequestStatus],
    offsets: list[float],
    age: float,
    assigned: bool,
) -> None:
    """Staff acknowledgement and internal notes; the first PUBLIC staff comment is the first response."""
    responses = [
        t.created + timedelta(seconds=o)
        for step, o in zip(path, offsets, strict=True)
        if step in (S.WAITING_ON_CUSTOMER, S.RESOLVED)
    ]
    ends = [*offsets[1:], age]
    for i, step in enumerate(path):
        if step is S.TRIAGED and assigned and rng.random() < 0.92:
            # Acknowledged right after triage: the first response, usually inside its target.
            at = t.created + timedelta(seconds=offsets[i] + 0.02 * (ends[i] - offsets[i]))
            t.steps.append((at, "ACK"))
            responses.append(at)
        elif step is S.IN_PROGRESS and rng.random() < 0.2:
            t.steps.append((t.created + timedelta(seconds=offsets[i] + 0.5 * (ends[i] - offsets[i])), "NOTE"))
    if not path and assigned and rng.random() < 0.1:
        at = t.created + timedelta(seconds=0.5 * age)
        t.steps.append((at, "ACK"))
        responses.append(at)
    t.first_responded_at = min(responses) if responses else None


def _sla(
    t: Timeline,
    path: list[RequestStatus],
    offsets: list[float],
    now: datetime,
    policy: Policy,
    fraction: float,
) -> None:
    """Due times (24x7 approximation), the at-risk and breach marks that have passed, the next check."""
    created = t.created
    fr_seconds, res_seconds = policy.first_response_seconds, policy.resolution_seconds
    t.first_response_due_at = created + timedelta(seconds=fr_seconds)
    pause_start = pause_end = None
    for i, step in enumerate(path):
        if step is S.WAITING_ON_CUSTOMER:
            pause_start = offsets[i]
            pause_end = offsets[i + 1] if i + 1 < len(path) and path[i + 1] is S.IN_PROGRESS else None
    res_offset = float(res_seconds)
    if pause_start is not None and pause_end is not None:
        t.paused_seconds = int(pause_end - pause_start)
        if res_seconds >= pause_start:  # a target already breached before the pause does not move
            res_offset += pause_end - pause_start
    if t.status is S.WAITING_ON_CUSTOMER:
        t.paused_at = t.at[S.WAITING_ON_CUSTOMER]
    t.resolution_due_at = created + timedelta(seconds=res_offset)
    stop = t.at.get(S.CANCELLED) or t.at.get(S.RESOLVED) or t.paused_at or now
    fr_end = t.first_responded_at or t.at.get(S.CANCELLED) or now
    marks = [
        (
            "FIRST_RESPONSE",
            created + timedelta(seconds=fraction * fr_seconds),
            t.first_response_due_at,
            fr_end,
        ),
        (
            "RESOLUTION",
            t.resolution_due_at - timedelta(seconds=(1 - fraction) * res_seconds),
            t.resolution_due_at,
            stop,
        ),
    ]
    upcoming = []
    for target, risk_at, due_at, end in marks:
        if risk_at < end:
            t.steps.append((risk_at, f"RISK:{target}"))
        if due_at < end:
            t.steps.append((due_at, f"BREACH:{target}"))
        if target == "FIRST_RESPONSE":
            t.first_response_at_risk_at = risk_at if risk_at < end else None
            t.first_response_breached_at = due_at if due_at < end else None
        else:
            t.resolution_at_risk_at = risk_at if risk_at < end else None
            t.resolution_breached_at = due_at if due_at < end else None
        if end is now:
            upcoming += [x for x in (risk_at, due_at) if x > now]
    open_ = t.status not in (S.RESOLVED, S.CLOSED, S.CANCELLED, S.WAITING_ON_CUSTOMER)
    t.next_sla_check_at = min(upcoming) if open_ and upcoming else None
