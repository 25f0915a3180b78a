"""The contract's scalars: DateTime (ISO-8601 with zone), Date, Decimal (string), JSON."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition, scalar

__all__ = ["SCALAR_OVERRIDES", "serialize_datetime"]


def _serialize_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime cannot be serialized")
    value = value.astimezone(dt.UTC)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


# What the API shows of an instant (webhook bodies use it too).
serialize_datetime = _serialize_datetime


def _parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"invalid DateTime {value!r}: expected ISO-8601 with a time zone") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"DateTime {value!r} needs a time zone (e.g. Z or +01:00)")
    try:
        parsed.astimezone(dt.UTC)  # stored and compared in UTC: 9999-12-31T23:00-14:00 is not
    except OverflowError as exc:
        raise ValueError(f"DateTime {value!r} is out of range") from exc
    return parsed


def _parse_date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise ValueError("Date must be an ISO-8601 string")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"invalid Date {value!r}: expected YYYY-MM-DD") from exc


def _serialize_decimal(value: decimal.Decimal) -> str:
    return format(value, "f")


def _parse_decimal(value: Any) -> decimal.Decimal:
    # Floats are refused: money must not pass through binary floating point.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError('Decimal must be a string such as "9850.00"')
    try:
        parsed = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation as exc:
        raise ValueError(f"invalid Decimal {value!r}") from exc
    if not parsed.is_finite():
        raise ValueError(f"invalid Decimal {value!r}")
    # PostgreSQL's numeric holds up to 131,072 digits before the point and 16,383 after.
    if parsed and not (parsed.as_tuple().exponent >= -16383 and parsed.adjusted() < 131072):  # type: ignore[operator]
        raise ValueError(f"Decimal {value!r} is out of range")
    return parsed


def _def(name: str, description: str, serialize: Any, parse: Any) -> ScalarDefinition:
    return scalar(name=name, description=description, serialize=serialize, parse_value=parse)


SCALAR_OVERRIDES: dict[object, Any] = {
    dt.datetime: _def(
        "DateTime", "ISO-8601 with timezone, e.g. 2026-11-23T08:00:00Z", _serialize_datetime, _parse_datetime
    ),
    dt.date: _def("Date", "ISO-8601 calendar date, e.g. 2026-11-23", dt.date.isoformat, _parse_date),
    decimal.Decimal: _def(
        "Decimal", 'exact decimal as a string, e.g. "9850.00"', _serialize_decimal, _parse_decimal
    ),
}

JSON = strawberry.scalars.JSON
