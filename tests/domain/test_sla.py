"""SLA clocks: due times, pauses, at-risk, breach, met, and the alerts the engine owes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.enums import RequestEventKind, RequestStatus, SlaState, SlaTarget
from domain.sla import (
    PendingAlert,
    SlaPolicy,
    SlaSnapshot,
    at_risk_instant,
    evaluate,
    initial_due_times,
    next_alerts,
    next_check_at,
    paused_business_seconds,
    rederive_due_times,
    reopened_resolution_due,
    resume_due_times,
    resume_shift,
)
from tests.domain.builders import business_hours, utc

MINUTE = 60
CREATED = utc(2026, 11, 23, 9, 0)  # a Monday
POLICY_24x7 = SlaPolicy(first_response_seconds=10 * MINUTE, resolution_seconds=100 * MINUTE)
AT_RISK = RequestEventKind.SLA_AT_RISK
BREACHED = RequestEventKind.SLA_BREACHED
FIRST = SlaTarget.FIRST_RESPONSE
RESOLUTION = SlaTarget.RESOLUTION


def snapshot(
    status: RequestStatus = RequestStatus.IN_PROGRESS, policy: SlaPolicy = POLICY_24x7, **kw: object
) -> SlaSnapshot:
    due = initial_due_times(policy=policy, start=CREATED)
    return replace(
        SlaSnapshot(
            status=status,
            policy=policy,
            first_response_due_at=due.first_response_due_at,
            resolution_due_at=due.resolution_due_at,
        ),
        **kw,  # type: ignore[arg-type]
    )


def at(minutes: float) -> datetime:
    return CREATED + timedelta(minutes=minutes)


def test_initial_due_times_24x7_and_business_hours() -> None:
    due = initial_due_times(policy=POLICY_24x7, start=CREATED)
    assert (due.first_response_due_at, due.resolution_due_at) == (at(10), at(100))
    standard_urgent = SlaPolicy(60 * MINUTE, 480 * MINUTE, business_hours())
    friday = utc(2026, 11, 20, 16, 30)
    due = initial_due_times(policy=standard_urgent, start=friday)
    assert due.first_response_due_at == utc(2026, 11, 23, 9, 30)
    assert due.resolution_due_at == utc(2026, 11, 23, 16, 30)
    standard_low = SlaPolicy(1440 * MINUTE, 7200 * MINUTE, business_hours("Europe/Berlin"))
    due = initial_due_times(policy=standard_low, start=utc(2026, 10, 23, 14, 0))  # Fri 16:00 CEST
    assert due.first_response_due_at == utc(2026, 10, 28, 15, 0)  # 3 business days, Wed 16:00 CET
    assert due.resolution_due_at == utc(2026, 11, 13, 15, 0)


def test_on_track_then_at_risk_at_80_percent() -> None:
    responded = snapshot(first_responded_at=at(5))
    assert evaluate(responded, at(79)) == (view := evaluate(responded, at(79)))
    assert view.state is SlaState.ON_TRACK and view.remaining_seconds == 21 * MINUTE
    assert evaluate(responded, at(80)).state is SlaState.AT_RISK
    # The first-response target (10 min) is at risk after 8 minutes.
    assert evaluate(snapshot(), at(7.9)).state is SlaState.ON_TRACK
    assert evaluate(snapshot(), at(8)).state is SlaState.AT_RISK
    assert evaluate(snapshot(), at(8)).remaining_seconds == 2 * MINUTE


def test_at_risk_instant_counts_back_in_business_time() -> None:
    calendar = business_hours()
    due = utc(2026, 11, 23, 9, 30)  # Monday
    assert at_risk_instant(due_at=due, target_seconds=5 * 3600, calendar=calendar) == utc(
        2026, 11, 20, 16, 30
    )
    assert at_risk_instant(due_at=due, target_seconds=7, calendar=None) == due - timedelta(seconds=1)


def test_breach_is_final_and_remaining_negative() -> None:
    late = evaluate(snapshot(), at(12))
    assert late.state is SlaState.BREACHED
    assert late.breached_at == at(10)
    assert late.remaining_seconds == -2 * MINUTE
    # Responding late does not heal it; resolving in time does not either.
    healed = snapshot(RequestStatus.RESOLVED, first_responded_at=at(11), resolved_at=at(50))
    assert evaluate(healed, at(60)).state is SlaState.BREACHED
    # A recorded resolution breach survives a reopen with a new due time.
    reopened = snapshot(
        RequestStatus.RESOLVED,
        first_responded_at=at(1),
        resolution_breached_at=at(100),
        resolution_due_at=at(400),
        resolved_at=at(300),
    )
    view = evaluate(reopened, at(500))
    assert view.state is SlaState.BREACHED and view.breached_at == at(100)


def test_met_when_resolved_in_time() -> None:
    done = snapshot(RequestStatus.RESOLVED, first_responded_at=at(1), resolved_at=at(100))
    assert evaluate(done, at(1000)) == evaluate(done, at(100))
    assert evaluate(done, at(1000)).state is SlaState.MET
    assert evaluate(done, at(1000)).remaining_seconds is None
    closed = replace(done, status=RequestStatus.CLOSED, closed_at=at(2000))
    assert evaluate(closed, at(3000)).state is SlaState.MET
    late = replace(done, resolved_at=at(101))
    assert evaluate(late, at(1000)).state is SlaState.BREACHED
    assert evaluate(late, at(1000)).remaining_seconds == -1 * MINUTE  # frozen at resolution


def test_paused_while_waiting_unless_breached() -> None:
    waiting = snapshot(RequestStatus.WAITING_ON_CUSTOMER, first_responded_at=at(2), paused_at=at(30))
    view = evaluate(waiting, at(500))  # the stored due passed while paused: not a breach
    assert view.state is SlaState.PAUSED and view.remaining_seconds is None and view.breached_at is None
    already = replace(waiting, first_responded_at=None, paused_at=at(20))
    assert evaluate(already, at(25)).state is SlaState.BREACHED


def test_cancelled_stops_the_clocks() -> None:
    cancelled = snapshot(RequestStatus.CANCELLED, first_responded_at=at(2), cancelled_at=at(50))
    assert evaluate(cancelled, at(1000)) == evaluate(cancelled, at(60))
    assert evaluate(cancelled, at(1000)).state is SlaState.ON_TRACK
    assert evaluate(cancelled, at(1000)).remaining_seconds is None
    breached = replace(cancelled, cancelled_at=at(150))
    view = evaluate(breached, at(1000))
    assert view.state is SlaState.BREACHED and view.breached_at == at(100)


def test_pause_resume_shifts_by_business_time() -> None:
    calendar = business_hours()
    due = utc(2026, 11, 24, 12, 0)
    # Paused Friday 16:00, resumed Monday 10:00: two business hours.
    assert (
        paused_business_seconds(
            calendar=calendar, paused_at=utc(2026, 11, 20, 16), resumed_at=utc(2026, 11, 23, 10)
        )
        == 7200
    )
    assert resume_shift(
        due_at=due, paused_at=utc(2026, 11, 20, 16), resumed_at=utc(2026, 11, 23, 10), calendar=calendar
    ) == utc(2026, 11, 24, 14)
    # A weekend pause costs nothing.
    assert (
        resume_shift(
            due_at=due,
            paused_at=utc(2026, 11, 20, 17, 30),
            resumed_at=utc(2026, 11, 23, 8),
            calendar=calendar,
        )
        == due
    )
    # 24x7: the wall-clock pause.
    assert resume_shift(due_at=at(100), paused_at=at(30), resumed_at=at(45), calendar=None) == at(115)


def test_resume_due_times_keeps_a_met_first_response() -> None:
    waiting = snapshot(RequestStatus.WAITING_ON_CUSTOMER, first_responded_at=at(2), paused_at=at(30))
    resumed = resume_due_times(snapshot=waiting, resumed_at=at(45))
    assert resumed.paused_seconds == 15 * MINUTE
    assert resumed.due.first_response_due_at == at(10)
    assert resumed.due.resolution_due_at == at(115)
    unanswered = replace(waiting, first_responded_at=None, paused_at=at(5))
    assert resume_due_times(snapshot=unanswered, resumed_at=at(45)).due.first_response_due_at == at(50)
    # At-risk counts back from the shifted due time: pause shifts carry over.
    assert at_risk_instant(due_at=at(115), target_seconds=100 * MINUTE, calendar=None) == at(95)


def test_priority_change_and_reopen() -> None:
    faster = SlaPolicy(5 * MINUTE, 50 * MINUTE)
    due = rederive_due_times(policy=faster, created_at=CREATED, paused_seconds=3 * MINUTE)
    assert (due.first_response_due_at, due.resolution_due_at) == (at(8), at(53))
    assert reopened_resolution_due(policy=POLICY_24x7, now=at(500)) == at(600)


def test_next_alerts_in_order_once_each() -> None:
    open_request = snapshot()
    alerts = next_alerts(open_request, set())
    assert alerts == [
        PendingAlert(AT_RISK, FIRST, at(8), at(10)),
        PendingAlert(BREACHED, FIRST, at(10), at(10)),
        PendingAlert(AT_RISK, RESOLUTION, at(80), at(100)),
        PendingAlert(BREACHED, RESOLUTION, at(100), at(100)),
    ]
    assert next_check_at(open_request, set()) == at(8)
    done = {(AT_RISK, FIRST), (BREACHED, FIRST)}
    assert next_check_at(open_request, done) == at(80)
    responded = replace(open_request, first_responded_at=at(3))
    assert [a.target for a in next_alerts(responded, set())] == [RESOLUTION, RESOLUTION]
    everything = done | {(AT_RISK, RESOLUTION), (BREACHED, RESOLUTION)}
    assert next_alerts(open_request, everything) == [] and next_check_at(open_request, everything) is None


def test_no_alerts_while_paused_or_closed() -> None:
    for status in (RequestStatus.WAITING_ON_CUSTOMER, RequestStatus.RESOLVED, RequestStatus.CANCELLED):
        assert next_alerts(snapshot(status, paused_at=at(1), resolved_at=at(1)), set()) == []
    assert next_alerts(snapshot(RequestStatus.PENDING_APPROVAL), set()) != []


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 300 * 60), st.integers(1, 100), st.integers(1, 100))
def test_state_follows_the_alert_instants(elapsed: int, first_minutes: int, extra_minutes: int) -> None:
    """The view and the engine's alert instants agree: AT_RISK from the at-risk instant, BREACHED from due."""
    policy = SlaPolicy(first_minutes * MINUTE, (first_minutes + extra_minutes) * MINUTE, business_hours())
    request = snapshot(policy=policy)
    now = CREATED + timedelta(seconds=elapsed)
    state = evaluate(request, now).state
    due_alerts = {(a.kind, a.target) for a in next_alerts(request, set()) if a.at <= now}
    if any(kind is BREACHED for kind, _ in due_alerts):
        assert state is SlaState.BREACHED
    elif due_alerts:
        assert state is SlaState.AT_RISK
    else:
        assert state is SlaState.ON_TRACK
