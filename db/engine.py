"""Engine and session factory: one AsyncSession per task, expire_on_commit off."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_

from telemetry.request_record import count_statement

__all__ = ["make_engine", "make_sessionmaker"]


def make_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    """An asyncpg engine; `url` must already be postgresql+asyncpg://.

    Every statement is counted into the current request's record (the request log's `sql_statements`).
    A connection is checked for life as it leaves the pool (a dead one is replaced, unseen by the
    caller) by the BEGIN of the transaction it is taken for: one round trip, not three (`_begin_as_ping`).
    """
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "casegraph", "timezone": "UTC"}},
    )
    dialect: Any = engine.dialect
    dialect.do_ping = _begin_as_ping
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    return engine


def _begin_as_ping(dbapi_connection: Any) -> bool:
    """The pool's pre-ping: BEGIN the transaction the connection is checked out for.

    SQLAlchemy's asyncpg ping is BEGIN, `;`, ROLLBACK (three round trips, for PgBouncer's transaction
    mode, which casegraph cannot use: LISTEN), and the transaction then sends its own BEGIN. Every
    checkout here is for a transaction (sessions and connections begin on first use), and the
    driver's adapter starts one lazily only when none is open: so the BEGIN sent now both proves
    the connection alive and is the transaction's own. A connection switched to AUTOCOMMIT after
    checkout rolls it back first (the adapter does), as it does any open transaction. A dead
    connection fails the BEGIN with a disconnect error: the pool replaces it, as for any ping.
    """
    adapter = dbapi_connection
    if adapter._transaction is not None or adapter.isolation_level == "autocommit":
        adapter.ping()  # not the state every checkout is in: the driver's own ping
    else:
        await_(adapter._start_transaction())  # raises the DBAPI's error (disconnect or not)
    return True


def _count_statement(*_: Any) -> None:
    count_statement()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
