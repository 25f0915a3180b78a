"""Managing endpoints through the GraphQL API (WEBHOOKS.md): who may, validation, destinations,
secrets (shown once, sealed at rest, rotated with a 24-hour overlap), PING, the delivery log and
redelivery."""

from __future__ import annotations

import base64
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.key_vault import KeyVault, new_encryption_key
from schema import ids
from server.webhook_sender import WebhookSender
from services.webhooks.config import WebhookConfig
from tests.support.builders import Builder
from tests.support.graphql import customer_principal
from tests.webhooks.conftest import CREATE, Api, Org, create_endpoint, step
from tests.webhooks.support import Clock, Receiver

LIST = "{ webhookEndpoints(first: 10) { totalCount nodes { id url ownerClientId } } }"
UPDATE = """
mutation($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) {
    endpoint { id url enabled disabledReason eventKinds }
    userErrors { code field }
  }
}
"""
DELETE = """
mutation($input: DeleteWebhookEndpointInput!) {
  deleteWebhookEndpoint(input: $input) { deletedId userErrors { code field } }
}
"""
ROTATE = """
mutation($input: RotateWebhookSecretInput!) {
  rotateWebhookSecret(input: $input) { endpoint { id } secret userErrors { code field } }
}
"""
PING = """
mutation($input: SendTestWebhookInput!) {
  sendTestWebhook(input: $input) {
    delivery { id webhookId status event { id } endpoint { id } }
    userErrors { code }
  }
}
"""
REDELIVER = """
mutation($input: RedeliverWebhooksInput!) { redeliverWebhooks(input: $input) { queued userErrors { code } } }
"""
DELIVERIES = """
query($id: ID!, $status: [WebhookDeliveryStatus!]) {
  webhookDeliveries(endpointId: $id, first: 50, status: $status) {
    totalCount
    nodes { webhookId status attempts lastStatusCode lastResponseBody event { kind cursor } }
  }
}
"""


async def test_a_partner_manages_its_own_endpoints_and_an_admin_all(api: Api, org: Org) -> None:
    mine, secret = await create_endpoint(api, org.partner, "https://erp.example.com/hooks", description="ERP")
    theirs, _ = await create_endpoint(api, org.other_partner, "https://crm.example.com/hooks")
    admins, _ = await create_endpoint(api, org.admin, "https://ops.example.com/hooks")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[len("whsec_") :])) >= 24

    listed = (await api(org.partner, LIST)).data["webhookEndpoints"]  # type: ignore[index]
    assert (listed["totalCount"], listed["nodes"][0]["id"]) == (1, mine)
    everything = (await api(org.admin, LIST)).data["webhookEndpoints"]  # type: ignore[index]
    assert [n["ownerClientId"] for n in everything["nodes"]] == ["erp-connector", "crm-sync", None]

    # Another partner's endpoint does not exist for this one.
    foreign = (
        (UPDATE, "updateWebhookEndpoint", {"id": theirs}),
        (DELETE, "deleteWebhookEndpoint", {"id": theirs}),
        (ROTATE, "rotateWebhookSecret", {"id": theirs}),
        (PING, "sendTestWebhook", {"id": theirs}),
        (REDELIVER, "redeliverWebhooks", {"endpointId": theirs}),
    )
    for query, field, arguments in foreign:
        result = await api(org.partner, query, {"input": arguments})
        assert [e["code"] for e in result.data[field]["userErrors"]] == ["NOT_FOUND"], field  # type: ignore[index]
    denied = await api(org.partner, DELIVERIES, {"id": theirs})
    assert denied.codes == ["NOT_FOUND"]
    # Nobody else sees or manages endpoints.
    customer = customer_principal(org.acme.id)
    for principal in (org.agent, customer):
        assert (await api(principal, LIST)).codes == ["FORBIDDEN"]
        assert (
            await api(
                principal, CREATE, {"input": {"url": "https://x.example.com", "eventKinds": ["CREATED"]}}
            )
        ).codes == ["FORBIDDEN"]
    # The ADMIN manages every one.
    done = await api(org.admin, DELETE, {"input": {"id": theirs}})
    assert done.data["deleteWebhookEndpoint"] == {"deletedId": theirs, "userErrors": []}  # type: ignore[index]
    assert admins


