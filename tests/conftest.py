"""Shared fixtures: a real PostgreSQL, one fresh migrated database per test.

Without CASEGRAPH_TEST_DATABASE_URL / DATABASE_URL the suite starts its own
private PostgreSQL (server.pgserver), exactly as `casegraph serve` does.
Each test gets a database cloned from a migrated template (fast, isolated,
repeatable); it is dropped afterwards.
"""

from __future__ import annotations

import gc
import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from server import pgserver
from server.settings import Settings, asyncpg_url, sqlalchemy_url

if TYPE_CHECKING:
    from auth.keys import IssuerKeys

_counter = itertools.count()

# CASEGRAPH_TEST_CLOCK=<ISO instant>: the whole run happens from that instant on (time-machine
# moves datetime.now, time.time and friends, in the tests and the in-process servers alike;
# monotonic time, which asyncio runs on, is left alone). .ci/run runs the tests marked
# `clock` again on a Saturday night that is also a DST change: a test that depends on the
# weekday, the hour or the offset fails there.
TEST_CLOCK = "CASEGRAPH_TEST_CLOCK"


@pytest.fixture(scope="session", autouse=True)
def test_clock() -> Iterator[datetime | None]:
    """The instant the run starts at (CASEGRAPH_TEST_CLOCK), time running from there; else None."""
    value = os.environ.get(TEST_CLOCK)
    if not value:
        yield None
        return
    import time_machine

    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise pytest.UsageError(f"{TEST_CLOCK}={value!r} needs a time zone")
    with time_machine.travel(instant, tick=True):
        yield instant


@pytest.fixture(autouse=True)
def _forget_validated_documents() -> Iterator[None]:
    """After each test, drop strawberry's process-wide validation cache.

    The cache (ValidationCache, 512 entries) is keyed by the schema, and every app a test starts
    builds its own: across the suite it kept hundreds of schemas (millions of objects) alive, and
    the full collection each app runs at start (server.app) took most of a second. A server keeps
    one schema for its life; the tests start a new one per test.
    """
    yield
    from strawberry.extensions.validation_cache import _get_validate_cache

    _get_validate_cache.cache_clear()


@pytest.fixture(autouse=True)
def _freeze_older_objects() -> None:
    """Before each test, move the objects that exist already out of the collector's scans.

    Each app the tests start runs a full collection (server.app, then gc.freeze; gc.unfreeze when
    it stops): in the test process that full collection scanned everything the earlier tests and
    their imports left behind. Frozen, they are skipped; an app's stop puts them back, and they are
    collected as usual by the collections that follow.
    """
    gc.freeze()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """postgresql:// URL of a server where the suite may create databases."""
    configured = os.environ.get("CASEGRAPH_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if configured:
        yield asyncpg_url(configured)
        return
    with (
        tempfile.TemporaryDirectory(prefix="casegraph-test-pg-") as tmp,
        pgserver.private_postgres(Path(tmp) / "data", fast=True) as server,
    ):
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
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}" STRATEGY FILE_COPY')
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


# ---------------------------------------------------------------- the app ----


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings of an app bound to this test's database."""
    return Settings(DATABASE_URL=db_url, CASEGRAPH_ENV="test", CASEGRAPH_WORKERS=False)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    """The real ASGI app with its lifespan running."""
    from server.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client speaking to the app in-process (real HTTP semantics, no socket)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
async def tokens(engine: AsyncEngine, settings: Settings) -> Tokens:
    """Mints real RS256 tokens from the built-in issuer's keys in this test's database."""
    from auth.keys import ensure_signing_key, load_keys

    async with make_sessionmaker(engine)() as s, s.begin():
        await ensure_signing_key(s, allow_generate=True)
    async with make_sessionmaker(engine)() as s:
        keys = await load_keys(s)
    return Tokens(keys=keys, issuer=settings.oauth_issuer, audience=settings.oauth_audience)


class Tokens:
    """Token factory for tests: `tokens.staff("ana@example.com")`, `tokens.customer("C-1001")`."""

    def __init__(self, *, keys: IssuerKeys, issuer: str, audience: str) -> None:
        self.keys, self.issuer, self.audience = keys, issuer, audience

    def mint(
        self,
        subject: str,
        *,
        roles: list[str],
        scopes: list[str] | None = None,
        ttl: int = 3600,
        customer_ref: str | None = None,
        client_id: str | None = None,
    ) -> str:
        from auth.permissions import allowed_scopes
        from auth.tokens import mint_token
        from domain.enums import Role

        return mint_token(
            self.keys,
            issuer=self.issuer,
            audience=self.audience,
            subject=subject,
            roles=roles,
            scopes=scopes if scopes is not None else sorted(allowed_scopes(Role(r) for r in roles)),
            ttl_seconds=ttl,
            customer_ref=customer_ref,
            client_id=client_id,
        )

    def staff(self, email: str, role: str = "ADMIN", scopes: list[str] | None = None, ttl: int = 3600) -> str:
        return self.mint(email, roles=[role], scopes=scopes, ttl=ttl)

    def customer(self, external_ref: str, scopes: list[str] | None = None) -> str:
        return self.mint(
            f"portal@{external_ref.lower()}", roles=["CUSTOMER"], scopes=scopes, customer_ref=external_ref
        )

    def partner(self, client_id: str, scopes: list[str] | None = None) -> str:
        return self.mint(client_id, roles=["PARTNER"], scopes=scopes, client_id=client_id)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[str]:
    """The app served by a real uvicorn on a free loopback port; yields its base URL."""
    from tests.support.live import serving

    async with serving(settings) as url:
        yield url
