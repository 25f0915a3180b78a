"""The shared stores: the PostgreSQL storage of the `limits` sliding window, leases, retry times."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from limits import RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.principal import Principal
from domain.enums import Role
from server.limits import admission
from server.limits.admission import RoleBudgets
from server.limits.pg_storage import PostgresStorage
from server.limits.rate import Budgets, RateLimited, principal_key, seconds_until_available
from server.limits.subscriptions import PostgresLeases, RedisLeases, SubscriptionLeases
from tests.support.graphql import staff_principal


async def _age(engine: AsyncEngine, seconds: float) -> None:
    """Move every window `seconds` into the past (as if that much time went by)."""
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE rate_limit_windows SET window_start = window_start - make_interval(secs => :s)"),
            {"s": seconds},
        )


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(db_url, min_size=1, max_size=2) as created:
        yield created


async def test_the_postgresql_storage_is_a_sliding_window_counter(
    engine: AsyncEngine, pool: asyncpg.Pool
) -> None:
    limiter = SlidingWindowCounterRateLimiter(PostgresStorage(pool))
    item = RateLimitItemPerMinute(10)
    assert await limiter.hit(item, "k", cost=6)
    assert not await limiter.hit(item, "k", cost=5)  # refused: nothing added
    assert await limiter.hit(item, "k", cost=4)
    assert not await limiter.hit(item, "k")
    assert (await limiter.get_window_stats(item, "k")).remaining == 0
    assert await limiter.hit(item, "other", cost=10)  # keys are apart

    # The full window becomes the previous one, weighing floor(10 x (60 - a few ms) / 60) = 9 at first.
    await _age(engine, 60)
    assert not await limiter.hit(item, "k", cost=2)
    await _age(engine, 30)  # half-way (and a few ms): the previous window weighs 4
    assert await limiter.test(item, "k", cost=6)
    assert not await limiter.test(item, "k", cost=7)
    assert await limiter.hit(item, "k", cost=6)
    assert not await limiter.hit(item, "k")
    previous, previous_ttl, current, current_ttl = await limiter.storage.get_sliding_window(  # type: ignore[attr-defined]
        item.key_for("k"), 60
    )
    assert (previous, current) == (10, 6)
    assert 29 <= previous_ttl <= 30 and 89 <= current_ttl <= 90

    await _age(engine, 120)  # both windows over
    assert await limiter.hit(item, "k", cost=10)
    await limiter.clear(item, "k")
    assert await limiter.hit(item, "k", cost=10)


def test_retry_after_waits_for_enough_points_to_free_up() -> None:
    # Only the previous window stands in the way: it weighs 40 of 100 now, shrinking over 30 s.
    assert seconds_until_available((80, 30.0, 50, 90.0), expiry=60, limit=100, amount=10) == pytest.approx(
        30 - 40 * 60 / 80
    )
    assert seconds_until_available((0, 0.0, 50, 90.0), expiry=60, limit=100, amount=10) == 0
    # The current window alone is too full: wait for it to turn over (30 s), then shrink.
    assert seconds_until_available((0, 0.0, 100, 90.0), expiry=60, limit=100, amount=10) == pytest.approx(
        30 + 60 - 90 * 60 / 100
    )
    assert seconds_until_available((0, 0.0, 0, 0.0), expiry=60, limit=100, amount=101) == 120


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=["postgresql", "redis"])
async def leases(request: pytest.FixtureRequest, pool: asyncpg.Pool) -> SubscriptionLeases:
    if request.param == "postgresql":
        return PostgresLeases(pool)
    if not _redis_reachable():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    from redis.asyncio import Redis

    return RedisLeases(Redis.from_url("redis://127.0.0.1:6379"))


async def test_leases_count_per_principal_and_come_back(leases: SubscriptionLeases) -> None:
    principal = f"staff:{uuid.uuid4().hex}@example.com"  # a Redis may be shared with other runs
    taken = [uuid.uuid4().hex for _ in range(3)]
    for lease in taken:
        assert await leases.acquire(principal, lease, 3)
    assert not await leases.acquire(principal, uuid.uuid4().hex, 3)
    assert await leases.acquire(f"{principal}-other", uuid.uuid4().hex, 3)
    await leases.renew({lease: principal for lease in taken})
    await leases.release(principal, taken[0])
    assert await leases.acquire(principal, uuid.uuid4().hex, 3)
    if isinstance(leases, RedisLeases):
        await leases.client.aclose()


async def test_leases_of_a_dead_process_run_out(engine: AsyncEngine, pool: asyncpg.Pool) -> None:
    leases = PostgresLeases(pool)
    for _ in range(2):
        assert await leases.acquire("staff:a@example.com", uuid.uuid4().hex, 2)
    assert not await leases.acquire("staff:a@example.com", uuid.uuid4().hex, 2)
    async with engine.begin() as conn:  # nobody renewed them
        await conn.execute(text("UPDATE subscription_leases SET expires_at = now() - interval '1 second'"))
    assert await leases.acquire("staff:a@example.com", uuid.uuid4().hex, 2)


class _CountingStorage(PostgresStorage):
    """The PostgreSQL storage, counting the acquisitions that reach the database."""

    acquisitions = 0

    async def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        self.acquisitions += 1
        return await super().acquire_sliding_window_entry(key, limit, expiry, amount)


async def test_a_busy_principal_takes_points_ahead_by_its_demand(pool: asyncpg.Pool) -> None:
    # 300 pages of 1,401 points each (bench/peer_page.py's page) for one principal with a large
    # budget: the lease follows the demand, so the store is asked a few times, not 300 times, and
    # every point spent is counted in the shared window.
    storage = _CountingStorage(pool)
    budget = 10**9

    async def points_for(_: Principal) -> int:
        return budget

    budgets = Budgets(storage, points_for=points_for, clock=lambda: datetime.now(UTC))
    principal = staff_principal(1, "busy@example.com", Role.ADMIN)
    for _ in range(300):
        assert await budgets.spend(principal, 1_401) is not None
    assert storage.acquisitions <= 12
    previous, _, current, _ = await storage.get_sliding_window(
        RateLimitItemPerMinute(budget).key_for(principal_key(principal)), 60
    )
    assert 300 * 1_401 <= previous + current <= 300 * 1_401 + budget // 100  # at most 1 % held ahead


class _SlowStorage(_CountingStorage):
    """The PostgreSQL storage, each acquisition 50 ms slower (a store across a network)."""

    async def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        await asyncio.sleep(0.05)
        return await super().acquire_sliding_window_entry(key, limit, expiry, amount)


async def test_a_busy_principal_never_waits_for_the_store_once_its_lease_follows_demand(
    pool: asyncpg.Pool,
) -> None:
    # 32 concurrent callers of one principal for 0.8 s, spending about 3 million points a second.
    # The first leases are small (1,000 points) and grow with the demand; from then on the next
    # lease is taken in the background before the held points run out, so no operation waits the
    # store's 50 ms (taken on demand, a lease of 1 % of this budget lasts a third of a second:
    # some would). Every point paid is counted in the shared window, and never more than one
    # lease is held ahead.
    storage = _SlowStorage(pool)
    budget = 10**8

    async def points_for(_: Principal) -> int:
        return budget

    budgets = Budgets(storage, points_for=points_for, clock=lambda: datetime.now(UTC))
    principal = staff_principal(4, "steady-stream@example.com", Role.ADMIN)
    began = time.perf_counter()
    waits: list[tuple[float, float]] = []  # (when, how long) per operation

    async def caller() -> None:
        while (start := time.perf_counter()) - began < 0.8:
            assert await budgets.spend(principal, 100) is not None
            waits.append((start - began, time.perf_counter() - start))
            await asyncio.sleep(0.001)

    await asyncio.gather(*(caller() for _ in range(32)))
    await budgets.close()
    settled = [wait for at, wait in waits if at > 0.3]
    assert len(settled) > 1_000 and storage.acquisitions >= 3
    assert max(settled) < 0.04, f"an operation waited {max(settled) * 1000:.0f} ms for the store"
    previous, _, current, _ = await storage.get_sliding_window(
        RateLimitItemPerMinute(budget).key_for(principal_key(principal)), 60
    )
    paid = len(waits) * 100
    assert paid <= previous + current <= paid + budget // 100


async def test_a_background_top_up_stops_when_the_budget_cannot_spare_a_lease(pool: asyncpg.Pool) -> None:
    storage = _CountingStorage(pool)

    async def points_for(_: Principal) -> int:
        return 200_000  # leases of 1,000 + the cost: the budget runs out after ~190 operations

    budgets = Budgets(storage, points_for=points_for, clock=lambda: datetime.now(UTC))
    principal = staff_principal(5, "spender@example.com", Role.AGENT)
    refused = 0
    for _ in range(400):
        try:
            await budgets.spend(principal, 1_000)
        except RateLimited:
            refused += 1
        await asyncio.sleep(0)
    await budgets.close()
    assert refused == 400 - 200  # spent to its last point, and not one more
    before = storage.acquisitions
    for _ in range(20):
        await asyncio.sleep(0)
    assert storage.acquisitions == before  # no top-up keeps knocking on an empty budget


async def test_a_small_budget_is_never_held_ahead_beyond_one_percent(pool: asyncpg.Pool) -> None:
    storage = _CountingStorage(pool)

    async def points_for(_: Principal) -> int:
        return 100_000

    budgets = Budgets(storage, points_for=points_for, clock=lambda: datetime.now(UTC), refill=False)
    principal = staff_principal(2, "steady@example.com", Role.AGENT)
    for _ in range(20):
        await budgets.spend(principal, 1_401)  # more than 1 % each: one acquisition per operation
    assert storage.acquisitions == 20
    previous, _, current, _ = await storage.get_sliding_window(
        RateLimitItemPerMinute(100_000).key_for(principal_key(principal)), 60
    )
    assert previous + current == 20 * 1_401 + 1_000


async def test_held_points_are_spent_without_waiting_from_the_budget_in_force(pool: asyncpg.Pool) -> None:
    storage = _CountingStorage(pool)
    budget = 100_000

    async def points_for(_: Principal) -> int:
        return budget

    def points_now(_: Principal) -> int:
        return budget

    budgets = Budgets(
        storage, points_for=points_for, points_now=points_now, clock=lambda: datetime.now(UTC), refill=False
    )
    principal = staff_principal(3, "quick@example.com", Role.AGENT)
    assert budgets.spend_now(principal, 1) is None  # nothing held yet
    first = await budgets.spend(principal, 1)  # 1 point and 1,000 ahead
    assert first is not None and first.remaining == budget - 1
    paid = budgets.spend_now(principal, 10)
    assert paid is not None and paid.remaining == budget - 11
    assert budgets.spend_now(principal, 991) is None  # 990 held: not enough, nothing taken
    last = budgets.spend_now(principal, 990)
    assert last is not None and last.remaining == budget - 1_001
    assert storage.acquisitions == 1
    key = RateLimitItemPerMinute(budget).key_for(principal_key(principal))
    previous, _, current, _ = await storage.get_sliding_window(key, 60)
    assert previous + current == 1_001  # what was paid locally had been taken from the window

    # The same caller as another object (a new token) pays from the same held points once seen.
    await budgets.spend(principal, 1)  # a new lease
    twin = dataclasses.replace(principal)
    assert budgets.spend_now(twin, 1) is None
    assert await budgets.spend(twin, 1) is not None
    assert storage.acquisitions == 2
    assert budgets.spend_now(twin, 1) is not None

    budget = 50_000  # its budget changed (the business rules): held points were taken from another
    assert budgets.spend_now(principal, 1) is None


async def test_role_budgets_answer_without_waiting_until_the_rules_are_due(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    roles = RoleBudgets(engine, default=1_000)
    now = datetime.now(UTC)
    customer = Principal(
        subject="portal@c-1", roles=frozenset({Role.CUSTOMER}), scopes=frozenset(), expires_at=now
    )
    assert roles.points_now(customer) is None  # never read
    assert await roles.points_for(customer) == 1_000
    assert roles.points_now(customer) == 1_000
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE business_rules SET rules = CAST(:r AS jsonb) WHERE name = 'rate_limits'"),
            {"r": json.dumps({"points_per_minute_by_role": {"CUSTOMER": 40}})},
        )
    assert roles.points_now(customer) == 1_000  # read every 30 s
    monkeypatch.setattr(admission, "RULES_TTL_SECONDS", -1.0)  # due now
    assert roles.points_now(customer) is None
    another = dataclasses.replace(customer, subject="portal@c-2")
    assert await roles.points_for(another) == 40  # the rules are read again, for another caller
    monkeypatch.setattr(admission, "RULES_TTL_SECONDS", 30.0)
    assert roles.points_now(customer) == 40
