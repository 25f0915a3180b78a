"""Shared fixtures: a real PostgreSQL, one fresh migrated database per test.

Without CASEGRAPH_TEST_DATABASE_URL / DATABASE_URL the suite starts its own
private PostgreSQL (server.pgserver), exactly as `casegraph serve` does.
Each test gets a database cloned from a migrated template (fast, isolated,
repeatable); it is dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from server import pgserver
from server.settings import asyncpg_url, sqlalchemy_url

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """postgresql:// URL of a server where the suite may create databases."""
    configured = os.environ.get("CASEGRAPH_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if configured:
        yield asyncpg_url(configured)
        return
    with tempfile.TemporaryDirectory(prefix="casegraph-test-pg-") as tmp:
        with pgserver.private_postgres(Path(tmp) / "data", fast=True) as server:
            yield server.url


def _with_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
async def template_db(pg_server_url: str) -> AsyncIterator[str]:
    """A migrated database used as the template of every test database."""
    name = f"cg_template_{os.getpid()}"
    conn = await asyncpg.connect(pg_server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = _with_db(pg_server_url, name)
    import asyncio

    await asyncio.to_thread(upgrade, sqlalchemy_url(url))
    yield name
    conn = await asyncpg.connect(pg_server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def db_url(pg_server_url: str, template_db: str) -> AsyncIterator[str]:
    """postgresql:// URL of a fresh, migrated, empty database for this test."""
    name = f"cg_t_{os.getpid()}_{next(_counter)}"
    conn = await asyncpg.connect(pg_server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()
    yield _with_db(pg_server_url, name)
    conn = await asyncpg.connect(pg_server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(sqlalchemy_url(db_url), pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with make_sessionmaker(engine)() as s:
        yield s
