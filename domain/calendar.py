"""Business-hours calendars: counting open seconds between exact instants, DST-safe.

Opening hours are local wall-clock intervals of an IANA time zone. Each day's
intervals are turned into UTC instants, so arithmetic happens on real elapsed
time: a 09:00-17:00 day is 8 hours on every day, and a 00:00-24:00 day is 23
or 25 hours on the DST switch days.

Local times that do not exist (the spring-forward gap) mean the instant the
clocks jump; local times that occur twice (the fall-back hour) mean their
first occurrence. `None` stands for a 24x7 calendar everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "TWENTY_FOUR_SEVEN",
    "WEEKDAYS",
    "BusinessCalendar",
    "NoOpeningHoursError",
    "add_business_seconds",
    "business_seconds_between",
    "calendar_from_json",
    "utc_date",
    "weekly_hours_to_json",
]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The 24x7 calendar (ENTERPRISE policies, policies with calendar null).
TWENTY_FOUR_SEVEN: None = None

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_DAY_SECONDS = 86_400
_CACHE_LIMIT = 4096


def utc_date(instant: datetime) -> date:
    """The business date of an instant: its UTC calendar day (dispute windows, invoice status)."""
    return instant.astimezone(UTC).date()


Span = tuple[datetime, datetime]


class NoOpeningHoursError(ValueError):
    """A calendar without any open time: no due time could ever be reached."""


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    """An IANA time zone, weekly opening hours and holidays (local dates, closed all day).

    `weekly_hours` maps 'mon'..'sun' to (start, end) local times; an end of
    00:00 means midnight at the end of the day (24:00). Missing days are
    closed. Intervals of a day must not overlap.
    """

    time_zone: str
    weekly_hours: Mapping[str, Sequence[tuple[time, time]]]
    holidays: frozenset[date] = frozenset()
    name: str | None = None
    # Seconds-of-day pairs per weekday (0 = Monday), derived once.
    _week: tuple[tuple[tuple[int, int], ...], ...] = field(init=False, repr=False)
    _zone: ZoneInfo = field(init=False, repr=False)
    _cache: dict[date, tuple[Span, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {self.time_zone!r}") from None
        unknown = set(self.weekly_hours) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        week = tuple(_day_spans(day, self.weekly_hours.get(day, ())) for day in WEEKDAYS)
        if not any(week):
            raise NoOpeningHoursError(f"calendar {self.name or self.time_zone!r} has no opening hours")
        object.__setattr__(self, "_week", week)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_cache", {})
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return (self.time_zone, self._week, self.holidays) == (other.time_zone, other._week, other.holidays)

    def __hash__(self) -> int:
        return hash((self.time_zone, self._week, self.holidays))

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's ZoneInfo."""
        return self._zone

    @property
    def nominal_week_seconds(self) -> int:
        """Open seconds of a week without holidays or DST switches."""
        return sum(end - start for day in self._week for start, end in day)

    def open_spans(self, day: date) -> tuple[Span, ...]:
        """The open intervals of local `day` as UTC instants (empty on holidays)."""
        spans = self._cache.get(day)
        if spans is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            spans = self._compute_spans(day)
            self._cache[day] = spans
        return spans

    def is_open(self, instant: datetime) -> bool:
        """True when `instant` lies in an open interval (start inclusive, end exclusive)."""
        _require_aware(instant)
        day = instant.astimezone(self._zone).date()
        return any(start <= instant < end for start, end in self.open_spans(day))

    def local_date(self, instant: datetime) -> date:
        """The calendar-local date of an aware instant."""
        return instant.astimezone(self._zone).date()

    def _compute_spans(self, day: date) -> tuple[Span, ...]:
        if day in self.holidays:
            return ()
        spans = []
        for start, end in self._week[day.weekday()]:
            first, last = self._instant(day, start), self._instant(day, end)
            if first < last:  # an interval inside a DST gap has no length
                spans.append((first, last))
        return tuple(spans)

    def _instant(self, day: date, seconds: int) -> datetime:
        naive = datetime.combine(day, time()) + timedelta(seconds=seconds)
        instant = naive.replace(tzinfo=self._zone).astimezone(UTC)
        if instant.astimezone(self._zone).replace(tzinfo=None) == naive:
            return instant
        # Nonexistent local time: fold=1 and fold=0 straddle the jump; find it exactly.
        low = naive.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        high = instant
        after = high.astimezone(self._zone).utcoffset()
        while high - low > _SECOND:
            middle = low + (high - low) // 2
            if middle.astimezone(self._zone).utcoffset() == after:
                high = middle
            else:
                low = middle
        return high

    def _day_open(self, day: date) -> timedelta:
        return sum((end - start for start, end in self.open_spans(day)), timedelta())

    def _nominal_day(self, day: date) -> timedelta:
        return timedelta(seconds=sum(end - start for start, end in self._week[day.weekday()]))

    def _midnight_offset(self, day: date) -> timedelta | None:
        return datetime.combine(day, time(), tzinfo=self._zone).utcoffset()

    def open_in_days(self, first: date, days: int) -> timedelta:
        """Open time of `days` whole local days from `first`; whole weeks counted arithmetically.

        A week is its nominal open time, less its holidays, corrected on the
        days whose UTC offset changes (found by comparing week boundaries).
        """
        weeks, rest = divmod(days, 7)
        total = timedelta(seconds=self.nominal_week_seconds) * weeks
        end = first + timedelta(days=7 * weeks)
        for holiday in self.holidays:
            if first <= holiday < end:
                total -= self._nominal_day(holiday)
        for week in range(weeks):
            monday = first + timedelta(days=7 * week)
            if self._midnight_offset(monday) == self._midnight_offset(monday + timedelta(days=7)):
                continue
            for offset in range(7):
                day = monday + timedelta(days=offset)
                if day not in self.holidays and self._midnight_offset(day) != self._midnight_offset(
                    day + _DAY
                ):
                    total += self._day_open(day) - self._nominal_day(day)
        for offset in range(rest):
            total += self._day_open(end + timedelta(days=offset))
        return total


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instants must be timezone-aware")


