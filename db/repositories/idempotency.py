"""Idempotency keys of createServiceRequest: one request per (token subject, key)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["find_idempotent_request", "lock_idempotency_key", "save_idempotency_key"]


async def lock_idempotency_key(session: AsyncSession, *, subject: str, key: str) -> None:
    """Serialize concurrent retries of one (subject, key) until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": "idempotency:" + json.dumps([subject, key])},
    )


async def find_idempotent_request(session: AsyncSession, *, subject: str, key: str) -> tuple[int, str] | None:
    """(request id, input hash) stored for (subject, key), if any."""
    row = (
        await session.execute(
            text("SELECT request_id, input_hash FROM idempotency_keys WHERE subject = :s AND key = :k"),
            {"s": subject, "k": key},
        )
    ).first()
    return (int(row.request_id), str(row.input_hash)) if row is not None else None


async def save_idempotency_key(
    session: AsyncSession, *, subject: str, key: str, input_hash: str, request_id: int, now: datetime
) -> bool:
    """Remember the request created for (subject, key); False when the key was taken meanwhile."""
    result = await session.execute(
        text(
            "INSERT INTO idempotency_keys (subject, key, input_hash, request_id, created_at) "
            "VALUES (:s, :k, :h, :r, :now) ON CONFLICT (subject, key) DO NOTHING RETURNING request_id"
        ),
        {"s": subject, "k": key, "h": input_hash, "r": request_id, "now": now},
    )
    return result.first() is not None