V2 = "https://erp.example.com/v2/hooks"


async def test_an_update_changes_the_url_and_kinds_and_an_unknown_id_is_not_found(api: Api, org: Org) -> None:
    mine, _ = await create_endpoint(api, org.partner, "https://erp.example.com/hooks", ["COMMENTED"])
    changed = await api(
        org.partner,
        UPDATE,
        {
            "input": {
                "id": mine,
                "url": "https://erp.example.com/v2/hooks",
                "eventKinds": ["CREATED", "STATUS_CHANGED"],
            }
        },
    )
    assert changed.errors == [], changed.errors
    assert changed.data["updateWebhookEndpoint"] == {  # type: ignore[index]
        "endpoint": {
            "id": mine,
            "url": V2,
            "enabled": True,
            "disabledReason": None,
            "eventKinds": ["CREATED", "STATUS_CHANGED"],
        },
        "userErrors": [],
    }
    listed = (await api(org.partner, LIST)).data["webhookEndpoints"]["nodes"]  # type: ignore[index]
    assert listed == [
        {"id": mine, "url": "https://erp.example.com/v2/hooks", "ownerClientId": "erp-connector"}
    ]
    # An id no endpoint ever had is NOT_FOUND for the partner and the ADMIN alike, on every mutation.
    unknown = ids.encode("WebhookEndpoint", 987_654)
    for principal in (org.partner, org.admin):
        for query, field, arguments in (
            (UPDATE, "updateWebhookEndpoint", {"id": unknown, "enabled": False}),
            (DELETE, "deleteWebhookEndpoint", {"id": unknown}),
            (ROTATE, "rotateWebhookSecret", {"id": unknown}),
            (PING, "sendTestWebhook", {"id": unknown}),
            (REDELIVER, "redeliverWebhooks", {"endpointId": unknown}),
        ):
            result = await api(principal, query, {"input": arguments})
            assert [e["code"] for e in result.data[field]["userErrors"]] == ["NOT_FOUND"], field  # type: ignore[index]
        assert (await api(principal, DELIVERIES, {"id": unknown})).codes == ["NOT_FOUND"]


NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename
    ... on WebhookEndpoint { id url ownerClientId }
    ... on WebhookDelivery { id status endpoint { id } }
  }
}
"""


async def test_node_reads_the_endpoints_and_deliveries_the_caller_manages(api: Api, org: Org) -> None:
    mine, _ = await create_endpoint(api, org.partner, "https://erp.example.com/hooks")
    theirs, _ = await create_endpoint(api, org.other_partner, "https://crm.example.com/hooks")
    pinged = await api(org.partner, PING, {"input": {"id": mine}})
    delivery = pinged.data["sendTestWebhook"]["delivery"]["id"]  # type: ignore[index]

    async def node(principal: object, global_id: str) -> object:
        result = await api(principal, NODE, {"id": global_id})  # type: ignore[arg-type]
        assert not result.codes
        return result.data["node"]  # type: ignore[index]

    assert await node(org.partner, mine) == {
        "__typename": "WebhookEndpoint",
        "id": mine,
        "url": "https://erp.example.com/hooks",
        "ownerClientId": "erp-connector",
    }
    assert await node(org.partner, delivery) == {
        "__typename": "WebhookDelivery",
        "id": delivery,
        "status": "PENDING",
        "endpoint": {"id": mine},
    }
    # Another partner's endpoint and its deliveries do not exist for this one, nor for staff who
    # do not manage webhooks, nor for customers; the ADMIN reads them all.
    assert await node(org.other_partner, mine) is None
    assert await node(org.other_partner, delivery) is None
    assert await node(org.partner, theirs) is None
    for principal in (org.agent, customer_principal(org.acme.id)):
        assert await node(principal, mine) is None
        assert await node(principal, delivery) is None
    assert (await node(org.admin, theirs))["url"] == "https://crm.example.com/hooks"  # type: ignore[index]
    assert (await node(org.admin, delivery))["endpoint"] == {"id": mine}  # type: ignore[index]


async def test_invalid_urls_kinds_and_refused_destinations_are_validation_failed(api: Api, org: Org) -> None:
    async def errors(url: str, kinds: list[str], config: WebhookConfig | None = None) -> list[object]:
        result = await api(org.partner, CREATE, {"input": {"url": url, "eventKinds": kinds}}, config=config)
        return [(e["code"], e["field"]) for e in result.data["createWebhookEndpoint"]["userErrors"]]  # type: ignore[index]

    url_error = [("VALIDATION_FAILED", ["input", "url"])]
    production = WebhookConfig(
        allow_private=False,
        resolve=_resolver(
            {
                "erp.example.com": ["93.184.216.34"],
                "intranet.example.com": ["10.0.0.7"],
                "meta.example.com": ["169.254.169.254"],
            }
        ),
    )
    assert await errors("https://erp.example.com/h", [], production) == [
        ("VALIDATION_FAILED", ["input", "eventKinds"])
    ]
    for bad in (
        "ftp://erp.example.com/h",
        "not a url",
        "https://user:pw@erp.example.com/h",
        "http://erp.example.com/h",
    ):
        assert await errors(bad, ["CREATED"], production) == url_error, bad
    for private in (
        "https://127.0.0.1/h",
        "https://[::1]/h",
        "https://10.1.2.3/h",
        "https://169.254.169.254/latest",
        "https://intranet.example.com/h",
        "https://meta.example.com/h",
        "https://localhost/h",
        "https://nowhere.example.com/h",
    ):
        assert await errors(private, ["CREATED"], production) == url_error, private
    assert await errors("https://erp.example.com/h", ["CREATED"], production) == []
    # WEBHOOK_ALLOW_PRIVATE (development, tests): http:// and private addresses pass; other schemes never.
    assert await errors("http://127.0.0.1:9/h", ["CREATED"]) == []
    assert await errors("file:///etc/passwd", ["CREATED"]) == url_error


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return table.get(host, [])

    return resolve


async def test_secrets_are_sealed_at_rest_and_rotation_signs_with_both_for_24_hours(
    engine: AsyncEngine, api: Api, org: Org, hooks: Receiver, clock: Clock
) -> None:
    from db.engine import make_sessionmaker

    config = WebhookConfig(allow_private=True, vault=KeyVault.from_setting(new_encryption_key()))
    endpoint, old = await create_endpoint(
        api, org.partner, hooks.url("/ok"), ["STATUS_CHANGED"], config=config
    )
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret FROM webhook_endpoints"))).scalar_one()
    assert stored.startswith("aesgcm:v1:") and old not in stored
    rotated = await api(org.partner, ROTATE, {"input": {"id": endpoint}}, config=config)
    new = rotated.data["rotateWebhookSecret"]["secret"]  # type: ignore[index]
    assert new.startswith("whsec_") and new != old
    hooks.secrets = [old, new]
    async with WebhookSender(
        make_sessionmaker(engine), config=config, clock=clock, background=False
    ) as sender:
        await Builder(engine).event(request=org.acme_request, kind="STATUS_CHANGED", occurred_at=clock.now)
        await step(sender)
        clock.advance(timedelta(hours=24, seconds=1))
        await Builder(engine).event(request=org.acme_request, kind="STATUS_CHANGED", occurred_at=clock.now)
        await step(sender)
    during, after = hooks.at("/ok")
    assert during.verified_by == [0, 1] and len(during.headers["webhook-signature"].split(" ")) == 2
    assert after.verified_by == [1] and len(after.headers["webhook-signature"].split(" ")) == 1


async def test_ping_the_delivery_log_and_redelivery_with_the_original_webhook_id(
    engine: AsyncEngine, api: Api, org: Org, sender: WebhookSender, hooks: Receiver, clock: Clock
) -> None:
    endpoint, secret = await create_endpoint(api, org.partner, hooks.url("/ok"), ["STATUS_CHANGED"])
    hooks.secrets = [secret]
    ping = (await api(org.partner, PING, {"input": {"id": endpoint}})).data["sendTestWebhook"]  # type: ignore[index]
    assert ping["delivery"]["event"] is None and ping["delivery"]["status"] == "PENDING"
    await step(sender)
    [pinged] = hooks.at("/ok")
    assert pinged.json["type"] == "PING" and pinged.json["data"] == {"endpointId": endpoint}
    assert pinged.verified_by == [0] and pinged.webhook_id == ping["delivery"]["webhookId"]

    b = Builder(engine)
    for request in (org.acme_request, org.acme_request_2, org.acme_request):
        await b.event(request=request, kind="STATUS_CHANGED", occurred_at=clock.now)
    await b.event(request=org.other_request, kind="STATUS_CHANGED", occurred_at=clock.now)  # not theirs
    while await step(sender):
        pass
    log = (await api(org.partner, DELIVERIES, {"id": endpoint})).data["webhookDeliveries"]  # type: ignore[index]
    assert log["totalCount"] == 4
    assert [n["status"] for n in log["nodes"]] == ["DELIVERED"] * 4
    assert log["nodes"][-1]["event"] is None  # the PING, oldest
    first_event = log["nodes"][-2]
    assert (first_event["attempts"], first_event["lastStatusCode"], first_event["lastResponseBody"]) == (
        1,
        200,
        "answer 200",
    )
    failed = await api(org.partner, DELIVERIES, {"id": endpoint, "status": ["FAILED"]})
    assert failed.data["webhookDeliveries"]["totalCount"] == 0  # type: ignore[index]

    # The partner was down: replay after the first event's cursor, then everything since creation.
    sent = {r.webhook_id for r in hooks.at("/ok")[1:]}
    after = first_event["event"]["cursor"]
    queued = (await api(org.partner, REDELIVER, {"input": {"endpointId": endpoint, "after": after}})).data
    assert queued["redeliverWebhooks"] == {"queued": 2, "userErrors": []}  # type: ignore[index]
    while await step(sender):
        pass
    assert {r.webhook_id for r in hooks.at("/ok")[4:]} < sent
    everything = (await api(org.partner, REDELIVER, {"input": {"endpointId": endpoint}})).data
    assert everything["redeliverWebhooks"]["queued"] == 3  # type: ignore[index]
    while await step(sender):
        pass
    replayed = hooks.at("/ok")[6:]
    assert {r.webhook_id for r in replayed} == sent and all(r.verified_by == [0] for r in replayed)
    bad = await api(org.partner, REDELIVER, {"input": {"endpointId": endpoint, "after": "nonsense"}})
    assert bad.codes == ["BAD_USER_INPUT"]


async def test_a_destination_that_turned_private_is_refused_at_the_attempt(
    engine: AsyncEngine, api: Api, org: Org, hooks: Receiver, clock: Clock
) -> None:
    from db.engine import make_sessionmaker

    endpoint, _ = await create_endpoint(api, org.partner, "https://erp.example.com/h", ["STATUS_CHANGED"])
    rebound = WebhookConfig(allow_private=False, resolve=_resolver({"erp.example.com": ["127.0.0.1"]}))
    async with WebhookSender(
        make_sessionmaker(engine), config=rebound, clock=clock, background=False
    ) as sender:
        await Builder(engine).event(request=org.acme_request, kind="STATUS_CHANGED", occurred_at=clock.now)
        await step(sender)
    log = (await api(org.partner, DELIVERIES, {"id": endpoint})).data["webhookDeliveries"]["nodes"]  # type: ignore[index]
    assert log[0]["status"] == "RETRYING" and log[0]["lastStatusCode"] is None
    async with engine.connect() as conn:
        error = (await conn.execute(text("SELECT last_error FROM webhook_deliveries"))).scalar_one()
    assert "127.0.0.1 is loopback" in error
    assert hooks.received == []
