"""Fixtures of the read-planner tests: one seed-demo database, two apps on it (READ_PLANNER on / off).

Both apps run with the same fixed clock over the same rows, so any difference between their
answers is a difference between the planned path and the resolver path (the reference).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_engine, make_sessionmaker
from server.settings import Settings, sqlalchemy_url
from tests.conftest import Tokens
from tests.planner.support import NOW, PRINCIPALS, Pair, Pool, load_pool, seed_audit, seed_webhooks

REQUESTS = 120  # demo requests: every status, comments, approvals and events, a few pages of each


@pytest.fixture(scope="package")
async def seeded_url(pg_server_url: str, template_db: str) -> AsyncIterator[str]:
    """A migrated database holding the demo organisation and REQUESTS demo requests seeded at NOW."""
    from demo.seed import seed_demo

    name = f"cg_planner_{os.getpid()}"
    conn = await asyncpg.connect(pg_server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()
    url = f"{pg_server_url.rpartition('/')[0]}/{name}"
    engine = make_engine(sqlalchemy_url(url), pool_size=2)
    try:
        await seed_demo(engine, requests=REQUESTS, now=NOW, progress=None)
        await seed_audit(engine)  # seed-demo backfills history and writes no audit entries
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(url)
    try:
        await seed_webhooks(conn)
    finally:
        await conn.close()
    yield url
    conn = await asyncpg.connect(pg_server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="package")
async def seeded_engine(seeded_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(sqlalchemy_url(seeded_url), pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="package")
async def role_tokens(seeded_engine: AsyncEngine) -> dict[str, str]:
    """A real signed token per principal of PRINCIPALS (role name -> token)."""
    from auth.keys import ensure_signing_key, load_keys

    async with make_sessionmaker(seeded_engine)() as s, s.begin():
        await ensure_signing_key(s, allow_generate=True)
    async with make_sessionmaker(seeded_engine)() as s:
        keys = await load_keys(s)
    settings = Settings(CASEGRAPH_ENV="test")
    tokens = Tokens(keys=keys, issuer=settings.oauth_issuer, audience=settings.oauth_audience)
    return {name: p.token(tokens) for name, p in PRINCIPALS.items()}


@pytest.fixture(scope="package")
async def pool(seeded_engine: AsyncEngine) -> Pool:
    return await load_pool(seeded_engine)


@pytest.fixture(scope="package")
async def pair(seeded_url: str, role_tokens: dict[str, str]) -> AsyncIterator[Pair]:
    """The app with READ_PLANNER=on and the app with READ_PLANNER=off, same database, same clock."""
    from server.app import create_app

    def app_for(planner: str) -> Any:
        # The planner's setting (a build without the planner ignores it).
        switch: dict[str, Any] = {"READ_PLANNER": planner}
        settings = Settings(
            DATABASE_URL=seeded_url,
            CASEGRAPH_ENV="test",
            CASEGRAPH_WORKERS=False,
            **switch,
            # The corpus runs thousands of operations as the same few principals.
            RATE_LIMIT_POINTS=1_000_000_000,
            CASEGRAPH_DB_POOL_SIZE=4,
        )
        return create_app(settings, clock=lambda: NOW)

    on, off = app_for("on"), app_for("off")
    async with on.router.lifespan_context(on), off.router.lifespan_context(off):

        def client(app: Any) -> httpx.AsyncClient:
            # A crash is an answer to compare (500), not an exception in the test.
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")

        async with client(on) as c_on, client(off) as c_off:
            yield Pair(on=c_on, off=c_off, tokens=role_tokens)


@pytest.fixture(autouse=True)
def _figures(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Show what the tests print (their figures: runs, planned, fallbacks) even without -s."""
    yield
    out = capsys.readouterr().out
    with capsys.disabled():
        print(out, end="")
