"""Business calendars as data for SQL: the open spans domain.calendar generates, stored per calendar.

The SLA view counts open seconds in a policy's calendar (the at-risk instant, a running pause).
PostgreSQL does that arithmetic over `calendar_open_spans`, which this module fills from
`domain.calendar.BusinessCalendar.open_spans`, the one definition of a calendar, for a window
around the clock. A span set records the definition it was made from; SQL uses it only while the
calendar's row still matches and the instants lie inside the window, otherwise the request takes
the resolver path (planner.requests). `refresh` runs when the app starts, then periodically, and
soon after a plan met a calendar without current spans.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

import asyncpg

from domain.calendar import calendar_from_json

__all__ = ["SpanRefresher", "refresh"]

log = logging.getLogger("casegraph.planner")

# The window kept around the clock: paused requests and due times lie within it.
BEHIND = timedelta(days=400)
AHEAD = timedelta(days=800)
# A span set is renewed when the clock came this close to one of its ends.
MARGIN = timedelta(days=200)


async def refresh(conn: asyncpg.Connection, now: datetime) -> int:
    """Regenerate the span sets that are missing, stale (calendar edited) or near their window's
    end; the number of calendars regenerated."""
    rows = await conn.fetch(
        """SELECT c.id, c.name, c.time_zone, c.weekly_hours::text AS weekly_hours, c.holidays
             FROM business_calendars c LEFT JOIN calendar_span_sets s ON s.calendar_id = c.id
            WHERE s.calendar_id IS NULL OR s.time_zone <> c.time_zone OR s.weekly_hours <> c.weekly_hours
               OR s.holidays <> c.holidays OR s.covers_from > $1 OR s.covers_to < $2""",
        now - BEHIND + MARGIN,
        now + AHEAD - MARGIN,
    )
    import json

    done = 0
    for row in rows:
        weekly = json.loads(row["weekly_hours"])
        holidays: list[date] = list(row["holidays"] or [])
        try:
            calendar = calendar_from_json(row["time_zone"], weekly, holidays, name=row["name"])
        except ValueError as exc:
            log.warning("read planner: calendar %s has no spans: %s", row["name"], exc)
            continue
        first, last = (now - BEHIND).date(), (now + AHEAD).date()
        spans: list[tuple[datetime, datetime]] = []
        day = first - timedelta(days=1)
        while day <= last + timedelta(days=1):
            spans.extend(calendar.open_spans(day))
            day += timedelta(days=1)
        # Local days overlap in UTC; a span is listed once.
        unique = sorted(set(spans))
        covers_from = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
        covers_to = datetime.combine(last, datetime.min.time(), tzinfo=now.tzinfo)
        async with conn.transaction():
            await conn.execute("DELETE FROM calendar_span_sets WHERE calendar_id = $1", row["id"])
            await conn.execute(
                "INSERT INTO calendar_span_sets (calendar_id, time_zone, weekly_hours, holidays, covers_from,"
                " covers_to) VALUES ($1, $2, $3::jsonb, $4, $5, $6)",
                row["id"],
                row["time_zone"],
                row["weekly_hours"],
                holidays,
                covers_from,
                covers_to,
            )
            await conn.copy_records_to_table(
                "calendar_open_spans",
                records=[(row["id"], a, b) for a, b in unique],
                columns=["calendar_id", "opens_at", "closes_at"],
            )
        done += 1
    return done


class SpanRefresher:
    """Keeps the span sets current for one process: now, every hour, and on demand."""

    def __init__(self, pool: asyncpg.Pool, clock: Callable[[], datetime], every: float = 3600.0) -> None:
        self.pool = pool
        self.clock = clock
        self.every = every
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def run_once(self) -> int:
        # One process regenerates at a time (several workers start together).
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('casegraph.calendar_spans'))")
            return await refresh(conn, self.clock())

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def soon(self) -> None:
        """A plan met a calendar without current spans: regenerate now rather than in an hour."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("read planner: calendar spans not refreshed: %s", exc)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.every)
            await asyncio.sleep(1.0)  # at most one regeneration a second

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
