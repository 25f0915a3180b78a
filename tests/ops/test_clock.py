"""The server's clock: real time, or time running from CASEGRAPH_CLOCK (never in production)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from server.clock import server_clock
from server.settings import Settings

TUESDAY = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


async def test_a_set_clock_starts_at_its_instant_and_runs() -> None:
    clock = server_clock(Settings(CASEGRAPH_CLOCK="2026-11-24T15:00:00+01:00").clock_start)
    first = clock()
    assert timedelta(0) <= first - TUESDAY < timedelta(seconds=1)
    await asyncio.sleep(0.05)
    assert clock() > first


def test_without_a_setting_the_clock_is_real_time() -> None:
    now = server_clock(None)()
    assert now.tzinfo is not None and abs(now - datetime.now(UTC)) < timedelta(seconds=1)


def test_a_set_clock_is_refused_in_production() -> None:
    with pytest.raises(RuntimeError, match="not in production"):
        server_clock(TUESDAY, production=True)


def test_a_clock_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Settings(CASEGRAPH_CLOCK="2026-11-24T15:00:00")


async def test_the_app_runs_on_the_set_clock(db_url: str) -> None:
    from server.app import create_app

    settings = Settings(
        DATABASE_URL=db_url,
        CASEGRAPH_ENV="test",
        CASEGRAPH_WORKERS=False,
        CASEGRAPH_CLOCK=TUESDAY.isoformat(),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert timedelta(0) <= app.state.services.clock() - TUESDAY < timedelta(seconds=5)
