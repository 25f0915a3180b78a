"""Engine and session factory: one AsyncSession per task, expire_on_commit off."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

__all__ = ["make_engine", "make_sessionmaker"]


def make_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    """An asyncpg engine; `url` must already be postgresql+asyncpg://."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "casegraph", "timezone": "UTC"}},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
