"""Typed builders for domain test data with sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.calendar import BusinessCalendar, calendar_from_json
from domain.enums import RequestStatus, Role
from domain.lifecycle import Actor, RequestFacts

WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


def business_hours(time_zone: str = "UTC", holidays: tuple[str, ...] = ()) -> BusinessCalendar:
    return calendar_from_json(time_zone, WEEKDAYS_9_TO_5, holidays)


def request(
    status: RequestStatus = RequestStatus.IN_PROGRESS,
    *,
    assignee_id: int | None = 7,
    customer_id: int = 100,
    version: int = 3,
    resolved_at: datetime | None = None,
    has_pending_approval: bool = False,
) -> RequestFacts:
    return RequestFacts(
        status=status,
        customer_id=customer_id,
        version=version,
        assignee_id=assignee_id,
        resolved_at=resolved_at,
        has_pending_approval=has_pending_approval,
    )


def staff(*roles: Role, staff_id: int = 7) -> Actor:
    return Actor(roles=frozenset(roles), staff_id=staff_id)


def customer(*, own: bool = True, role: Role = Role.CUSTOMER) -> Actor:
    return Actor(roles=frozenset({role}), acts_for_customer=own)
