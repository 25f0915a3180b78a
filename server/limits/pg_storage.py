"""A `limits` async storage on PostgreSQL: the sliding-window counter of every process in one table.

The `limits` library brings the rate-limiting strategies and a Redis storage; this
storage lets its sliding-window-counter strategy run on the database when no Redis
is configured. Each acquisition is one statement (`rate_limit_acquire`, migration
0010) that locks the key's row, rolls the windows and adds the amount only when it
fits, so concurrent processes and replicas never overspend a budget between them.

Only the sliding-window counter is offered: the fixed-window strategy counts refused
hits too (LIMITS.md: refused operations consume no points) and the moving window
stores one entry per point, which does not suit budgets of 100,000 points.
"""

from __future__ import annotations

import asyncpg
from limits.aio.storage import Storage
from limits.aio.storage.base import SlidingWindowCounterSupport

from db.repositories import limits as limits_repo

__all__ = ["PostgresStorage"]


class PostgresStorage(Storage, SlidingWindowCounterSupport):
    """Sliding-window counters in table `rate_limit_windows`."""

    STORAGE_SCHEME = None  # built with a connection pool, not from a URI

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(wrap_exceptions=True)
        self.pool = pool

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)

    async def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return await limits_repo.acquire_window(self.pool, key=key, limit=limit, expiry=expiry, amount=amount)

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        window = await limits_repo.read_window(self.pool, key=key, expiry=expiry)
        return window.previous_count, window.previous_ttl, window.current_count, window.current_ttl

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        await limits_repo.clear_window(self.pool, key=key)

    async def clear(self, key: str) -> None:
        await limits_repo.clear_window(self.pool, key=key)

    async def reset(self) -> int | None:
        return await limits_repo.clear_window(self.pool)

    async def check(self) -> bool:
        try:
            await self.pool.fetchval("SELECT 1")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            return False
        return True

    # The fixed-window primitives: not offered (see the module docstring).

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("PostgresStorage offers the sliding-window counter only")

    async def get(self, key: str) -> int:
        raise NotImplementedError("PostgresStorage offers the sliding-window counter only")

    async def get_expiry(self, key: str) -> float:
        raise NotImplementedError("PostgresStorage offers the sliding-window counter only")