def _seconds_of_day(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def _day_spans(day: str, intervals: Sequence[tuple[time, time]]) -> tuple[tuple[int, int], ...]:
    spans = []
    for start, end in intervals:
        first = _seconds_of_day(start)
        last = _seconds_of_day(end) or _DAY_SECONDS  # 00:00 as an end is 24:00
        if first >= last:
            raise ValueError(f"{day}: opening interval {start}-{end} must end after it starts")
        spans.append((first, last))
    spans.sort()
    for (_, previous_end), (next_start, _) in pairwise(spans):
        if next_start < previous_end:
            raise ValueError(f"{day}: opening intervals overlap")
    return tuple(spans)


def add_business_seconds(calendar: BusinessCalendar | None, start: datetime, seconds: int) -> datetime:
    """The instant `seconds` open seconds after `start` (before it when negative).

    Forward, a result that exhausts an interval is that interval's end (Friday
    16:00 + 1h is Friday 17:00, not Monday 09:00); backward, it is the start.
    """
    _require_aware(start)
    if seconds == 0:
        return start
    if calendar is None:
        return start + timedelta(seconds=seconds)
    if seconds > 0:
        return _forward(calendar, start, timedelta(seconds=seconds))
    return _backward(calendar, start, timedelta(seconds=-seconds))


def _week_skip(calendar: BusinessCalendar, remaining: timedelta) -> int:
    """How many whole weeks may safely be skipped before walking day by day (keeps a week of margin)."""
    week = timedelta(seconds=calendar.nominal_week_seconds)
    return max(remaining // week - 1, 0)


def _forward(calendar: BusinessCalendar, start: datetime, remaining: timedelta) -> datetime:
    day = calendar.local_date(start)
    for first, last in calendar.open_spans(day):
        if last <= start:
            continue
        begin = max(first, start)
        if remaining <= last - begin:
            return begin + remaining
        remaining -= last - begin
    day += _DAY
    while (weeks := _week_skip(calendar, remaining)) > 0:
        skipped = calendar.open_in_days(day, 7 * weeks)
        if skipped >= remaining:
            break
        remaining -= skipped
        day += timedelta(days=7 * weeks)
    while True:
        for first, last in calendar.open_spans(day):
            if remaining <= last - first:
                return first + remaining
            remaining -= last - first
        day += _DAY


def _backward(calendar: BusinessCalendar, start: datetime, remaining: timedelta) -> datetime:
    day = calendar.local_date(start)
    for first, last in reversed(calendar.open_spans(day)):
        if first >= start:
            continue
        finish = min(last, start)
        if remaining <= finish - first:
            return finish - remaining
        remaining -= finish - first
    day -= _DAY
    while (weeks := _week_skip(calendar, remaining)) > 0:
        first_day = day - timedelta(days=7 * weeks - 1)
        skipped = calendar.open_in_days(first_day, 7 * weeks)
        if skipped >= remaining:
            break
        remaining -= skipped
        day = first_day - _DAY
    while True:
        for first, last in reversed(calendar.open_spans(day)):
            if remaining <= last - first:
                return last - remaining
            remaining -= last - first
        day -= _DAY


def business_seconds_between(calendar: BusinessCalendar | None, a: datetime, b: datetime) -> int:
    """Open seconds from `a` to `b` (negative when `b` is before `a`), whole seconds rounded down."""
    _require_aware(a)
    _require_aware(b)
    if b < a:
        return -business_seconds_between(calendar, b, a)
    if calendar is None:
        return (b - a) // _SECOND
    first_day, last_day = calendar.local_date(a), calendar.local_date(b)
    if (last_day - first_day).days <= 1:
        days = [first_day, last_day] if last_day != first_day else [first_day]
        return _overlap(calendar, days, a, b) // _SECOND
    middle = calendar.open_in_days(first_day + _DAY, (last_day - first_day).days - 1)
    total = _overlap(calendar, [first_day], a, b) + middle + _overlap(calendar, [last_day], a, b)
    return total // _SECOND


def _overlap(calendar: BusinessCalendar, days: Iterable[date], a: datetime, b: datetime) -> timedelta:
    total = timedelta()
    for day in days:
        for first, last in calendar.open_spans(day):
            begin, end = max(first, a), min(last, b)
            if begin < end:
                total += end - begin
    return total


def _parse_time(text: str, *, day: str) -> time:
    if text in ("24:00", "24:00:00"):
        return time(0)
    try:
        return time.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{day}: {text!r} is not a time like 09:00") from None


def calendar_from_json(
    time_zone: str,
    weekly_hours: Mapping[str, Sequence[Sequence[str]] | Sequence[str]],
    holidays: Iterable[date | str] = (),
    *,
    name: str | None = None,
) -> BusinessCalendar:
    """Build a calendar from its stored form {"mon": [["09:00", "17:00"]], ...}.

    A day may also be given as one pair (["09:00", "17:00"], the import
    file's form). "24:00" ends an interval at midnight. Raises ValueError.
    """
    hours: dict[str, list[tuple[time, time]]] = {}
    for day, raw in weekly_hours.items():
        key = day.lower()
        pairs: list[object] = [raw] if raw and all(isinstance(item, str) for item in raw) else list(raw)
        intervals = []
        for pair in pairs:
            if (
                not isinstance(pair, list | tuple)
                or len(pair) != 2
                or not all(isinstance(p, str) for p in pair)
            ):
                raise ValueError(f"{key}: each interval must be a [start, end] pair, got {pair!r}")
            if pair[0] in ("24:00", "24:00:00"):
                raise ValueError(f"{key}: an interval cannot start at 24:00")
            intervals.append((_parse_time(pair[0], day=key), _parse_time(pair[1], day=key)))
        hours[key] = intervals
    days = frozenset(item if isinstance(item, date) else date.fromisoformat(item) for item in holidays)
    return BusinessCalendar(time_zone=time_zone, weekly_hours=hours, holidays=days, name=name)


def weekly_hours_to_json(calendar: BusinessCalendar) -> dict[str, list[list[str]]]:
    """The stored form of the opening hours (list of [start, end] per open day, 24:00 for midnight)."""
    result: dict[str, list[list[str]]] = {}
    for name, spans in zip(WEEKDAYS, calendar._week, strict=True):
        if spans:
            result[name] = [[_format_seconds(start), _format_seconds(end)] for start, end in spans]
    return result


def _format_seconds(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")
