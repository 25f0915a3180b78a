"""The SQL vocabulary of the read planner pinned to its Python definitions: JSON strings as orjson
writes them, the contract's DateTime, global IDs, connection cursors, and business calendars' open
seconds counted over the spans planner.calendars stores as domain.calendar counts them."""

from __future__ import annotations

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
