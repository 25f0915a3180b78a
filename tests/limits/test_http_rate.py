"""Budgets of cost points per principal and minute over HTTP (PostgreSQL store)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.secrets import issue_partner_secret
from db.engine import make_sessionmaker
from tests.conftest import Tokens, bearer
from tests.limits.conftest import GRAPHQL_RESPONSE, VIEWER, AppFactory, People, cost_of, page_costing, post
from tests.support.builders import Builder


async def test_a_spent_budget_is_429_with_retry_after_and_refusals_take_nothing(
    app_with: AppFactory, people: People
) -> None:
    async with app_with(RATE_LIMIT_POINTS=100) as (_, client):
        for spent in (30, 60, 90):
            ok = await post(client, people.admin, {"query": page_costing(30)})
            assert ok.status_code == 200, ok.text
            assert cost_of(ok)["remaining"] == 100 - spent

        refused = await post(client, people.admin, {"query": page_costing(30)}, accept=GRAPHQL_RESPONSE)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 120
        body = refused.json()
        assert "data" not in body
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["cost"]["requested"] == 30
        assert error["extensions"]["cost"]["remaining"] == 10
        assert datetime.fromisoformat(error["extensions"]["cost"]["resetAt"]) > datetime.now(UTC)
        assert body["extensions"]["cost"] == error["extensions"]["cost"]
        # application/json clients get 429 as well.
        assert (await post(client, people.admin, {"query": page_costing(30)})).status_code == 429

        # The refused operations took nothing: the last 10 points are still there.
        last = await post(client, people.admin, {"query": page_costing(10)})
        assert last.status_code == 200 and cost_of(last)["remaining"] == 0
        assert (await post(client, people.admin, {"query": VIEWER})).status_code == 429

        # Budgets are per principal: the customer's is untouched.
        other = await post(client, people.customer, {"query": VIEWER})
        assert other.status_code == 200 and cost_of(other)["remaining"] == 99


async def test_validation_and_transport_refusals_take_no_points(app_with: AppFactory, people: People) -> None:
    async with app_with(RATE_LIMIT_POINTS=1000) as (_, client):
        start = cost_of(await post(client, people.admin, {"query": VIEWER}))["remaining"]
        await post(client, people.admin, {"query": "{ customers(first: 5) { nodes { nope } } }"})
        await post(client, people.admin, {"query": "{ customers(first: 5) { "})
        query = "query Q($n: Int!) { customers(first: $n) { nodes { id } } }"
        bad_variables = await post(client, people.admin, {"query": query, "variables": {"n": "five"}})
        assert bad_variables.json()["errors"]
        mutation = (
            'mutation { addComment(input: {serviceRequestId: "x", body: "b", visibility: PUBLIC})'
            " { comment { id } } }"
        )
        over_get = await client.get("/graphql", params={"query": mutation}, headers=bearer(people.admin))
        assert over_get.status_code == 405
        after = await post(client, people.admin, {"query": VIEWER})
        assert cost_of(after)["remaining"] == start - 1


async def test_role_budgets_come_from_the_business_rules(
    app_with: AppFactory, people: People, engine: AsyncEngine
) -> None:
    rules = {"points_per_minute_by_role": {"CUSTOMER": 40, "PARTNER": 25}}
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE business_rules SET rules = CAST(:r AS jsonb) WHERE name = 'rate_limits'"),
            {"r": json.dumps(rules)},
        )
    async with app_with(RATE_LIMIT_POINTS=1000) as (_, client):
        assert cost_of(await post(client, people.admin, {"query": VIEWER}))["remaining"] == 999
        assert cost_of(await post(client, people.customer, {"query": VIEWER}))["remaining"] == 39
        assert cost_of(await post(client, people.partner, {"query": page_costing(25)}))["remaining"] == 0
        assert (await post(client, people.partner, {"query": VIEWER})).status_code == 429


async def test_ten_failed_client_authentications_then_429(
    app_with: AppFactory, engine: AsyncEngine, tokens: Tokens
) -> None:
    b = Builder(engine)
    secrets = {}
    for client_id in ("erp-connector", "crm-sync"):
        await b.partner(client_id=client_id)
        async with make_sessionmaker(engine)() as session, session.begin():
            secrets[client_id] = await issue_partner_secret(session, client_id)
    form = {"grant_type": "client_credentials"}
    async with app_with() as (_, client):
        for _ in range(10):
            failed = await client.post("/oauth/token", data=form, auth=("erp-connector", "wrong"))
            assert failed.status_code == 401
        # Locked out whatever it presents now, with client_secret_post as with basic.
        post_auth = {**form, "client_id": "erp-connector", "client_secret": secrets["erp-connector"]}
        locked = await client.post("/oauth/token", data=post_auth)
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 120
        locked = await client.post(
            "/oauth/token", data=form, auth=("erp-connector", secrets["erp-connector"])
        )
        assert locked.status_code == 429
        # Another client is not affected, and succeeding does not count.
        for _ in range(12):
            ok = await client.post("/oauth/token", data=form, auth=("crm-sync", secrets["crm-sync"]))
            assert ok.status_code != 429
