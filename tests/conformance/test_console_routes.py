"""The development console's routes: present outside production only, and the token helper
answers loopback callers with tokens the API accepts."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from server.app import create_app
from server.console import STATIC_DIR, console_routes
from server.settings import Settings
from tests.support.builders import Builder

VIEWER = {"query": "{ viewer { subject roles agent { name teams { name } } } }"}


async def staff(engine: AsyncEngine) -> None:
    b = Builder(engine)
    billing = await b.team(name="Billing")
    await b.staff(name="Ana", email="ana@example.com", teams=[billing])
    await b.staff(name="Gone", email="gone@example.com", active=False, teams=[billing])
    await b.staff(name="Admin", email="admin@example.com", role="ADMIN", approval_level="CONTROLLER")


def paths(app: Any) -> set[str]:
    return {getattr(route, "path", "") for route in app.routes}


def test_no_console_in_production(db_url: str) -> None:
    production = Settings(DATABASE_URL=db_url, CASEGRAPH_ENV="production", CASEGRAPH_WORKERS=False)
    assert console_routes(production) == []
    assert not any(p.startswith("/console") for p in paths(create_app(production)))
    development = Settings(DATABASE_URL=db_url, CASEGRAPH_ENV="development", CASEGRAPH_WORKERS=False)
    assert {"/console", "/console/dev-token", "/console/dev-identities", "/console/assets"} <= paths(
        create_app(development)
    )


async def test_the_page_and_its_assets_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/console/assets/console.js" in page.text
    script = await client.get("/console/assets/console.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    # The committed bundle is what is served: it must exist in the source tree.
    assert script.content == (STATIC_DIR / "console.js").read_bytes()
    assert (await client.get("/console/assets/console.css")).status_code == 200


async def test_identities_list_active_staff_with_their_teams(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await staff(engine)
    answer = await client.get("/console/dev-identities")
    assert answer.status_code == 200
    identities = {i["subject"]: i for i in answer.json()["identities"]}
    assert set(identities) == {"ana@example.com", "admin@example.com"}
    assert identities["ana@example.com"] == {
        "subject": "ana@example.com",
        "name": "Ana",
        "role": "AGENT",
        "teams": ["Billing"],
    }
    assert identities["admin@example.com"]["teams"] == []


async def test_dev_token_is_accepted_by_the_api(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    await staff(engine)
    minted = await client.post("/console/dev-token", json={"subject": "Ana@Example.com"})
    assert minted.status_code == 200, minted.text
    assert minted.headers["cache-control"] == "no-store"
    token = minted.json()["accessToken"]
    answer = await client.post("/graphql", json=VIEWER, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    viewer = answer.json()["data"]["viewer"]
    assert viewer["subject"] == "ana@example.com"
    assert viewer["roles"] == ["AGENT"]
    assert viewer["agent"] == {"name": "Ana", "teams": [{"name": "Billing"}]}


async def test_dev_token_refusals(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    await staff(engine)
    as_form = await client.post("/console/dev-token", data={"subject": "ana@example.com"})
    assert as_form.status_code == 415
    assert (await client.post("/console/dev-token", json={})).status_code == 400
    assert (
        await client.post("/console/dev-token", json={"subject": "nobody@example.com"})
    ).status_code == 404
    assert (await client.post("/console/dev-token", json={"subject": "gone@example.com"})).status_code == 404
    assert (await client.get("/console/dev-token")).status_code == 405


async def test_token_helpers_answer_loopback_only(app: Any, engine: AsyncEngine) -> None:
    await staff(engine)
    # A page of another site whose DNS name was rebound to 127.0.0.1: loopback client, foreign Host.
    local = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://evil.example")
    # A caller on the network.
    remote = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 50000)), base_url="http://127.0.0.1"
    )
    async with local, remote:
        for caller in (local, remote):
            minted = await caller.post("/console/dev-token", json={"subject": "ana@example.com"})
            assert minted.status_code == 403
            assert "loopback" in minted.json()["error"]
            assert (await caller.get("/console/dev-identities")).status_code == 403
            # The page itself is static and harmless: it then asks for a pasted token.
            assert (await caller.get("/console")).status_code == 200
