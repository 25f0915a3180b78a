"""Business calendars: exact due instants on business hours, holidays and DST switches."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.calendar import (
    WEEKDAYS,
    BusinessCalendar,
    NoOpeningHoursError,
    add_business_seconds,
    business_seconds_between,
    calendar_from_json,
    weekly_hours_to_json,
)
from tests.domain.builders import business_hours, utc

HOUR = 3600


def test_friday_afternoon_plus_one_hour_is_monday_morning() -> None:
    calendar = business_hours()
    assert add_business_seconds(calendar, utc(2026, 11, 20, 16, 30), HOUR) == utc(2026, 11, 23, 9, 30)
    # Exhausting an interval ends at its end, not at the next opening.
    assert add_business_seconds(calendar, utc(2026, 11, 20, 16, 0), HOUR) == utc(2026, 11, 20, 17, 0)
    # Before opening counts from the opening.
    assert add_business_seconds(calendar, utc(2026, 11, 21, 3, 0), 60) == utc(2026, 11, 23, 9, 1)


def test_holidays_are_closed() -> None:
    calendar = business_hours(holidays=("2026-11-23", "2026-11-24"))
    assert add_business_seconds(calendar, utc(2026, 11, 20, 16, 30), HOUR) == utc(2026, 11, 25, 9, 30)
    assert business_seconds_between(calendar, utc(2026, 11, 20, 0), utc(2026, 11, 26, 0)) == 16 * HOUR


def test_twenty_four_seven_is_plain_arithmetic() -> None:
    start = utc(2026, 3, 28, 23, 0)
    assert add_business_seconds(None, start, 7200 * 60) == start + timedelta(minutes=7200)
    assert add_business_seconds(None, start, -60) == start - timedelta(seconds=60)
    assert business_seconds_between(None, start, start + timedelta(days=2)) == 172_800
    assert business_seconds_between(None, start + timedelta(days=2), start) == -172_800


def test_backwards() -> None:
    calendar = business_hours()
    assert add_business_seconds(calendar, utc(2026, 11, 23, 9, 30), -HOUR) == utc(2026, 11, 20, 16, 30)
    # Backward results that exhaust an interval land on its start.
    assert add_business_seconds(calendar, utc(2026, 11, 23, 10, 0), -HOUR) == utc(2026, 11, 23, 9, 0)


def test_berlin_business_hours_across_spring_forward() -> None:
    calendar = business_hours("Europe/Berlin")
    # Fri 2026-03-27 16:00 CET (15:00Z) + 2h -> Mon 2026-03-30 10:00 CEST (08:00Z).
    assert add_business_seconds(calendar, utc(2026, 3, 27, 15, 0), 2 * HOUR) == utc(2026, 3, 30, 8, 0)
    assert business_seconds_between(calendar, utc(2026, 3, 27, 15, 0), utc(2026, 3, 30, 8, 0)) == 2 * HOUR


def test_berlin_business_hours_across_fall_back() -> None:
    calendar = business_hours("Europe/Berlin")
    # Fri 2026-10-23 16:00 CEST (14:00Z) + 2h -> Mon 2026-10-26 10:00 CET (09:00Z).
    assert add_business_seconds(calendar, utc(2026, 10, 23, 14, 0), 2 * HOUR) == utc(2026, 10, 26, 9, 0)
    # 7,200 business minutes = 15 business days: three weeks later, same local time.
    assert add_business_seconds(calendar, utc(2026, 10, 23, 14, 0), 7200 * 60) == utc(2026, 11, 13, 15, 0)


def test_berlin_whole_days_are_23_and_25_hours_on_switch_days() -> None:
    calendar = calendar_from_json("Europe/Berlin", {day: [["00:00", "24:00"]] for day in WEEKDAYS})
    assert business_seconds_between(calendar, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)) == 23 * HOUR
    assert business_seconds_between(calendar, utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)) == 25 * HOUR
    # Sat 23:00 local + 3h real time is 02:00Z = 04:00 CEST.
    assert add_business_seconds(calendar, utc(2026, 3, 28, 22), 3 * HOUR) == utc(2026, 3, 29, 1)


def test_weekend_calendar_sunday_has_23_hours_in_march() -> None:
    calendar = calendar_from_json("Europe/Berlin", {"sat": [["00:00", "24:00"]], "sun": [["00:00", "24:00"]]})
    # From Sun 2026-03-29 00:00 CET: 23h that Sunday, then Sat 2026-04-04 00:00 CEST (Apr 3 22:00Z) + 1h.
    assert add_business_seconds(calendar, utc(2026, 3, 28, 23), 24 * HOUR) == utc(2026, 4, 3, 23)


def test_nonexistent_and_ambiguous_local_times() -> None:
    spring = calendar_from_json("Europe/Berlin", {"sun": [["02:30", "04:00"]]})
    # 02:30 does not exist on 2026-03-29: the interval opens when clocks jump (01:00Z = 03:00 CEST).
    assert spring.open_spans(date(2026, 3, 29)) == ((utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),)
    gap_only = calendar_from_json("Europe/Berlin", {"sun": [["02:10", "02:50"]], "mon": [["09:00", "10:00"]]})
    assert gap_only.open_spans(date(2026, 3, 29)) == ()
    autumn = calendar_from_json("Europe/Berlin", {"sun": [["02:30", "03:30"]]})
    # 02:30 occurs twice on 2026-10-25: the first (CEST, 00:30Z); 03:30 CET is 02:30Z.
    assert autumn.open_spans(date(2026, 10, 25)) == ((utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 30)),)


def test_calendar_without_open_hours_is_refused() -> None:
    with pytest.raises(NoOpeningHoursError):
        calendar_from_json("UTC", {})
    with pytest.raises(NoOpeningHoursError):
        calendar_from_json("UTC", {"mon": []})


@pytest.mark.parametrize(
    "hours",
    [
        {"mon": [["17:00", "09:00"]]},
        {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]},
        {"mon": [["9am", "5pm"]]},
        {"monday": [["09:00", "17:00"]]},
        {"mon": [["09:00"]]},
        {"mon": [["24:00", "24:00"]]},
    ],
)
def test_malformed_hours_are_refused(hours: dict[str, list[list[str]]]) -> None:
    with pytest.raises(ValueError):
        calendar_from_json("UTC", hours)


def test_unknown_time_zone_and_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError):
        business_hours("Mars/Olympus")
    with pytest.raises(ValueError):
        add_business_seconds(business_hours(), datetime(2026, 1, 1), 60)


def test_json_forms_and_round_trip() -> None:
    single = calendar_from_json("UTC", {"MON": ["09:00", "17:00"]}, ["2026-12-25"])
    stored = calendar_from_json("UTC", {"mon": [["09:00", "17:00"]]}, [date(2026, 12, 25)])
    assert single == stored and hash(single) == hash(stored)
    split = calendar_from_json("UTC", {"tue": [["13:00", "24:00"], ["08:00", "12:00:30"]]})
    assert weekly_hours_to_json(split) == {"tue": [["08:00", "12:00:30"], ["13:00", "24:00"]]}
    assert split.weekly_hours["tue"][0] == (time(13), time(0))


def test_large_additions_are_fast_and_exact() -> None:
    calendar = business_hours("Europe/Berlin", holidays=("2026-12-24", "2026-12-25", "2027-01-01"))
    start = utc(2026, 3, 2, 8)
    seconds = 400 * 8 * HOUR  # 400 business days, over two DST switches and the holidays
    due = add_business_seconds(calendar, start, seconds)
    assert business_seconds_between(calendar, start, due) == seconds
    assert _walk(calendar, start, seconds) == due
    assert add_business_seconds(calendar, due, -seconds) == start


def _walk(calendar: BusinessCalendar, start: datetime, seconds: int) -> datetime:
    """Reference: day by day, no week skipping."""
    remaining = timedelta(seconds=seconds)
    day = calendar.local_date(start)
    while True:
        for first, last in calendar.open_spans(day):
            begin = max(first, start)
            if last <= begin:
                continue
            if remaining <= last - begin:
                return begin + remaining
            remaining -= last - begin
        day += timedelta(days=1)


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Santiago"]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    hours: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=4)))
        pairs = [cuts[i : i + 2] for i in range(0, len(cuts) - 1, 2)]
        hours[day] = [[_quarter(a), _quarter(b)] for a, b in pairs]
    assume(any(hours.values()))
    holidays = draw(st.lists(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=8))
    return calendar_from_json(draw(st.sampled_from(ZONES)), hours, holidays)


def _quarter(index: int) -> str:
    return "24:00" if index == 96 else f"{index // 4:02d}:{index % 4 * 15:02d}"


instants = st.datetimes(datetime(2026, 1, 1), datetime(2027, 6, 30)).map(
    lambda moment: moment.replace(microsecond=0, tzinfo=UTC)
)
durations = st.one_of(st.integers(0, 3 * 7 * 86_400), st.integers(0, 40 * 7 * 86_400))


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, durations)
def test_add_then_between_round_trips(calendar: BusinessCalendar, start: datetime, seconds: int) -> None:
    due = add_business_seconds(calendar, start, seconds)
    assert due >= start
    assert business_seconds_between(calendar, start, due) == seconds
    earlier = add_business_seconds(calendar, start, -seconds)
    assert business_seconds_between(calendar, earlier, start) == seconds
    assert business_seconds_between(calendar, start, earlier) == -seconds


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, st.integers(1, 20 * 7 * 86_400))
def test_result_is_open_or_an_interval_end_and_matches_the_walk(
    calendar: BusinessCalendar, start: datetime, seconds: int
) -> None:
    due = add_business_seconds(calendar, start, seconds)
    ends = {last for _, last in calendar.open_spans(calendar.local_date(due) - timedelta(days=1))}
    ends |= {last for _, last in calendar.open_spans(calendar.local_date(due))}
    assert calendar.is_open(due) or due in ends
    assert due == _walk(calendar, start, seconds)


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, durations, durations)
def test_monotonic(calendar: BusinessCalendar, start: datetime, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert add_business_seconds(calendar, start, low) <= add_business_seconds(calendar, start, high)
    assert add_business_seconds(calendar, start, -high) <= add_business_seconds(calendar, start, -low)
    later = start + timedelta(seconds=high - low)
    assert business_seconds_between(calendar, start, start) == 0
    assert 0 <= business_seconds_between(calendar, start, later) <= high - low
