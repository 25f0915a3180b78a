"""Where the database is: DATABASE_URL, or a private server started for this process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from server import pgserver
from server.settings import Settings, asyncpg_url

__all__ = ["database_url"]

_DB_NAME = "casegraph"


async def _ensure_database(server_url: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", _DB_NAME)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{_DB_NAME}"')
    finally:
        await conn.close()


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """postgresql:// URL to use; without DATABASE_URL a private server runs for the block."""
    if settings.database_url:
        yield asyncpg_url(settings.database_url)
        return
    with pgserver.private_postgres(Path(settings.data_dir) / "pgdata") as server:
        asyncio.run(_ensure_database(server.url))
        yield server.url.rsplit("/", 1)[0] + "/" + _DB_NAME
