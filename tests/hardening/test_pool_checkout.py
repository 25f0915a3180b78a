"""What a pooled connection costs on checkout (db.engine): its BEGIN is the pool's liveness check.

A transaction sends BEGIN, its statements and COMMIT, nothing more (SQLAlchemy's own asyncpg ping
added BEGIN, `;`, ROLLBACK before every checkout); a connection PostgreSQL ended while it sat in
the pool is still replaced unseen, and one switched to AUTOCOMMIT runs outside any transaction.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_engine, make_sessionmaker
from server.settings import asyncpg_url, sqlalchemy_url


async def _driver(engine: AsyncEngine) -> Any:
    """The one pooled asyncpg connection of a pool_size=1 engine (checked in again afterwards)."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        return raw.driver_connection


def _sent(log: list[str]) -> list[str]:
    return [q.strip().rstrip(";").upper() for q in log]


async def test_a_transaction_sends_begin_statements_commit_and_nothing_else(db_url: str) -> None:
    engine = make_engine(sqlalchemy_url(db_url), pool_size=1)
    try:
        driver = await _driver(engine)
        log: list[str] = []
        driver.add_query_logger(lambda record: log.append(record.query))
        async with make_sessionmaker(engine)() as session, session.begin():
            assert (await session.execute(text("SELECT 41 + 1"))).scalar_one() == 42
        # The driver logs what it sends outside prepared statements: here BEGIN and COMMIT only.
        assert _sent(log) == ["BEGIN", "COMMIT"]
    finally:
        await engine.dispose()


async def test_statements_after_the_checkout_run_in_the_transaction_its_begin_opened(db_url: str) -> None:
    engine = make_engine(sqlalchemy_url(db_url), pool_size=1)
    try:
        await _driver(engine)  # a pooled connection: the next checkout pings it
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session:
            first = (await session.execute(text("SELECT pg_current_xact_id()::text"))).scalar_one()
            second = (await session.execute(text("SELECT pg_current_xact_id()::text"))).scalar_one()
            await session.rollback()
        assert first == second
        async with sessionmaker() as session:
            third = (await session.execute(text("SELECT pg_current_xact_id()::text"))).scalar_one()
            await session.rollback()
        assert third != first  # rolled back at the end of the session: a new transaction each time
    finally:
        await engine.dispose()


async def test_a_connection_postgresql_ended_in_the_pool_is_replaced_unseen(db_url: str) -> None:
    engine = make_engine(sqlalchemy_url(db_url), pool_size=1)
    try:
        driver = await _driver(engine)
        old_pid = driver.get_server_pid()
        admin = await asyncpg.connect(asyncpg_url(db_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", old_pid)
        finally:
            await admin.close()
        async with make_sessionmaker(engine)() as session, session.begin():
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert pid != old_pid
    finally:
        await engine.dispose()


async def test_autocommit_after_checkout_runs_outside_a_transaction(db_url: str) -> None:
    engine = make_engine(sqlalchemy_url(db_url), pool_size=1)
    try:
        await _driver(engine)
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            # No transaction is open: each statement is its own, so the transaction ids differ.
            first = (await auto.execute(text("SELECT pg_current_xact_id()::text"))).scalar_one()
            second = (await auto.execute(text("SELECT pg_current_xact_id()::text"))).scalar_one()
        assert first != second
    finally:
        await engine.dispose()
