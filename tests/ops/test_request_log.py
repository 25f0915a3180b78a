"""One log line per request (id, caller, operation, SQL count, error codes); metrics per operation."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from server.request_log import OperationLabels
from tests.conftest import Tokens, bearer
from tests.realtime_api.support import free_port
from tests.support.builders import Builder

LIST = "query Queue { serviceRequests(first: 5) { nodes { number customer { name } } } }"


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "casegraph.request"]


async def test_a_query_leaves_one_line_with_its_facts(
    client: httpx.AsyncClient, engine: AsyncEngine, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    b = Builder(engine)
    await b.staff(email="ana@example.com", role="ADMIN")
    await b.request(customer=await b.customer())
    caplog.set_level(logging.INFO, logger="casegraph.request")
    token = tokens.staff("ana@example.com")
    response = await client.post(
        "/graphql", json={"query": LIST}, headers={**bearer(token), "X-Request-ID": "portal-42"}
    )
    assert response.status_code == 200 and "errors" not in response.json()
    assert response.headers["x-request-id"] == "portal-42"
    [line] = _lines(caplog)
    facts: Any = line.__dict__
    assert facts["request_id"] == "portal-42"
    assert (facts["method"], facts["path"], facts["status"]) == ("POST", "/graphql", 200)
    assert facts["principal"] == "ana@example.com" and facts["client_id"] is None
    assert (facts["operation_name"], facts["operation_type"]) == ("Queue", "query")
    assert facts["sql_statements"] >= 2  # the page, its customers (and the staff lookup)
    assert facts["error_codes"] == []
    assert facts["duration_ms"] > 0
    assert token not in line.getMessage()


async def test_error_codes_and_a_generated_request_id(
    client: httpx.AsyncClient, engine: AsyncEngine, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    await Builder(engine).customer(external_ref="C-1")
    caplog.set_level(logging.INFO, logger="casegraph.request")
    customer = tokens.customer("C-1")
    await client.post(
        "/graphql", json={"query": "{ auditLog(first: 1) { totalCount } }"}, headers=bearer(customer)
    )
    await client.post(
        "/graphql", json={"query": "{ nope }"}, headers={**bearer(customer), "X-Request-ID": "bad id!"}
    )
    await client.post("/graphql", json={"query": "{ viewer { subject } }"})
    forbidden, invalid, unauthenticated = _lines(caplog)
    assert forbidden.__dict__["error_codes"] == ["FORBIDDEN"]
    assert invalid.__dict__["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]
    assert invalid.__dict__["operation_type"] is None
    assert len(invalid.__dict__["request_id"]) == 32  # a malformed client id is replaced
    assert unauthenticated.__dict__["status"] == 401
    assert unauthenticated.__dict__["error_codes"] == ["UNAUTHENTICATED"]


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_per_operation_name(
    client: httpx.AsyncClient, engine: AsyncEngine, tokens: Tokens
) -> None:
    await Builder(engine).customer(external_ref="C-2")
    customer = bearer(tokens.customer("C-2"))
    count = {"operation_name": "MetricsProbe", "operation_type": "query"}
    errors = {"operation_name": "MetricsAudit", "code": "FORBIDDEN"}
    before = (
        _sample("casegraph_graphql_operation_seconds_count", count),
        _sample("casegraph_graphql_errors_total", errors),
    )
    await client.post(
        "/graphql", json={"query": "query MetricsProbe { viewer { subject } }"}, headers=customer
    )
    await client.post(
        "/graphql",
        json={"query": "query MetricsAudit { auditLog(first: 1) { totalCount } }"},
        headers=customer,
    )
    assert _sample("casegraph_graphql_operation_seconds_count", count) == before[0] + 1
    assert _sample("casegraph_graphql_errors_total", errors) == before[1] + 1
    exposition = (await client.get("/metrics")).text
    assert 'casegraph_graphql_operation_seconds_bucket{le="0.005",operation_name="MetricsProbe"' in exposition


def test_operation_labels_are_bounded() -> None:
    labels = OperationLabels(limit=2)
    assert labels.label("A", valid=True) == "A"
    assert labels.label("B", valid=True) == "B"
    assert labels.label("C", valid=True) == "_other"
    assert labels.label("A", valid=True) == "A"
    assert labels.label(None, valid=True) == "_anonymous"
    assert labels.label("Whatever", valid=False) == "_invalid"
    assert labels.label("not a name", valid=True) == "_other"


async def test_json_lines_from_the_real_server(db_url: str, tokens: Tokens, engine: AsyncEngine) -> None:
    """`casegraph serve` with LOG_FORMAT=json: every request one JSON line, no token in the output."""
    await Builder(engine).staff(email="ana@example.com", role="ADMIN")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CASEGRAPH_ENV": "test",
        "CASEGRAPH_WORKERS": "false",
        "LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        "--no-migrate",
        "--port",
        str(port),
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    token = tokens.staff("ana@example.com")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(300):
                try:
                    await http.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            await http.post(
                "/graphql",
                json={"query": "query Me { viewer { subject } }"},
                headers={**bearer(token), "X-Request-ID": "req-1"},
            )
            await http.post("/graphql", json={"query": "mutation { nothing }"}, headers=bearer(token))
    finally:
        proc.terminate()
        _, raw = await asyncio.wait_for(proc.communicate(), 30)
    err = raw.decode()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == len(err.splitlines()), err  # every line is JSON
    requests = [line for line in lines if line["logger"] == "casegraph.request"]
    assert [r["path"] for r in requests] == ["/healthz", "/graphql", "/graphql"]
    me = requests[1]
    assert me["request_id"] == "req-1" and me["operation_name"] == "Me" and me["operation_type"] == "query"
    assert me["principal"] == "ana@example.com" and me["status"] == 200 and me["level"] == "INFO"
    assert requests[2]["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"] and requests[2]["request_id"]
    assert token not in err
