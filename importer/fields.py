"""Field readers for the master-data import: one bad value raises `ImportRejected`.

Each reader knows the record it reads (`customers[2] (externalRef "C-1003")`)
so that every message names the record and the field, as IMPORT.md asks.
Pure code: no I/O.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate

__all__ = ["FieldReader", "ImportRejected", "show"]

E = TypeVar("E", bound=StrEnum)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Date, "T", time with seconds optional, then an explicit offset or Z: instants are never local times.
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# NUMERIC(18, 2): 16 integer digits at most.
_MONEY_MAX = Decimal("9999999999999999.99")


class ImportRejected(ValueError):
    """The import file was refused; nothing was written. The message names the record and field."""

    def __init__(self, message: str, *, record: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.record = record
        self.field = field


def show(value: Any) -> str:
    """A value as it appears in the JSON file, for messages."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


class FieldReader:
    """Reads and validates the fields of one record; remembers which fields it read."""

    def __init__(self, section: str, index: int, raw: Any, key_fields: Sequence[str]) -> None:
        self.section = section
        self.index = index
        if not isinstance(raw, Mapping):
            self.at = f"{section}[{index}]"
            self.fail(None, f"must be a JSON object, got {show(raw)}")
        self.raw: Mapping[str, Any] = raw
        keys = [f"{k} {show(raw[k])}" for k in key_fields if isinstance(raw.get(k), str)]
        self.at = f"{section}[{index}]" + (f" ({', '.join(keys)})" if keys else "")
        self._seen: set[str] = set()

    def fail(self, field: str | None, message: str) -> NoReturn:
        """Reject the whole file because of this record (and field)."""
        text = f"{self.at}: {field}: {message}" if field else f"{self.at}: {message}"
        raise ImportRejected(text, record=self.at, field=field)

    def finish(self, refused: Mapping[str, str] | None = None) -> None:
        """Refuse fields this section does not know (a typo must not be silently ignored)."""
        for name in self.raw:
            if name in self._seen:
                continue
            if refused and name in refused:
                self.fail(name, refused[name])
            self.fail(name, "is not a known field of " + self.section)

    def _get(self, name: str, required: bool) -> Any:
        self._seen.add(name)
        value = self.raw.get(name)
        if value is None and required:
            self.fail(name, "is required")
        return value

    def text(self, name: str, *, max_len: int, required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(name, f"must be a non-empty string, got {show(value)}")
        if len(value) > max_len:
            self.fail(name, f"is longer than {max_len} characters")
        return value

    def key(self, name: str, *, max_len: int) -> str:
        """A required string used as a natural key or a reference."""
        value = self.text(name, max_len=max_len)
        assert value is not None  # required=True guarantees it
        return value

    def enum(self, name: str, enum: type[E], *, default: E | None = None) -> E:
        value = self._get(name, default is None)
        if value is None and default is not None:
            return default
        try:
            return enum(value)
        except (ValueError, TypeError):
            self.fail(name, f"{show(value)} is not one of {', '.join(m.value for m in enum)}")

    def enum_list(self, name: str, enum: type[E]) -> list[str]:
        values = self.str_list(name, max_len=64)
        for i, value in enumerate(values):
            if value not in {m.value for m in enum}:
                self.fail(f"{name}[{i}]", f"{show(value)} is not one of {', '.join(m.value for m in enum)}")
        return sorted(set(values))

    def str_list(self, name: str, *, max_len: int) -> list[str]:
        value = self._get(name, False)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(name, f"must be a list of strings, got {show(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip() or len(item) > max_len:
                self.fail(f"{name}[{i}]", f"must be a non-empty string of at most {max_len} characters")
        return list(value)

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self._get(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(name, f"must be true or false, got {show(value)}")
        return value

    def integer(self, name: str, *, default: int, minimum: int = 0, maximum: int = 100_000) -> int:
        value = self._get(name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"must be a whole number, got {show(value)}")
        if not minimum <= value <= maximum:
            self.fail(name, f"{value} is not between {minimum} and {maximum}")
        return value

    def day(self, name: str, *, required: bool = True) -> date | None:
        value = self._get(name, required)
        if value is None:
            return None
        return self._parse_date(name, value)

    def _parse_date(self, name: str, value: Any) -> date:
        if isinstance(value, str) and _DATE.match(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.fail(name, f"{show(value)} is not an ISO-8601 date (YYYY-MM-DD)")

    def day_list(self, name: str) -> list[date]:
        value = self._get(name, False)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(name, f"must be a list of ISO-8601 dates, got {show(value)}")
        return sorted({self._parse_date(f"{name}[{i}]", item) for i, item in enumerate(value)})

    def instant(self, name: str, *, required: bool = True) -> datetime | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, str) and _INSTANT.match(value):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        self.fail(
            name, f"{show(value)} is not an ISO-8601 instant with a time zone (e.g. 2026-11-10T12:00:00Z)"
        )

    def decimal(
        self, name: str, *, required: bool = True, places: int = 2, negative: bool = False, zero: bool = True
    ) -> Decimal | None:
        """An exact decimal string ("1200000.00"); JSON numbers are refused as floats are inexact."""
        value = self._get(name, required)
        if value is None:
            return None
        return self._parse_decimal(name, value, places=places, negative=negative, zero=zero)

    def _parse_decimal(self, name: str, value: Any, *, places: int, negative: bool, zero: bool) -> Decimal:
        if not isinstance(value, str) or not _DECIMAL.match(value):
            self.fail(name, f'{show(value)} is not a decimal string such as "9850.00"')
        try:
            number = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern already excludes this
            self.fail(name, f"{show(value)} is not a decimal number")
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            self.fail(name, f"{show(value)} has more than {places} decimal places")
        if number < 0 and not negative:
            self.fail(name, f"{show(value)} must not be negative")
        if number == 0 and not zero:
            self.fail(name, f"{show(value)} must be positive")
        if abs(number) > _MONEY_MAX:
            self.fail(name, f"{show(value)} is too large")
        return number

    def currency(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not _CURRENCY.match(value):
            self.fail(name, f"{show(value)} is not a 3-letter uppercase ISO-4217 currency code")
        return value

    def money(self, name: str, *, required: bool = True, zero: bool = False) -> tuple[Decimal, str] | None:
        """{"amount": "9850.00", "currency": "EUR"}: positive (or zero when allowed), at most 2 decimals."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, Mapping) or set(value) != {"amount", "currency"}:
            self.fail(name, f'must be {{"amount": "9850.00", "currency": "EUR"}}, got {show(value)}')
        amount = self._parse_decimal(f"{name}.amount", value["amount"], places=2, negative=False, zero=zero)
        return amount, self.currency(f"{name}.currency", value["currency"])

    def duration(self, name: str) -> int:
        """An ISO-8601 duration (PT15M, PT4H, P1D, PT5S) as whole seconds, positive."""
        value = self._get(name, True)
        parsed: Any = None
        if isinstance(value, str) and value.startswith("P"):
            try:
                parsed = isodate.parse_duration(value)
            except (isodate.ISO8601Error, ValueError):
                parsed = None
        if not isinstance(parsed, timedelta):
            # isodate answers a Duration for months/years: they have no fixed length, so they are refused.
            self.fail(
                name, f"{show(value)} is not an ISO-8601 duration of fixed length such as PT15M, PT4H, P1D"
            )
        if parsed.microseconds:
            self.fail(name, f"{show(value)} is finer than whole seconds")
        seconds = int(parsed.total_seconds())
        if seconds <= 0:
            self.fail(name, f"{show(value)} must be longer than zero")
        if seconds > 2**31 - 1:
            self.fail(name, f"{show(value)} is too long")
        return seconds

    def time_zone(self, name: str) -> str:
        value = self.key(name, max_len=64)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(name, f"{show(value)} is not an IANA time zone such as Europe/Berlin")
        return value

    def weekly_hours(self, name: str) -> dict[str, list[list[str]]]:
        """{"mon": ["09:00", "17:00"]} or several intervals {"mon": [["08:00", "12:00"], ...]}."""
        value = self._get(name, True)
        if not isinstance(value, Mapping):
            self.fail(name, f'must be an object such as {{"mon": ["09:00", "17:00"]}}, got {show(value)}')
        hours: dict[str, list[list[str]]] = {}
        for day, spec in value.items():
            where = f"{name}.{day}"
            if day not in _DAYS:
                self.fail(name, f"{show(day)} is not one of {', '.join(_DAYS)}")
            if not isinstance(spec, list):
                self.fail(where, f'must be ["09:00", "17:00"] or a list of such intervals, got {show(spec)}')
            intervals = [spec] if spec and all(isinstance(s, str) for s in spec) else spec
            checked = sorted(self._interval(where, interval) for interval in intervals)
            for before, after in itertools.pairwise(checked):
                if after[0] < before[1]:
                    self.fail(where, f"intervals {show(before)} and {show(after)} overlap")
            if checked:
                hours[day] = checked
        return {day: hours[day] for day in _DAYS if day in hours}

    def _interval(self, where: str, interval: Any) -> list[str]:
        ok = isinstance(interval, list) and len(interval) == 2 and all(isinstance(t, str) for t in interval)
        if not ok or not all(_CLOCK.match(t) for t in interval):
            self.fail(where, f'{show(interval)} is not an interval ["HH:MM", "HH:MM"]')
        start, end = interval
        if not start < end:
            self.fail(where, f"start {start} is not before end {end}")
        return [start, end]
