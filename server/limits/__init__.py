"""What one caller may ask of the server (LIMITS.md): cost, budgets, trusted documents, bodies.

    async with open_limits(settings, services, schema) as limits:   # in the app's lifespan
        admission = await limits.admit(OperationRequest(query, variables, name, extensions), principal)
        ...  # run the operation; the response's top-level extensions: admission.extensions()

Every execution path calls `Limits.admit` before it runs an operation and reports its
`Admission`; refusals are `Refusal` exceptions carrying code, status and cost, answered
over HTTP by `refusal_response`. The shared store is Redis when BROADCAST_URL is
redis://, else PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import strawberry
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis

from db.repositories import limits as limits_repo
from resolvers.context import AppServices
from server.limits.admission import ALL_OPERATION_TYPES, Admission, Limits, OperationRequest, RoleBudgets
from server.limits.documents import DocumentAnalyser, PersistedDocuments
from server.limits.errors import CostReport, Refusal
from server.limits.http import refusal_response
from server.limits.pg_storage import PostgresStorage
from server.limits.rate import Budgets
from server.limits.subscriptions import PostgresLeases, RedisLeases, SubscriptionLeases, SubscriptionSlots
from server.schema import MAX_TOKENS, validation_rules
from server.settings import Settings, asyncpg_url

__all__ = [
    "ALL_OPERATION_TYPES",
    "SUBSCRIPTIONS_PER_PRINCIPAL",
    "Admission",
    "CostReport",
    "Limits",
    "OperationRequest",
    "Refusal",
    "open_limits",
    "refusal_response",
]

log = logging.getLogger("casegraph.limits")

SUBSCRIPTIONS_PER_PRINCIPAL = 200
CLEANUP_EVERY_SECONDS = 300.0


def _redis_url(settings: Settings) -> str | None:
    url = settings.broadcast_url
    return url if url and url.split("://", 1)[0] in ("redis", "rediss") else None


@contextlib.asynccontextmanager
async def open_limits(
    settings: Settings, services: AppServices, schema: strawberry.Schema
) -> AsyncIterator[Limits]:
    """The process's limits for the app's lifetime (owns its Redis clients and background renewals)."""
    redis_url = _redis_url(settings)
    storage: Storage
    leases: SubscriptionLeases
    redis: Redis | None = None
    pool: asyncpg.Pool | None = None
    if redis_url:
        redis = Redis.from_url(redis_url)
        # One connection pool for the budgets (limits' storage) and the subscription leases.
        storage = RedisStorage(
            "async+" + redis_url,
            implementation="redispy",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            wrap_exceptions=True,
        )
        leases = RedisLeases(redis)
    else:
        assert settings.database_url is not None
        # Counters are touched on the request path: a small pool of plain connections, one
        # statement per acquisition (no ORM, no pre-ping, no explicit transaction).
        pool = await asyncpg.create_pool(
            asyncpg_url(settings.database_url),
            min_size=1,
            max_size=8,
            server_settings={"application_name": "casegraph-limits"},
        )
        storage = PostgresStorage(pool)
        leases = PostgresLeases(pool)
    slots = SubscriptionSlots(leases, per_principal=SUBSCRIPTIONS_PER_PRINCIPAL)
    role_budgets = RoleBudgets(services.engine, default=settings.rate_limit_points)
    limits = Limits(
        schema=schema._schema,
        analyser=DocumentAnalyser(schema._schema, rules=validation_rules(), max_tokens=MAX_TOKENS),
        documents=PersistedDocuments(services.engine, mode=settings.trusted_documents),
        budgets=Budgets(
            storage,
            points_for=role_budgets.points_for,
            points_now=role_budgets.points_now,
            clock=services.clock,
        ),
        slots=slots,
        client_authentications=SlidingWindowCounterRateLimiter(storage),
        cost_limit=settings.query_cost_limit,
        enabled=settings.limits_enabled,
    )
    try:
        async with slots.renewing(), _cleaning(pool):
            yield limits
    finally:
        await limits.budgets.close()  # top-ups under way finish before their store closes
        if redis is not None:
            await redis.aclose()
        if pool is not None:
            await pool.close()


@contextlib.asynccontextmanager
async def _cleaning(pool: asyncpg.Pool | None) -> AsyncIterator[None]:
    """Drop spent counters and dead leases from PostgreSQL now and then (Redis expires its own)."""

    async def clean_forever(pool: asyncpg.Pool) -> None:
        while True:
            await asyncio.sleep(CLEANUP_EVERY_SECONDS)
            try:
                await limits_repo.delete_expired(pool)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                log.warning("expired rate-limit rows not deleted", exc_info=True)

    task = None if pool is None else asyncio.create_task(clean_forever(pool))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
