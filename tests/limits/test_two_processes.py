"""One budget for every process: two real uvicorn servers on one database (and on one Redis)."""

from __future__ import annotations

import asyncio
import socket
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.secrets import issue_partner_secret
from db.engine import make_sessionmaker
from tests.conftest import Tokens, bearer
from tests.limits.conftest import page_costing
from tests.realtime_api.support import ServerProcess
from tests.support.builders import Builder


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


STORES = [
    pytest.param({}, id="postgresql"),
    pytest.param(
        {"BROADCAST_URL": "redis://127.0.0.1:6379"},
        id="redis",
        marks=pytest.mark.skipif(not _redis_reachable(), reason="Redis is not running on 127.0.0.1:6379"),
    ),
]


@pytest.mark.parametrize("store", STORES)
async def test_two_processes_share_one_budget_and_one_failure_count(
    store: dict[str, str], db_url: str, engine: AsyncEngine, tokens: Tokens
) -> None:
    # Names of this run only: a Redis may be shared with other runs.
    run = uuid.uuid4().hex[:10]
    b = Builder(engine)
    email = f"ops-{run}@example.com"
    await b.staff(email=email, role="ADMIN", approval_level="CONTROLLER")
    await b.customer(name="Acme")
    client_id = f"erp-{run}"
    await b.partner(client_id=client_id)
    async with make_sessionmaker(engine)() as session, session.begin():
        secret = await issue_partner_secret(session, client_id)
    token = tokens.staff(email)

    env = {"RATE_LIMIT_POINTS": "2000", **store}
    servers = [ServerProcess(db_url, extra_env=env), ServerProcess(db_url, extra_env=env)]
    try:
        await asyncio.gather(*(s.ready() for s in servers))
        async with httpx.AsyncClient(timeout=30) as http:
            # Operations of 100 points, alternately on each process, until both refuse.
            served = 0
            statuses: list[int] = []
            for turn in range(60):
                response = await http.post(
                    servers[turn % 2].url + "/graphql",
                    json={"query": page_costing(100)},
                    headers=bearer(token),
                )
                statuses.append(response.status_code)
                if response.status_code == 200:
                    served += 1
                else:
                    assert response.status_code == 429, response.text
                    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
                if statuses[-2:] == [429, 429]:
                    break
            # One budget of 2,000 points: 20 operations, less what each process holds ahead (1 % each).
            # Two budgets, one per process, would have served 40.
            assert 19 <= served <= 20, statuses
            assert statuses[-2:] == [429, 429]

            # Failed client authentications count across processes too: 10, then 429 even for the secret.
            for attempt in range(10):
                failed = await http.post(
                    servers[attempt % 2].url + "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client_id, "wrong-secret"),
                )
                assert failed.status_code == 401, failed.text
            for server in servers:
                locked = await http.post(
                    server.url + "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client_id, secret),
                )
                assert locked.status_code == 429
                assert 1 <= int(locked.headers["retry-after"]) <= 120
    finally:
        await asyncio.gather(*(s.stop() for s in servers))
