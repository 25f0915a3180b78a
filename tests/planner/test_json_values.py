"""Audit entries the write path does not make but a database may hold, answered byte for byte as
the resolver path answers them: jsonb numbers with trailing zeros (1.50), entity ids and types
only Python decides (non-ASCII digits, ids beyond a bigint, names long enough for PostgreSQL's
base64 to wrap) and ints orjson refuses; the planner writes what it decides exactly and leaves
the rest to the resolver path (counted as fallbacks, never a different answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from server.settings import Settings
from tests.conftest import Tokens, bearer
from tests.support.builders import Builder

# (entity type, entity id, before, after, planned): jsonb texts as a database may hold them.
ENTRIES = [
    ("ServiceRequest", "1", '{"n": 1.50, "m": 100.0, "x": [1.000, 0.10, -0.0]}', '{"k": "\\u00e9\\n"}', True),
    ("service_request", "007", None, '{"deep": [[[[{"a": [1e-7, 1.5e-5]}]]]]}', True),
    ("Approval", "12345678901234567890", None, None, False),  # beyond a bigint
    ("Comment", "\u0663", None, None, False),  # an Arabic-Indic 3: str.isdigit() and int() read it
    ("x" * 40 + "Type", "5", None, None, True),  # no capital first: the id as recorded
    ("X" * 40 + "Type", "5", None, None, False),  # base64 of a long ID wraps in PostgreSQL
    ("ServiceRequest", "2", '{"big": 100000000000000000000}', None, False),  # orjson refuses it
    ("ServiceRequest", "3", '{"int": 1e400}', None, False),  # an int of 401 digits to json.loads
    ("ServiceRequest", "4", '{"float": 1' + "0" * 400 + ".5}", None, False),  # inf to Python
]
QUERY = """query Entry($id: ID!) {
  node(id: $id) { ... on AuditEntry { id sequence entityType entityId before after hash } }
}"""


@pytest.fixture
async def both(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    from server.app import create_app

    on = create_app(settings.model_copy(update={"read_planner": "on"}))
    off = create_app(settings.model_copy(update={"read_planner": "off"}))
    async with on.router.lifespan_context(on), off.router.lifespan_context(off):

        def client(app: Any) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")

        async with client(on) as c_on, client(off) as c_off:
            yield c_on, c_off


def _planned() -> float:
    return REGISTRY.get_sample_value("casegraph_read_planner_planned_total") or 0.0


def _without_extensions(body: bytes) -> bytes:
    found = body.rfind(b',"extensions":')
    return body if found < 0 else body[:found]


async def test_stored_json_values_answer_the_same_bytes(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient], engine: AsyncEngine, tokens: Tokens
) -> None:
    await Builder(engine).staff(email="irene@example.com", role="AUDITOR")
    headers = bearer(tokens.staff("irene@example.com", "AUDITOR"))
    on, off = both
    async with engine.begin() as conn:
        for sequence, (kind, key, before, after, _) in enumerate(ENTRIES, 1):
            await conn.execute(
                text(
                    "INSERT INTO audit_entries (sequence, occurred_at, actor_subject, action, entity_type, "
                    "entity_id, before, after, previous_hash, hash) VALUES (:s, now(), 'x@example.com', "
                    "'TEST', :kind, :key, CAST(:before AS jsonb), CAST(:after AS jsonb), :h, :h)"
                ),
                {"s": sequence, "kind": kind, "key": key, "before": before, "after": after, "h": "0" * 64},
            )
    for sequence, (kind, key, *_, planned) in enumerate(ENTRIES, 1):
        variables = {"id": ids.encode("AuditEntry", sequence)}
        counted = _planned()
        a = await on.post("/graphql", json={"query": QUERY, "variables": variables}, headers=headers)
        was_planned = _planned() == counted + 1
        b = await off.post("/graphql", json={"query": QUERY, "variables": variables}, headers=headers)
        assert (a.status_code, _without_extensions(a.content)) == (
            b.status_code,
            _without_extensions(b.content),
        )
        assert was_planned is planned, (kind, key, a.content[:300])
    # The whole log at once: the first entry the planner leaves to the resolver path takes the page there.
    page = "{ auditLog(first: 2) { totalCount nodes { entityId before after } } }"
    a = await on.post("/graphql", json={"query": page}, headers=headers)
    b = await off.post("/graphql", json={"query": page}, headers=headers)
    assert (a.status_code, _without_extensions(a.content)) == (b.status_code, _without_extensions(b.content))
