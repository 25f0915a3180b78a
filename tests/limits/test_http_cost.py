"""Query cost over HTTP: reported on every response, refused above the limit before any SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.limits.conftest import (
    GRAPHQL_RESPONSE,
    VIEWER,
    AppFactory,
    People,
    cost_of,
    counting_statements,
    page_costing,
    post,
)
from tests.limits.test_cost import thirty_aliases

pytestmark = pytest.mark.clock  # reads the real clock: run again at a hostile instant (.ci/run)


async def test_every_response_reports_cost_and_budget(app_with: AppFactory, people: People) -> None:
    async with app_with() as (_, client):
        first = await post(client, people.admin, {"query": VIEWER})
        assert first.status_code == 200, first.text
        report = cost_of(first)
        assert report["requested"] == 1 and report["limit"] == 25_000
        assert report["remaining"] == 100_000 - 1
        reset_at = datetime.fromisoformat(report["resetAt"])
        assert datetime.now(UTC) < reset_at <= datetime.now(UTC) + timedelta(seconds=121)

        second = await post(client, people.admin, {"query": page_costing(11)})
        assert cost_of(second)["requested"] == 11
        assert cost_of(second)["remaining"] == 100_000 - 1 - 11

        # Validation errors report the cost too, with either media type; they take no points.
        invalid = await post(client, people.admin, {"query": "{ viewer { nope } }"}, accept=GRAPHQL_RESPONSE)
        assert invalid.status_code == 400
        assert "data" not in invalid.json()
        assert cost_of(invalid)["limit"] == 25_000
        legacy = await post(client, people.admin, {"query": "{ viewer { nope } }"})
        assert legacy.status_code == 200 and legacy.json()["errors"]
        assert "cost" in legacy.json()["extensions"]
        after = await post(client, people.admin, {"query": VIEWER})
        assert cost_of(after)["remaining"] == 100_000 - 1 - 11 - 1


async def test_the_incident_document_is_refused_before_any_sql(app_with: AppFactory, people: People) -> None:
    async with app_with() as (app, client):
        warm = await post(client, people.admin, {"query": VIEWER})  # token, rules and budget at hand
        remaining = cost_of(warm)["remaining"]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as fresh_client:
            with counting_statements(app.state.services.engine) as statements:
                # Five first sights (the alias names differ), so the timing is not one scheduler hiccup.
                for variant in range(5):
                    document = thirty_aliases().replace("a0:", f"first{variant}:")
                    refused = await post(
                        fresh_client, people.admin, {"query": document}, accept=GRAPHQL_RESPONSE
                    )
        assert statements == []
        assert refused.status_code == 400
        body = refused.json()
        assert "data" not in body
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert error["extensions"]["cost"] == {"requested": 60_906_030, "limit": 25_000}
        assert body["extensions"]["cost"] == {"requested": 60_906_030, "limit": 25_000}
        # How long a refusal takes is a figure of bench/limits_bench.py, not an assertion here.

        # application/json clients get the same refusal with 200 (a validation error); no points taken.
        legacy = await post(client, people.admin, {"query": thirty_aliases()})
        assert legacy.status_code == 200
        assert legacy.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        after = await post(client, people.admin, {"query": VIEWER})
        assert cost_of(after)["remaining"] == remaining - 1


async def test_the_limit_is_configurable_and_variables_count(app_with: AppFactory, people: People) -> None:
    query = "query Page($n: Int) { customers(first: $n) { nodes { id } } }"
    async with app_with(QUERY_COST_LIMIT=50) as (_, client):
        ok = await post(client, people.admin, {"query": query, "variables": {"n": 49}})
        assert ok.status_code == 200 and cost_of(ok)["requested"] == 50
        refused = await post(client, people.admin, {"query": query, "variables": {"n": 50}})
        assert refused.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert cost_of(refused) == {"requested": 51, "limit": 50}
        # Over GET as well.
        got = await client.get(
            "/graphql",
            params={"query": query, "variables": '{"n": 60}'},
            headers={"Authorization": f"Bearer {people.admin}", "Accept": GRAPHQL_RESPONSE},
        )
        assert got.status_code == 400
        assert got.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
