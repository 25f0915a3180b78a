"""Several server processes deliver each attempt exactly once; a sender killed mid-delivery loses
nothing (WEBHOOKS.md: claims with SKIP LOCKED, deliveries as rows)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_sessionmaker
from db.events import notify_events
from server.webhook_sender import WebhookSender
from services.webhooks.config import WebhookConfig
from tests.realtime_api.support import ServerProcess
from tests.support.builders import Builder
from tests.webhooks.conftest import Api, Org, create_endpoint, step
from tests.webhooks.support import Clock, Receiver

ENV = {"WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_RETRY_SCHEDULE": "0.3,0.3,0.3", "WEBHOOK_TIMEOUT": "2"}


async def _announce(engine: AsyncEngine, request_id: int, kind: str) -> None:
    """NOTIFY the event as every writer does (db.events): the senders wake on it, they do not poll."""
    async with engine.begin() as conn:
        await notify_events(conn, request_ids=[request_id], kinds=[kind])


async def _settled(engine: AsyncEngine, count: int, within: float = 30) -> list[tuple[str, int, str]]:
    """Every delivery finished (DELIVERED or FAILED): (webhook-id, attempts, status)."""
    async with asyncio.timeout(within):
        while True:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT webhook_id, attempts, status FROM webhook_deliveries ORDER BY id")
                    )
                ).all()
            if len(rows) == count and all(r.status in ("DELIVERED", "FAILED") for r in rows):
                return [tuple(r) for r in rows]  # type: ignore[misc]
            await asyncio.sleep(0.1)


async def test_two_processes_attempt_once_per_step_and_a_kill_9_loses_nothing(
    engine: AsyncEngine, db_url: str, api: Api, org: Org, hooks: Receiver, clock: Clock
) -> None:
    _, secret = await create_endpoint(api, org.partner, hooks.url("/ok"), ["STATUS_CHANGED"])
    await create_endpoint(api, org.partner, hooks.url("/fail"), ["TRIAGED"])
    await create_endpoint(api, org.partner, hooks.url("/once/hang"), ["ESCALATED"])
    hooks.secrets = [secret]
    processes = [ServerProcess(db_url, workers=True, extra_env=ENV) for _ in range(2)]
    try:
        await asyncio.gather(*(p.ready() for p in processes))
        b = Builder(engine)
        for n in range(10):
            for request in (org.acme_request, org.acme_request_2):
                kind = "TRIAGED" if n == 0 else "STATUS_CHANGED"  # the first of each to /fail
                await b.event(request=request, kind=kind)
                await _announce(engine, request.id, kind)
        rows = await _settled(engine, 20)

        # Then an attempt in flight when every sender is killed (SIGKILL): still owed, not lost.
        await b.event(request=org.acme_request, kind="ESCALATED")
        await _announce(engine, org.acme_request.id, "ESCALATED")
        [first] = await hooks.wait_for("/once/hang", 1)
        for process in processes:
            process._proc.kill()
            await asyncio.to_thread(process._proc.wait)
    finally:
        await asyncio.gather(*(p.stop() for p in processes))

    ok = hooks.at("/ok")
    assert len(ok) == 18 and len({r.webhook_id for r in ok}) == 18  # each exactly once
    assert all(r.verified_by == [0] for r in ok)
    for request in (org.acme_request, org.acme_request_2):  # and in order per request
        number = request.number
        ids = [
            int(r.webhook_id.rsplit("_", 1)[1])
            for r in ok
            if r.json["data"]["serviceRequest"]["number"] == number
        ]
        assert ids == sorted(ids) and len(ids) == 9
    failing = [r for r in rows if r[2] == "FAILED"]
    assert [attempts for _, attempts, _ in failing] == [4, 4]  # 1 + 3 retries, none twice
    fail = hooks.at("/fail")
    assert len(fail) == 8 and all(sum(r.webhook_id == w for r in fail) == 4 for w, _, _ in failing)

    query = text("SELECT status, attempts FROM webhook_deliveries WHERE webhook_id = :id")
    async with engine.connect() as conn:
        assert (await conn.execute(query, {"id": first.webhook_id})).one() == ("PENDING", 1)
    # Once the dead sender's lease (twice the timeout + 30 s) has passed, any sender takes it again.
    clock.now = datetime.now(UTC) + timedelta(seconds=2 * 2 + 31)
    async with WebhookSender(
        make_sessionmaker(engine), config=WebhookConfig(allow_private=True), clock=clock, background=False
    ) as sender:
        assert await step(sender) == 1
    again = hooks.at("/once/hang")[1]
    assert again.webhook_id == first.webhook_id
    async with engine.connect() as conn:
        assert (await conn.execute(query, {"id": first.webhook_id})).one() == ("DELIVERED", 2)
