"""Migrations upgrade an empty database to head, and the models match them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Base


async def test_upgrade_from_empty_reaches_head_with_defaults(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        policies = (await conn.execute(text("SELECT count(*) FROM sla_policies"))).scalar_one()
        head = (await conn.execute(text("SELECT sequence FROM audit_head"))).scalar_one()
    assert policies == 12
    assert head == 0


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    def diff(sync_conn: object) -> list[object]:
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(ctx, Base.metadata))

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def test_request_numbers_grow_past_six_digits(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("SELECT setval('service_request_number_seq', 999998)"))
        numbers = [
            (await conn.execute(text("SELECT next_service_request_number()"))).scalar_one() for _ in range(2)
        ]
    assert numbers == ["SR-999999", "SR-1000000"]
