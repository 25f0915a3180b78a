"""Deliveries end to end (WEBHOOKS.md): written with the event, signed (verified by the stock
`standardwebhooks` library), retried by the schedule on the test's clock, ordered per request,
isolated per endpoint, and only what the owner may see."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.webhooks import RETRY_SCHEDULE
from records.rows import RequestRow
from schema import ids
from schema.scalars import serialize_datetime
from server.webhook_sender import WebhookSender
from tests.support.builders import Builder, gid
from tests.webhooks.conftest import Api, Org, create_endpoint, step
from tests.webhooks.support import Clock, Receiver


async def _event(
    engine: AsyncEngine, clock: Clock, request: RequestRow, kind: str = "STATUS_CHANGED", **kw: object
) -> int:
    """An event committed as every writer commits one (its deliveries come with it)."""
    row = await Builder(engine).event(request=request, kind=kind, occurred_at=clock.now, **kw)  # type: ignore[arg-type]
    return row.id


async def _deliveries(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM webhook_deliveries ORDER BY id"))
        return [dict(r._mapping) for r in rows]


async def test_partner_receives_its_customers_events_signed_and_nothing_else(
    engine: AsyncEngine, api: Api, org: Org, sender: WebhookSender, hooks: Receiver, clock: Clock
) -> None:
    endpoint_id, secret = await create_endpoint(
        api, org.partner, hooks.url("/ok"), ["STATUS_CHANGED", "COMMENTED"]
    )
    admin_endpoint, admin_secret = await create_endpoint(
        api, org.admin, hooks.url("/ok-admin"), ["COMMENTED"]
    )
    hooks.secrets = [secret, admin_secret]
    b = Builder(engine)
    public = await b.comment(request=org.acme_request, body="We refunded you.")
    internal = await b.comment(request=org.acme_request, body="Customer is difficult.", visibility="INTERNAL")
    await _event(
        engine, clock, org.acme_request, "STATUS_CHANGED", from_status="NEW", to_status="IN_PROGRESS"
    )
    await _event(engine, clock, org.other_request)  # another customer's: never the partner's
    await _event(engine, clock, org.acme_request, "COMMENTED", comment=internal)
    await _event(engine, clock, org.acme_request, "COMMENTED", comment=public)
    await _event(engine, clock, org.acme_request, "TRIAGED")  # a kind it did not ask for

    # Rows in the events' own transactions: 2 for the partner, 2 COMMENTED for the ADMIN endpoint.
    assert len(await _deliveries(engine)) == 4
    # One request: each endpoint's second event waits for its first to succeed.
    assert await step(sender) == 2
    assert await step(sender) == 2

    partner = hooks.at("/ok")
    assert [r.json["type"] for r in partner] == ["STATUS_CHANGED", "COMMENTED"]
    assert all(r.verified_by == [0] for r in partner)  # the stock library accepts our signature
    first = partner[0].json
    assert first["data"]["serviceRequest"] == {
        "id": gid(org.acme_request),
        "number": org.acme_request.number,
        "status": "IN_PROGRESS",
        "priority": "MEDIUM",
        "version": org.acme_request.version,
        "customerExternalRef": "C-1001",
    }
    assert (first["data"]["fromStatus"], first["data"]["toStatus"]) == ("NEW", "IN_PROGRESS")
    assert first["data"]["comment"] is None and first["data"]["approval"] is None
    assert partner[1].json["data"]["comment"]["body"] == "We refunded you."
    assert "difficult" not in b"".join(r.body for r in partner).decode()
    assert partner[0].headers["webhook-id"] != partner[1].headers["webhook-id"]
    # The ADMIN's endpoint receives the INTERNAL comment too.
    admin = hooks.at("/ok-admin")
    assert [r.json["data"]["comment"]["visibility"] for r in admin] == ["INTERNAL", "PUBLIC"]
    assert all(r.verified_by == [1] for r in admin)
    assert {d["status"] for d in await _deliveries(engine)} == {"DELIVERED"}
    assert endpoint_id != admin_endpoint


async def test_retries_follow_the_schedule_with_the_same_webhook_id_then_fail(
    engine: AsyncEngine, api: Api, org: Org, sender: WebhookSender, hooks: Receiver, clock: Clock
) -> None:
    _, secret = await create_endpoint(api, org.partner, hooks.url("/fail"), ["STATUS_CHANGED"])
    hooks.secrets = [secret]
    await _event(engine, clock, org.acme_request)
    assert await step(sender) == 1
    for attempt, delay in enumerate(RETRY_SCHEDULE, start=1):
        [row] = await _deliveries(engine)
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("RETRYING", attempt, 500)
        assert row["next_attempt_at"] == clock.now + delay  # jitter drawn at the middle: none
        clock.advance(delay - timedelta(seconds=1))
        assert await step(sender) == 0  # not due yet
        clock.advance(timedelta(seconds=1))
        assert await step(sender) == 1
    [row] = await _deliveries(engine)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("FAILED", 11, None)
    assert len(hooks.at("/fail")) == 11
    assert len({r.webhook_id for r in hooks.at("/fail")}) == 1
    assert all(r.verified_by == [0] for r in hooks.at("/fail"))
    # 11 attempts over ~2 days: failing, but not yet 5 days without a success.
    clock.advance(timedelta(days=1))
    assert await step(sender) == 0


async def test_410_disables_the_endpoint_at_once_audited(
    engine: AsyncEngine, api: Api, org: Org, sender: WebhookSender, hooks: Receiver, clock: Clock
) -> None:
    endpoint_id, _ = await create_endpoint(api, org.partner, hooks.url("/gone"), ["STATUS_CHANGED"])
    await _event(engine, clock, org.acme_request)
    await _event(engine, clock, org.acme_request_2)
    await step(sender)
    rows = await _deliveries(engine)
    assert sorted(str(r["status"]) for r in rows) == ["FAILED", "FAILED"]
    async with engine.connect() as conn:
        enabled, reason = (
            await conn.execute(text("SELECT enabled, disabled_reason FROM webhook_endpoints"))
        ).one()
        audit = (
            await conn.execute(
                text("SELECT count(*) FROM audit_entries WHERE action = 'webhook_endpoint.disable'")
            )
        ).scalar_one()
    assert (enabled, reason, audit) == (False, "410 Gone", 1)
    # A disabled endpoint gets no new deliveries, until its owner turns it back on.
    await _event(engine, clock, org.acme_request)
    assert len(await _deliveries(engine)) == 2
    enable = """
    mutation($input: UpdateWebhookEndpointInput!) {
      updateWebhookEndpoint(input: $input) { endpoint { enabled disabledReason } userErrors { code } }
    }
    """
    result = await api(org.partner, enable, {"input": {"id": endpoint_id, "enabled": True}})
    payload = result.data["updateWebhookEndpoint"]  # type: ignore[index]
    assert payload == {"endpoint": {"enabled": True, "disabledReason": None}, "userErrors": []}
    await _event(engine, clock, org.acme_request)
    assert len(await _deliveries(engine)) == 3


async def test_an_endpoint_failing_for_five_days_is_disabled(
    engine: AsyncEngine, api: Api, org: Org, sender: WebhookSender, hooks: Receiver, clock: Clock
) -> None:
    await create_endpoint(api, org.partner, hooks.url("/fail"), ["STATUS_CHANGED"])
    await _event(engine, clock, org.acme_request)
    await step(sender)
    for _ in range(2):  # two more days of failures, one per request: still enabled
        clock.advance(timedelta(days=2))
        await _event(engine, clock, org.acme_request_2)
        await step(sender)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT enabled FROM webhook_endpoints"))).scalar_one() is True
    clock.advance(timedelta(days=1, seconds=1))  # 5 days since the first failure, no success since
    await _event(
        engine,
        clock,
        org.other_request.__class__(**{**org.acme_request_2.__dict__}) if False else org.acme_request_2,
    )
    await step(sender)
    async with engine.connect() as conn:
        enabled, reason = (
            await conn.execute(text("SELECT enabled, disabled_reason FROM webhook_endpoints"))
        ).one()
        audit = (
            await conn.execute(
                text("SELECT count(*) FROM audit_entries WHERE action = 'webhook_endpoint.disable'")
            )
        ).scalar_one()
    assert (enabled, reason, audit) == (False, "no successful delivery for 5 days", 1)


async def test_per_request_order_and_other_requests_do_not_wait(
    engine: AsyncEngine, api: Api, org: Org, sender: WebhookSender, hooks: Receiver, clock: Clock
) -> None:
    await create_endpoint(api, org.partner, hooks.url("/flaky/1"), ["STATUS_CHANGED", "TRIAGED", "ASSIGNED"])
    await _event(engine, clock, org.acme_request, "TRIAGED")
    await _event(engine, clock, org.acme_request, "ASSIGNED")
    await _event(engine, clock, org.acme_request, "STATUS_CHANGED")
    assert await step(sender) == 1  # the first only; its answer is a 500
    await _event(engine, clock, org.acme_request_2, "TRIAGED")
    assert await step(sender) == 1  # another request's event does not wait
    assert await step(sender) == 0  # request 1's later events wait for its retry
    clock.advance(timedelta(seconds=5))
    assert [await step(sender) for _ in range(4)] == [1, 1, 1, 0]
    seen = [(r.json["data"]["serviceRequest"]["id"], r.json["type"]) for r in hooks.at("/flaky/1")]
    one, two = gid(org.acme_request), gid(org.acme_request_2)
    assert seen == [
        (one, "TRIAGED"),
        (two, "TRIAGED"),
        (one, "TRIAGED"),
        (one, "ASSIGNED"),
        (one, "STATUS_CHANGED"),
    ]


async def test_a_hanging_endpoint_delays_nobody_else(
    engine: AsyncEngine, api: Api, org: Org, hooks: Receiver, clock: Clock
) -> None:
    from db.engine import make_sessionmaker
    from services.webhooks.config import WebhookConfig

    await create_endpoint(api, org.partner, hooks.url("/hang"), ["STATUS_CHANGED"])
    await create_endpoint(api, org.partner, hooks.url("/ok"), ["STATUS_CHANGED"])
    for _ in range(3):
        for request in (org.acme_request, org.acme_request_2):
            await _event(engine, clock, request)
    async with WebhookSender(
        make_sessionmaker(engine),
        config=WebhookConfig(allow_private=True),
        clock=clock,
        per_endpoint=2,
        concurrency=4,
        poll_interval=0.02,
    ):
        # Every healthy delivery arrives while the hanging endpoint still holds its requests open.
        await hooks.wait_for("/ok", 6)
        assert len(hooks.at("/hang")) == 2  # one per request (order), within its 2 slots
        hooks.release.set()
        await hooks.wait_for("/hang", 6)
    await asyncio.sleep(0)


async def test_no_answer_within_the_timeout_is_a_failed_attempt(
    engine: AsyncEngine, api: Api, org: Org, hooks: Receiver, clock: Clock
) -> None:
    from db.engine import make_sessionmaker
    from services.webhooks.config import WebhookConfig

    await create_endpoint(api, org.partner, hooks.url("/hang"), ["STATUS_CHANGED"])
    await _event(engine, clock, org.acme_request)
    config = WebhookConfig(allow_private=True)
    async with WebhookSender(
        make_sessionmaker(engine),
        config=config,
        clock=clock,
        timeout=0.3,
        random=lambda: 0.5,
        background=False,
    ) as short:
        assert await step(short) == 1
    [row] = await _deliveries(engine)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("RETRYING", 1, None)
    assert row["last_error"] == "no answer within 0.3 s"
    assert row["next_attempt_at"] == clock.now + timedelta(seconds=5)


async def test_the_body_and_headers_of_a_delivery(
    engine: AsyncEngine, api: Api, org: Org, sender: WebhookSender, hooks: Receiver, clock: Clock
) -> None:
    _, secret = await create_endpoint(api, org.admin, hooks.url("/ok"), ["APPROVAL_REQUESTED"])
    hooks.secrets = [secret]
    b = Builder(engine)
    requester = await b.staff(name="Rita", email="rita@example.com", teams=[org.billing])
    approval = await b.approval(request=org.acme_request, requested_by=requester)
    event = await b.event(
        request=org.acme_request,
        kind="APPROVAL_REQUESTED",
        actor_name="Rita",
        approval=approval,
        occurred_at=clock.now,
    )
    before = int(time.time())
    assert await step(sender) == 1
    [received] = hooks.at("/ok")
    assert received.verified_by == [0]
    body = received.json
    assert (body["type"], body["timestamp"]) == ("APPROVAL_REQUESTED", serialize_datetime(event.occurred_at))
    data = body["data"]
    assert (data["eventId"], data["cursor"], data["actorName"]) == (
        ids.encode("RequestEvent", event.id),
        event.cursor_token,
        "Rita",
    )
    assert data["approval"] == {
        "id": ids.encode("Approval", approval.id),
        "kind": "INVOICE_ADJUSTMENT",
        "status": "PENDING",
    }
    assert data["comment"] is None
    headers = received.headers
    [delivery] = await _deliveries(engine)
    assert headers["webhook-id"] == f"msg_{delivery['endpoint_id']}_{event.id}"
    assert before <= int(headers["webhook-timestamp"]) <= int(time.time())  # this attempt's, Unix seconds
    assert headers["webhook-signature"].startswith("v1,") and headers["content-type"] == "application/json"


async def test_a_finally_failed_event_lets_the_next_one_of_its_request_go(
    engine: AsyncEngine, api: Api, org: Org, hooks: Receiver, clock: Clock
) -> None:
    from db.engine import make_sessionmaker
    from services.webhooks.config import WebhookConfig

    await create_endpoint(api, org.partner, hooks.url("/flaky/2"), ["TRIAGED", "ASSIGNED"])
    await _event(engine, clock, org.acme_request, "TRIAGED")
    await _event(engine, clock, org.acme_request, "ASSIGNED")
    async with WebhookSender(
        make_sessionmaker(engine),
        config=WebhookConfig(allow_private=True),
        clock=clock,
        schedule=[timedelta(seconds=1)],  # one retry, then FAILED
        random=lambda: 0.5,
        background=False,
    ) as short:
        assert await step(short) == 1  # TRIAGED: 500; ASSIGNED waits behind it
        assert await step(short) == 0
        clock.advance(timedelta(seconds=1))
        assert await step(short) == 1  # TRIAGED again: 500, finally FAILED
        assert await step(short) == 1  # ASSIGNED goes at once, without waiting for any schedule
    rows = await _deliveries(engine)
    assert [(r["status"], r["attempts"]) for r in rows] == [("FAILED", 2), ("DELIVERED", 1)]
    assert [r.json["type"] for r in hooks.at("/flaky/2")] == ["TRIAGED", "TRIAGED", "ASSIGNED"]
