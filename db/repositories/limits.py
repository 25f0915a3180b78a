"""SQL of the limits (LIMITS.md): rate-limit windows, subscription leases, trusted documents.

The windows and leases change only through the functions of migration 0010, which
take the needed locks and read the database's clock, so that every process and
replica shares one count.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from db.models import TrustedDocument

__all__ = [
    "Window",
    "acquire_subscription_lease",
    "acquire_window",
    "clear_window",
    "delete_expired",
    "rate_limit_rules",
    "read_window",
    "register_documents",
    "release_subscription_lease",
    "renew_subscription_leases",
    "trusted_document",
]

_ACQUIRE = "SELECT acquired FROM rate_limit_acquire($1, $2, $3, $4)"
_READ = (
    "SELECT previous_count, current_count, extract(epoch FROM clock_timestamp() - window_start)::float8 "
    "FROM rate_limit_windows WHERE key = $1"
)


@dataclass(frozen=True, slots=True)
class Window:
    """A sliding-window counter as the `limits` strategies read it (TTLs in seconds)."""

    previous_count: int
    previous_ttl: float
    current_count: int
    current_ttl: float


# The counters and leases are touched on the request path: plain asyncpg, one statement each
# (autocommit; the functions of migration 0010 take their own locks).


async def acquire_window(pool: asyncpg.Pool, *, key: str, limit: int, expiry: float, amount: int) -> bool:
    """Add `amount` to the key's current window if the weighted count stays within `limit`."""
    return bool(await pool.fetchval(_ACQUIRE, key, limit, float(expiry), amount))


async def read_window(pool: asyncpg.Pool, *, key: str, expiry: float) -> Window:
    """The key's counter as of now, without changing it (windows rolled as acquiring would)."""
    row = await pool.fetchrow(_READ, key)
    if row is None:
        return Window(0, 0.0, 0, 0.0)
    previous, current, elapsed = int(row[0]), int(row[1]), float(row[2])
    if elapsed >= 2 * expiry:
        return Window(0, 0.0, 0, 0.0)
    if elapsed >= expiry:
        previous, current, elapsed = current, 0, elapsed - expiry
    return Window(previous, expiry - elapsed, current, 2 * expiry - elapsed)


async def clear_window(pool: asyncpg.Pool, *, key: str | None = None) -> int:
    """Forget one key's counter, or every counter (key None); the number of rows removed."""
    if key is None:
        status = await pool.execute("DELETE FROM rate_limit_windows")
    else:
        status = await pool.execute("DELETE FROM rate_limit_windows WHERE key = $1", key)
    return int(status.rpartition(" ")[2])


async def delete_expired(pool: asyncpg.Pool) -> None:
    """Drop counters whose windows are both over, and leases nobody renewed."""
    await pool.execute("DELETE FROM rate_limit_windows WHERE expires_at < clock_timestamp()")
    await pool.execute("DELETE FROM subscription_leases WHERE expires_at < clock_timestamp()")


async def acquire_subscription_lease(
    pool: asyncpg.Pool, *, principal: str, lease: str, limit: int, ttl: float
) -> bool:
    """Record a live subscription unless the principal already has `limit` of them."""
    stmt = "SELECT subscription_lease_acquire($1, $2, $3, $4)"
    return bool(await pool.fetchval(stmt, principal, lease, limit, ttl))


async def renew_subscription_leases(pool: asyncpg.Pool, *, leases: Collection[str], ttl: float) -> None:
    """Push back the expiry of subscriptions that are still live."""
    if leases:
        await pool.execute(
            "UPDATE subscription_leases SET expires_at = clock_timestamp() + make_interval(secs => $1) "
            "WHERE lease = ANY($2::text[])",
            ttl,
            list(leases),
        )


async def release_subscription_lease(pool: asyncpg.Pool, *, lease: str) -> None:
    await pool.execute("DELETE FROM subscription_leases WHERE lease = $1", lease)


async def trusted_document(conn: AsyncConnection, *, sha256: str) -> str | None:
    """The registered document with this SHA-256 (hex), if any."""
    stmt = select(TrustedDocument.document).where(TrustedDocument.sha256 == sha256)
    return (await conn.execute(stmt)).scalar_one_or_none()


async def register_documents(session: AsyncSession, *, documents: Mapping[str, str]) -> int:
    """Add documents (SHA-256 -> text) to the registry; the number that were new."""
    if not documents:
        return 0
    stmt = (
        insert(TrustedDocument)
        .values([{"sha256": sha, "document": doc} for sha, doc in documents.items()])
        .on_conflict_do_nothing(index_elements=[TrustedDocument.sha256])
        .returning(TrustedDocument.sha256)
    )
    return len((await session.execute(stmt)).all())


async def rate_limit_rules(engine: AsyncEngine) -> dict[str, object] | None:
    """The stored `rate_limits` business rule set (per-role budgets), if there is a row."""
    async with engine.connect() as conn:
        stmt = text("SELECT rules FROM business_rules WHERE name = 'rate_limits'")
        value = (await conn.execute(stmt)).scalar_one_or_none()
    return value if isinstance(value, dict) else None
