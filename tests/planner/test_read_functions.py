"""The SQL vocabulary of the read planner pinned to its Python definitions: JSON strings as orjson
writes them, the contract's DateTime, global IDs, connection cursors, and business calendars' open
seconds counted over the spans planner.calendars stores as domain.calendar counts them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import orjson

from db.queries.requests import request_ordering
from domain.calendar import business_seconds_between, calendar_from_json
from planner.calendars import refresh
from schema import ids
from schema.scalars import SCALAR_OVERRIDES

TEXTS = [
    "",
    "plain",
    'quote " and \\ backslash',
    "tab\tnew\nline\r",
    "\x01\x1f\x7f",
    "Müller \u2013 東京 \u2028 😀",
    "/",
]
INSTANTS = [
    datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
    datetime(2026, 11, 23, 12, 0, 0, 500, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 59, 999999, tzinfo=timezone(timedelta(hours=2))),
    datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
]
# The open seconds planner.rules counts (its index bound on opens_at aside).
OPEN_SECONDS = """
SELECT coalesce(sum(extract(epoch FROM least(s.closes_at, $3) - greatest(s.opens_at, $2))), 0)
  FROM calendar_open_spans s WHERE s.calendar_id = $1 AND s.opens_at < $3 AND s.closes_at > $2"""
EU = {d: [["08:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def _datetime_json(value: datetime) -> bytes:
    serialize = SCALAR_OVERRIDES[datetime].serialize
    return orjson.dumps(serialize(value))


async def test_json_text_datetime_ids_and_cursors_match_python(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        for text in TEXTS:
            assert (await conn.fetchval("SELECT cg_json_text($1)", text)).encode() == orjson.dumps(text)
        assert await conn.fetchval("SELECT cg_json_text(NULL)") == "null"
        for instant in INSTANTS:
            found = await conn.fetchval("SELECT cg_json_datetime($1)", instant)
            assert found.encode() == _datetime_json(instant)
            assert (
                await conn.fetchval("SELECT cg_isoformat($1)", instant) == instant.astimezone(UTC).isoformat()
            )
        for type_name, pk in (("ServiceRequest", 1), ("AuditEntry", 9_223_372_036_854_775_807)):
            assert (
                await conn.fetchval("SELECT cg_global_id($1, $2)", type_name, pk)
                == f'"{ids.encode(type_name, pk)}"'
            )
        ordering = request_ordering("CREATED_AT", descending=True)
        for instant in INSTANTS:
            payload = f'["{ordering.name}",["{instant.astimezone(UTC).isoformat()}",42]]'
            cursor = await conn.fetchval("SELECT cg_cursor($1)", payload)
            assert cursor == ordering.encode((instant.astimezone(UTC), 42))
    finally:
        await conn.close()


async def test_open_seconds_over_stored_spans_match_the_calendar(db_url: str) -> None:
    """Spans generated around a clock; open seconds between instants across a weekend, a DST
    switch and a holiday are those domain.calendar counts."""
    now = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)
    holidays = ["2026-03-30"]
    conn = await asyncpg.connect(db_url)
    try:
        calendar_id = await conn.fetchval(
            "INSERT INTO business_calendars (name, time_zone, weekly_hours, holidays) "
            "VALUES ('EU test', 'Europe/Berlin', $1::jsonb, $2::date[]) RETURNING id",
            orjson.dumps(EU).decode(),
            [datetime.fromisoformat(h).date() for h in holidays],
        )
        assert await refresh(conn, now) >= 1
        assert await refresh(conn, now) == 0  # current: nothing regenerated
        calendar = calendar_from_json(
            "Europe/Berlin", EU, [datetime.fromisoformat(h).date() for h in holidays]
        )
        starts = [now - timedelta(hours=h, microseconds=7) for h in (0, 5, 30, 80)]
        ends = [now + timedelta(hours=h, seconds=1) for h in (0, 3, 20, 70, 100, 400)]
        for a in starts:
            for z in ends:
                found = await conn.fetchval(OPEN_SECONDS, calendar_id, a, z)
                assert int(found // 1) == business_seconds_between(calendar, a, z), (a, z)
        # An edited calendar no longer matches its spans: they are regenerated.
        await conn.execute("UPDATE business_calendars SET holidays = '{}' WHERE id = $1", calendar_id)
        assert await refresh(conn, now) == 1
    finally:
        await conn.close()


# jsonb texts whose compact JSON is pinned (cg_json, migration 0017): what the write path stores
# (tests.planner.support.AUDIT_VALUES) and what else a jsonb column may hold.
JSON_VALUES = [
    "null",
    "{}",
    "[]",
    '""',
    '"\\u0000x"'.replace("\\u0000", "\\u0001"),
    "true",
    '{"b": 1, "a": 2, "aa": 3, "B": 4, "\\u00e9": 5, "": 6, "a b": null}',
    '{"nested": [[1, [2, [], {}]], {"z": 1, "a": [true, false, null]}], "empty": {}, "list": []}',
    '["quote \\" backslash \\\\ slash \\/ tab \\t nl \\n cr \\r bs \\b ff \\f bell \\u0007 del \\u007f"]',
    '["M\\u00fcller \\u2013 \\u6771\\u4eac \\ud83d\\ude00 \\u2028 \\u2029 \\ufeff", "\\ud7ff\\ue000"]',
    "[0, 100, -7, 9223372036854775807, 9223372036854775808, 18446744073709551615, -9223372036854775808]",
    "[18446744073709551616]",
    "[-9223372036854775809]",
    "[1e20]",
    "[1.50, 1.0, 1.000, 100.0, -2.5e-10, 1e-7, 0.00001, 0.0001, 0.001, 1e15, 1e16, 1.5e18]",
    "[0.333333333333333314829616256247390992939472198486328125, 3.141592653589793, 0.30000000000000004]",
    "[123456789.123, 9007199254740993.0, 1234567890123456.7, 999999999999999.9, 12345678901234567.5]",
    "[-0.0, 0.0, -0, 0.000, 5e-324, 2.2250738585072014e-308, 1e-307, 1e-300, 1.7976931348623157e308]",
    "[1e308, 1.5e308, 1e400, 1e-400, -1e-400]",
    "[1.2345e-5, 1.2345e-6, 9.999999999999999e15, 9.9999999999999999e15, 1.5e16, 123e-20]",
]
REFUSED = "\x02"


def _orjson_of(text: str) -> bytes | None:
    """What the resolver path writes for a jsonb value printed as `text` (None: it cannot)."""
    value = json.loads(text)
    try:
        written = orjson.dumps(value)
    except TypeError:  # an int beyond 64 bits
        return None
    return written


def _undecided(value: object, exact: object) -> bool:
    """Numbers the planner leaves to the resolver path: beyond 64-bit ints, or beyond a double's
    normal range (`exact`: the same value read as Decimals)."""
    from decimal import Decimal

    if isinstance(value, list | dict):
        if isinstance(value, dict):
            assert isinstance(exact, dict)
            return any(_undecided(v, exact[k]) for k, v in value.items())
        assert isinstance(exact, list)
        return any(_undecided(v, e) for v, e in zip(value, exact, strict=True))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    magnitude = abs(Decimal(exact))  # type: ignore[arg-type]
    return magnitude != 0 and not Decimal("1e-307") <= magnitude < Decimal("1e308")


def _random_numbers(count: int) -> list[str]:
    import random

    rng = random.Random(20261205)
    found = []
    for _ in range(count):
        kind = rng.randrange(4)
        if kind == 0:  # a double's shortest text, as json.dumps writes it
            found.append(repr(rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)))
        elif kind == 1:  # a decimal of any scale
            whole = rng.randint(0, 10 ** rng.randint(0, 20))
            fraction = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
            found.append(f"{'-' if rng.random() < 0.3 else ''}{whole}.{fraction}")
        elif kind == 2:  # ints near and beyond 64 bits
            found.append(str(rng.choice([1, -1]) * rng.randint(0, 2**65)))
        else:  # exponent notation around the fixed/exponent boundaries
            found.append(f"{rng.randint(1, 99999)}e{rng.randint(-25, 25)}")
    return found


async def test_jsonb_values_are_written_as_orjson_writes_them_decoded(db_url: str) -> None:
    """cg_json(v) is orjson.dumps(json.loads(v::text)): what SQLAlchemy's asyncpg dialect decodes
    (the standard library's json) and the resolver path writes; REFUSED where that cannot be
    matched exactly (ints beyond 64 bits, numbers beyond a double's normal range)."""
    import json as json_
    from decimal import Decimal

    texts = [*JSON_VALUES, "[" + ", ".join(_random_numbers(3000)) + "]"]
    conn = await asyncpg.connect(db_url)
    try:
        for text in texts:
            printed, written = await conn.fetchrow("SELECT $1::jsonb::text, cg_json($1::jsonb)", text)
            items = json_.loads(printed)
            exact = json_.loads(printed, parse_float=Decimal)
            if isinstance(items, list) and len(items) > 50:  # the random numbers: one by one
                numbers = await conn.fetch(
                    "SELECT e::text, cg_json(e) FROM jsonb_array_elements($1::jsonb) e", text
                )
                for (one, mine), value, value_exact in zip(numbers, items, exact, strict=True):
                    if REFUSED in mine:
                        assert _undecided(value, value_exact), one
                    else:
                        assert mine.encode() == _orjson_of(one), one
                continue
            if REFUSED in written:
                assert _undecided(items, exact), printed
            else:
                assert written.encode() == _orjson_of(printed), printed
        assert await conn.fetchval("SELECT cg_json(NULL)") == "null"
        # What the write path stores reads back as written (the audit chain's canonical text).
        stored = await conn.fetchval("SELECT cg_json($1::jsonb)", json_.dumps({"b": [1.5, "é"], "a": None}))
        assert stored == '{"a":null,"b":[1.5,"é"]}'
    finally:
        await conn.close()
