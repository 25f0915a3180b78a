"""Engine and session factory: one AsyncSession per task, expire_on_commit off."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from telemetry.request_record import count_statement

__all__ = ["make_engine", "make_sessionmaker"]


def make_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    """An asyncpg engine; `url` must already be postgresql+asyncpg://.

    Every statement is counted into the current request's record (the request log's `sql_statements`).
    """
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "casegraph", "timezone": "UTC"}},
    )
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    return engine


def _count_statement(*_: Any) -> None:
    count_statement()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
