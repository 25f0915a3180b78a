"""Alembic, driven from code: upgrade, and whether the database is at head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["alembic_config", "is_current", "upgrade"]

_HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    """Config pointing at db/migrations with the given postgresql+asyncpg:// URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations (blocking; runs its own event loop inside env.py)."""
    command.upgrade(alembic_config(url), revision)


async def is_current(conn: AsyncConnection, url: str) -> bool:
    """True when the database's revision is the code's head."""
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())

    def _current(sync_conn: object) -> set[str]:
        return set(MigrationContext.configure(sync_conn).get_current_heads())  # type: ignore[arg-type]

    return await conn.run_sync(_current) == heads
