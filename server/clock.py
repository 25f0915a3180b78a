"""The server's clock: the one source of "now" for the API, the SLA engine and the demo seed.

Time is an input: `create_app` takes a clock (tests pass their own), and without one the
server reads real UTC time, or, with CASEGRAPH_CLOCK set to an instant, time running from
that instant at the real pace. A demo or a browser test can so stand on a Tuesday
afternoon whatever the day it runs on (frontend-sdk/tests/global-setup.ts does).

Each process starts its clock when it first asks for it: two processes started a second
apart are a second apart on a shifted clock too (a demo's tolerance, not a production one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "server_clock"]

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def server_clock(start: datetime | None, *, production: bool = False) -> Clock:
    """Real UTC time, or time running from `start` (CASEGRAPH_CLOCK; refused in production)."""
    if start is None:
        return _utcnow
    if production:
        raise RuntimeError("CASEGRAPH_CLOCK shifts the server's clock: not in production")
    offset = start.astimezone(UTC) - _utcnow()

    def shifted() -> datetime:
        return _utcnow() + offset

    return shifted
