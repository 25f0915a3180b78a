"""Automatic persisted queries (Apollo protocol), the trusted registry and TRUSTED_DOCUMENTS=public."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_sessionmaker
from db.repositories.limits import register_documents
from server.cli import main as cli
from tests.conftest import bearer
from tests.limits.conftest import GRAPHQL_RESPONSE, VIEWER, AppFactory, People, cost_of, post

PAGE = "query Page { customers(first: 2) { nodes { id name } } }"


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(query)}}


async def register(engine: AsyncEngine, *queries: str) -> None:
    async with make_sessionmaker(engine)() as session, session.begin():
        await register_documents(session, documents={sha(q): q for q in queries})


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


async def test_automatic_persisted_queries_over_post_and_get(app_with: AppFactory, people: People) -> None:
    async with app_with() as (_, client):
        unknown = await post(client, people.admin, {"extensions": persisted(PAGE)})
        assert unknown.status_code == 400
        assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
        assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]

        # The Apollo flow: the client sends the text with its hash once ...
        registered = await post(client, people.admin, {"query": PAGE, "extensions": persisted(PAGE)})
        assert registered.status_code == 200 and registered.json()["data"]["customers"]["nodes"]
        # ... then the hash alone, over POST and over GET (a short, cacheable URL).
        again = await post(client, people.admin, {"extensions": persisted(PAGE)})
        assert again.json()["data"] == registered.json()["data"]
        assert cost_of(again)["requested"] == 3
        got = await client.get(
            "/graphql",
            params={"extensions": json.dumps(persisted(PAGE)), "operationName": "Page"},
            headers=bearer(people.admin),
        )
        assert got.status_code == 200 and got.json()["data"] == registered.json()["data"]

        mismatch = await post(client, people.admin, {"query": VIEWER, "extensions": persisted(PAGE)})
        assert mismatch.status_code == 400 and "does not match" in mismatch.json()["errors"][0]["message"]
        malformed = await post(client, people.admin, {"extensions": {"persistedQuery": {"version": 1}}})
        assert malformed.status_code == 400


async def test_registered_documents_run_by_hash_without_being_sent_first(
    app_with: AppFactory, people: People, engine: AsyncEngine
) -> None:
    await register(engine, PAGE)
    async with app_with() as (_, client):
        response = await post(client, people.partner, {"extensions": persisted(PAGE)})
        assert response.status_code == 200, response.text
        assert "customers" in response.json()["data"]


async def test_public_mode_runs_only_registered_documents_for_customers_and_partners(
    app_with: AppFactory, people: People, engine: AsyncEngine
) -> None:
    await register(engine, PAGE, VIEWER)
    async with app_with(TRUSTED_DOCUMENTS="public") as (_, client):
        for token in (people.customer, people.partner):
            by_hash = await post(client, token, {"extensions": persisted(PAGE)})
            assert by_hash.status_code == 200, by_hash.text
            by_text = await post(client, token, {"query": VIEWER})
            assert by_text.status_code == 200, by_text.text
            for body in (
                {"query": "{ viewer { roles } }"},
                {"query": "{ viewer { roles } }", "extensions": persisted("{ viewer { roles } }")},
                {"extensions": persisted("{ viewer { roles } }")},
            ):
                for accept in (GRAPHQL_RESPONSE, "application/json"):
                    refused = await post(client, token, body, accept=accept)
                    assert refused.status_code == 400, (body, accept)
                    assert codes(refused) == ["PERSISTED_QUERY_NOT_FOUND"]
                    assert "data" not in refused.json()
        # Staff may run anything, and use APQ.
        staff = await post(client, people.admin, {"query": "{ viewer { roles } }"})
        assert staff.status_code == 200 and staff.json()["data"]["viewer"]["roles"] == ["ADMIN"]
        # What staff sent with its hash does not become trusted for others.
        query = "{ viewer { scopes } }"
        assert (
            await post(client, people.admin, {"query": query, "extensions": persisted(query)})
        ).status_code == 200
        refused = await post(client, people.customer, {"extensions": persisted(query)})
        assert codes(refused) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_a_document_registered_while_serving_is_found(
    app_with: AppFactory, people: People, engine: AsyncEngine
) -> None:
    async with app_with(TRUSTED_DOCUMENTS="public") as (_, client):
        assert (await post(client, people.customer, {"extensions": persisted(PAGE)})).status_code == 400
        await register(engine, PAGE)
        await asyncio.sleep(2.1)  # misses are remembered for two seconds at most
        assert (await post(client, people.customer, {"extensions": persisted(PAGE)})).status_code == 200


def _write(tmp_path: Path, manifest: object) -> str:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps(manifest))
    return str(path)


async def test_the_register_command_checks_and_loads_a_manifest(
    db_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    manifest = {sha(PAGE): PAGE, sha(VIEWER): VIEWER}
    assert await asyncio.to_thread(cli, ["documents", "register", _write(tmp_path, manifest)]) == 0
    assert "2 registered, 0 already known" in capsys.readouterr().err
    assert await asyncio.to_thread(cli, ["documents", "register", _write(tmp_path, manifest)]) == 0
    assert "0 registered, 2 already known" in capsys.readouterr().err
    async with engine.connect() as conn:
        stored = dict((await conn.execute(text("SELECT sha256, document FROM trusted_documents"))).all())
    assert stored == manifest

    for bad, message in (
        ({sha(PAGE): VIEWER}, "not the SHA-256 of its document"),
        ({sha("{ nope }"): "{ nope }"}, "Cannot query field 'nope'"),
        ({sha("{ viewer"): "{ viewer"}, "Syntax Error"),
        ([PAGE], "one JSON object"),
    ):
        assert await asyncio.to_thread(cli, ["documents", "register", _write(tmp_path, bad)]) == 2
        err = capsys.readouterr().err
        assert message in err and "nothing registered" in err
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM trusted_documents"))).scalar_one() == 2
