"""Live subscriptions per principal across connections, processes and replicas (LIMITS.md).

Each live subscription holds a lease in the shared store (Redis, else PostgreSQL)
that its process renews while it lives; a crashed process's leases run out by
themselves. Taking a lease counts the principal's live ones and adds one in a
single atomic step (a Lua script; a function holding an advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from db.repositories import limits as limits_repo

__all__ = ["LEASE_TTL_SECONDS", "PostgresLeases", "RedisLeases", "SubscriptionLeases", "SubscriptionSlots"]

log = logging.getLogger("casegraph.limits")

LEASE_TTL_SECONDS = 60.0
RENEW_EVERY_SECONDS = 20.0


class SubscriptionLeases(Protocol):
    """Where leases live: take one unless the principal holds `limit`, renew, give back."""

    async def acquire(self, principal: str, lease: str, limit: int) -> bool: ...

    async def renew(self, leases: dict[str, str]) -> None: ...

    async def release(self, principal: str, lease: str) -> None: ...


class PostgresLeases:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def acquire(self, principal: str, lease: str, limit: int) -> bool:
        return await limits_repo.acquire_subscription_lease(
            self.pool, principal=principal, lease=lease, limit=limit, ttl=LEASE_TTL_SECONDS
        )

    async def renew(self, leases: dict[str, str]) -> None:
        await limits_repo.renew_subscription_leases(self.pool, leases=list(leases), ttl=LEASE_TTL_SECONDS)

    async def release(self, principal: str, lease: str) -> None:
        await limits_repo.release_subscription_lease(self.pool, lease=lease)


# KEYS[1]: the principal's sorted set (lease -> expiry, ms); ARGV: lease, limit, ttl (ms).
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""
# KEYS: the principals' sets; ARGV[1]: ttl (ms), then one lease per key.
_RENEW = """
local now = redis.call('TIME')
local expiry = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, 'XX', expiry, ARGV[i + 1])
    redis.call('PEXPIRE', key, tonumber(ARGV[1]))
end
return 1
"""


class RedisLeases:
    def __init__(self, client: Redis) -> None:
        self.client = client
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)

    @staticmethod
    def _key(principal: str) -> str:
        return f"casegraph:subscriptions:{principal}"

    async def acquire(self, principal: str, lease: str, limit: int) -> bool:
        ttl = int(LEASE_TTL_SECONDS * 1000)
        return bool(await self._acquire(keys=[self._key(principal)], args=[lease, limit, ttl]))

    async def renew(self, leases: dict[str, str]) -> None:
        if leases:
            keys = [self._key(principal) for principal in leases.values()]
            await self._renew(keys=keys, args=[int(LEASE_TTL_SECONDS * 1000), *leases])

    async def release(self, principal: str, lease: str) -> None:
        await self.client.zrem(self._key(principal), lease)


_STORE_ERRORS = (RedisError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class SubscriptionSlots:
    """This process's view: takes a lease per subscription, renews the live ones, gives them back."""

    def __init__(self, leases: SubscriptionLeases, *, per_principal: int) -> None:
        self.leases = leases
        self.per_principal = per_principal
        self._live: dict[str, str] = {}  # lease -> principal

    async def take(self, principal: str) -> str | None:
        """A lease id for one more subscription, or None when the principal has no slot left."""
        lease = uuid.uuid4().hex
        try:
            if not await self.leases.acquire(principal, lease, self.per_principal):
                return None
        except _STORE_ERRORS:
            log.warning("subscription-lease store unreachable; subscription not counted", exc_info=True)
            return lease
        self._live[lease] = principal
        return lease

    async def give_back(self, lease: str) -> None:
        principal = self._live.pop(lease, None)
        if principal is None:
            return
        try:
            await self.leases.release(principal, lease)
        except _STORE_ERRORS:
            log.warning("subscription lease %s not released (it expires by itself)", lease, exc_info=True)

    @contextlib.asynccontextmanager
    async def renewing(self) -> AsyncIterator[None]:
        """Renew this process's live leases in the background for the block's duration."""

        async def renew_forever() -> None:
            while True:
                await asyncio.sleep(RENEW_EVERY_SECONDS)
                try:
                    await self.leases.renew(dict(self._live))
                except _STORE_ERRORS:
                    log.warning("subscription leases not renewed", exc_info=True)

        task = asyncio.create_task(renew_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for lease in list(self._live):
                await self.give_back(lease)
