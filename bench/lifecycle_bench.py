"""Throughput of lifecycle transitions: GraphQL over HTTP against the same writes in raw asyncpg.

    .venv/bin/python -m bench.lifecycle_bench [--clients 32] [--seconds 15] [--runs 3] [--workers 1 2]

`--workers 1 2` measures one server process, then two, each beside the raw
baseline measured in the same run. Also printed: the servers' CPU time per
GraphQL transition (steadier than rates on a shared machine), and with
`--count-sql` the SQL statements of one transition each way, counted on the
engine of an in-process app (those run for the HTTP request only).

Creates a private PostgreSQL in a temporary directory (or a database of its
own on DATABASE_URL, dropped afterwards), migrates it, imports a small
organisation, starts the real server (`uvicorn --factory server.app:create_app
--workers W` in a subprocess, bench.common; background workers off) and opens
one request per client through createServiceRequest, triageServiceRequest and
startWork.

GraphQL: each of N concurrent HTTP clients cycles its own request through
requestCustomerInfo and provideCustomerInfo (each a status change with a
PUBLIC comment: request UPDATE with version + 1, comment INSERT,
STATUS_CHANGED + COMMENTED events, two audit entries hash-chained at commit
under the audit head's lock, pg_notify), as fast as it can.

Raw: N asyncpg connections do the same writes on requests of their own, one
transaction per transition, with no GraphQL, HTTP, auth or ORM in between.

Prints transitions per second of both as the median over `--runs` runs, and
their ratio, and the latency of the GraphQL transitions as the clients see it. The
HTTP clients (one keep-alive connection each through bench.http_client, lean
enough not to take the server's CPU; httpx only sets the requests up) and the
raw connections run in this process, beside the server's processes on the same
machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from auth.keys import ensure_signing_key, load_keys
from auth.permissions import allowed_scopes
from auth.tokens import mint_token
from bench.common import profiled, running_server
from bench.http_client import LeanClient
from db.engine import make_engine, make_sessionmaker
from db.events import notify_events
from db.migrate import upgrade
from domain.enums import Role
from importer.master_data import import_master_data
from schema import ids
from server import pgserver
from server.settings import Settings, asyncpg_url, sqlalchemy_url

SUPERVISOR = "sue@example.com"
MUTATION = (
    "mutation($input: TransitionServiceRequestInput!) {{ {name}(input: $input) "
    "{{ serviceRequest {{ version status }} userErrors {{ code message }} }} }}"
)


def organisation() -> dict[str, Any]:
    """A small organisation: one customer-service team of four agents and a supervisor."""
    agents = [
        {
            "email": f"agent{n}@example.com",
            "name": f"Agent {n}",
            "role": "AGENT",
            "approvalLevel": "AGENT",
            "teams": ["Customer Service"],
            "skills": ["GENERAL_INQUIRY"],
        }
        for n in range(4)
    ]
    return {
        "teams": [{"name": "Customer Service"}, {"name": "Finance Escalations"}],
        "staff": [
            *agents,
            {
                "email": SUPERVISOR,
                "name": "Sue",
                "role": "SUPERVISOR",
                "approvalLevel": "SUPERVISOR",
                "teams": ["Customer Service"],
            },
        ],
        "customers": [
            {
                "externalRef": "C-1",
                "name": "Bench Customer",
                "segment": "SMB",
                "country": "US",
                "kycStatus": "VERIFIED",
                "riskRating": "LOW",
            }
        ],
    }


@dataclass
class Tracked:
    """A request one client cycles: its ids, version and status as last written."""

    gid: str
    pk: int
    version: int
    status: str


async def _prepare(url: str) -> str:
    """Migrate, import, make a signing key; a supervisor's bearer token."""
    await asyncio.to_thread(upgrade, sqlalchemy_url(url))
    engine = make_engine(sqlalchemy_url(url), pool_size=2)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await import_master_data(session, organisation())
            await ensure_signing_key(session, allow_generate=True)
        async with make_sessionmaker(engine)() as session:
            keys = await load_keys(session)
    finally:
        await engine.dispose()
    settings = Settings(DATABASE_URL=url)
    return mint_token(
        keys,
        issuer=settings.oauth_issuer,
        audience=settings.oauth_audience,
        subject=SUPERVISOR,
        roles=["SUPERVISOR"],
        scopes=sorted(allowed_scopes([Role.SUPERVISOR])),
        ttl_seconds=24 * 3600,
    )


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]  # type: ignore[no-any-return]


async def _open_request(client: httpx.AsyncClient, customer_gid: str, n: int) -> Tracked:
    """One request brought to IN_PROGRESS through the API."""
    fields = "serviceRequest { id version status } userErrors { code message }"
    created = await _gql(
        client,
        f"mutation($i: CreateServiceRequestInput!) {{ createServiceRequest(input: $i) {{ {fields} }} }}",
        {
            "i": {
                "customerId": customer_gid,
                "type": "GENERAL_INQUIRY",
                "channel": "EMAIL",
                "subject": f"Bench request {n}",
                "description": "Where can I find my statement?",
            }
        },
    )
    request = created["createServiceRequest"]["serviceRequest"]
    for name, input_type in (
        ("triageServiceRequest", "TriageServiceRequestInput"),
        ("startWork", "TransitionServiceRequestInput"),
    ):
        query = f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {fields} }} }}"
        payload = (
            await _gql(client, query, {"i": {"id": request["id"], "expectedVersion": request["version"]}})
        )[name]
        if payload["userErrors"]:
            raise RuntimeError(f"{name}: {payload['userErrors']}")
        request = payload["serviceRequest"]
    return Tracked(request["id"], ids.decode(request["id"])[1], request["version"], request["status"])


# --------------------------------------------------------------------- GraphQL ----


async def _http_client_loop(
    connection: LeanClient, request: Tracked, deadline: float, latencies: list[float]
) -> int:
    done = 0
    while time.perf_counter() < deadline:
        name = "requestCustomerInfo" if request.status == "IN_PROGRESS" else "provideCustomerInfo"
        transition = {"id": request.gid, "expectedVersion": request.version, "message": f"bench {done}"}
        variables = {"input": transition}
        began = time.perf_counter()
        status, body = await connection.post_json(
            "/graphql", {"query": MUTATION.format(name=name), "variables": variables}
        )
        latencies.append(time.perf_counter() - began)
        if status != 200 or body.get("errors"):
            raise RuntimeError(f"{name}: HTTP {status}: {body}")
        payload = body["data"][name]
        if payload["userErrors"]:
            raise RuntimeError(f"{name}: {payload['userErrors']}")
        request.version = payload["serviceRequest"]["version"]
        request.status = payload["serviceRequest"]["status"]
        done += 1
    return done


async def _http_run(
    connections: list[LeanClient], requests: list[Tracked], seconds: float
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    began = time.perf_counter()
    counts = await asyncio.gather(
        *(
            _http_client_loop(connection, r, began + seconds, latencies)
            for connection, r in zip(connections, requests, strict=True)
        )
    )
    return sum(counts) / (time.perf_counter() - began), latencies


# ------------------------------------------------------------------------- raw ----

_UPDATE = """
WITH input AS (SELECT CAST($2 AS text) AS status, CAST($3 AS timestamptz) AS now)
UPDATE service_requests
   SET status = input.status, version = version + 1, updated_at = input.now,
       paused_at = CASE WHEN input.status = 'WAITING_ON_CUSTOMER' THEN input.now END,
       paused_seconds = paused_seconds + CASE WHEN paused_at IS NULL THEN 0
                        ELSE CAST(extract(epoch FROM input.now - paused_at) AS integer) END,
       waiting_on_customer_at = CASE WHEN input.status = 'WAITING_ON_CUSTOMER' THEN input.now
                                ELSE waiting_on_customer_at END,
       in_progress_at = CASE WHEN input.status = 'IN_PROGRESS' THEN input.now ELSE in_progress_at END
  FROM input
 WHERE id = $1
RETURNING version, customer_id, team_id
"""
_COMMENT = """
INSERT INTO comments (request_id, body, visibility, author_subject, author_name, author_role, created_at)
VALUES ($1, $2, 'PUBLIC', $3, 'Sue', 'SUPERVISOR', $4) RETURNING id
"""
_EVENTS = """
INSERT INTO request_events (request_id, kind, occurred_at, actor_subject, actor_name, from_status, to_status,
                            comment_id, customer_id, team_id)
VALUES ($1, 'STATUS_CHANGED', $2, $3, 'Sue', $4, $5, NULL, $7, $8),
       ($1, 'COMMENTED', $2, $3, 'Sue', NULL, NULL, $6, $7, $8)
"""
_AUDIT = """
INSERT INTO audit_pending (occurred_at, actor_subject, action, entity_type, entity_id, before, after)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[],
                     $7::jsonb[])
"""


async def _raw_transition(conn: asyncpg.Connection, request: Tracked, n: int) -> None:
    to_status = "WAITING_ON_CUSTOMER" if request.status == "IN_PROGRESS" else "IN_PROGRESS"
    now = datetime.now(UTC)
    async with conn.transaction():
        row = await conn.fetchrow(_UPDATE, request.pk, to_status, now)
        comment_id = await conn.fetchval(_COMMENT, request.pk, f"bench {n}", SUPERVISOR, now)
        await conn.execute(
            _EVENTS,
            request.pk,
            now,
            SUPERVISOR,
            request.status,
            to_status,
            comment_id,
            row["customer_id"],
            row["team_id"],
        )
        records = [
            ("COMMENT", "Comment", str(comment_id), None, {"requestId": request.pk, "visibility": "PUBLIC"}),
            (
                "REQUEST_CUSTOMER_INFO",
                "ServiceRequest",
                str(request.pk),
                {"status": request.status},
                {"status": to_status, "version": row["version"]},
            ),
        ]
        # Chained at COMMIT by the trigger (migrations 0007, 0016), exactly as the server's writes are.
        columns: list[list[Any]] = [[] for _ in range(7)]
        for action, entity_type, entity_id, before, after in records:
            values = [now, SUPERVISOR, action, entity_type, entity_id]
            values += [json.dumps(before), json.dumps(after)]
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        await conn.execute(_AUDIT, *columns)
        await notify_events(conn, request_ids=[request.pk], kinds=["COMMENTED", "STATUS_CHANGED"])
    request.version, request.status = row["version"], to_status


async def _raw_run(pool: asyncpg.Pool, requests: list[Tracked], seconds: float) -> float:
    began = time.perf_counter()
    deadline = began + seconds

    async def loop(request: Tracked) -> int:
        done = 0
        async with pool.acquire() as conn:
            while time.perf_counter() < deadline:
                await _raw_transition(conn, request, done)
                done += 1
        return done

    counts = await asyncio.gather(*(loop(r) for r in requests))
    return sum(counts) / (time.perf_counter() - began)


# ------------------------------------------------------------------------ main ----


async def _bench(
    url: str,
    token: str,
    *,
    clients: int,
    seconds: float,
    runs: int,
    workers: int,
    profile: Path | None = None,
) -> None:
    async with running_server(url, workers=workers, pool_size=clients) as server:
        await _measure(
            url,
            server.base_url,
            token,
            clients=clients,
            seconds=seconds,
            runs=runs,
            pids=server.pids(),
            profile=profile,
        )


async def _count_sql(url: str, token: str) -> None:
    """Round trips of one requestCustomerInfo and one provideCustomerInfo, in an in-process app."""
    from collections import Counter

    from sqlalchemy import event

    from server.app import create_app
    from telemetry.request_record import current_request

    app = create_app(Settings(DATABASE_URL=url, CASEGRAPH_ENV="test", CASEGRAPH_WORKERS=False))
    async with app.router.lifespan_context(app):
        counts: Counter[str] = Counter()
        sync_engine = app.state.services.engine.sync_engine

        def counter(name: str) -> Callable[..., None]:
            # Only what runs for the HTTP request (its request record is current): the event hub's
            # reads after the commit's NOTIFY run in the hub's own task and are not the transition's.
            def count(*_: Any) -> None:
                if current_request() is not None:
                    counts.update([name])

            return count

        event.listen(sync_engine, "before_cursor_execute", counter("statements"))
        for name in ("begin", "commit", "rollback"):
            event.listen(sync_engine, name, counter(name))
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            customer = await _gql(client, "{ customers(first: 1) { nodes { id } } }", {})
            request = await _open_request(client, customer["customers"]["nodes"][0]["id"], 10**6)
            for name in ("requestCustomerInfo", "provideCustomerInfo"):
                counts.clear()
                await _gql(
                    client,
                    MUTATION.format(name=name),
                    {"input": {"id": request.gid, "expectedVersion": request.version, "message": "count"}},
                )
                request.version += 1
                print(
                    f"{name}: {counts['statements']} SQL statements + BEGIN/COMMIT "
                    f"({counts['begin']} transaction(s)) through the app's engine for the request "
                    f"(the event hub's reads, the pool's pre-ping and the limits' own pool not counted)"
                )


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def _measure(
    url: str,
    base_url: str,
    token: str,
    *,
    clients: int,
    seconds: float,
    runs: int,
    pids: list[int],
    profile: Path | None = None,
) -> None:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    pool = await asyncpg.create_pool(url, min_size=clients, max_size=clients)
    try:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60) as client:
            customer = await pool.fetchval("SELECT id FROM customers WHERE external_ref = 'C-1'")
            customer_gid = ids.encode("Customer", customer)
            http_requests = [await _open_request(client, customer_gid, n) for n in range(clients)]
            raw_requests = [await _open_request(client, customer_gid, clients + n) for n in range(clients)]
            # The measured requests go through the lean client (bench.http_client), one keep-alive
            # connection per client: httpx cost the bench as much CPU per transition as the server.
            connections = [LeanClient(base_url, headers) for _ in range(clients)]
            print(f"{clients} clients, {seconds:g} s per run, {runs} runs (plus a 2 s warm-up each)")
            http_rates, raw_rates, latencies = [], [], []
            cpu, client_cpu, transitions = 0.0, 0.0, 0
            for run in range(1, runs + 1):
                await _http_run(connections, http_requests, 2)
                if run == 1 and profile is not None:  # an extra run, sampled: not counted
                    async with profiled(pids, profile):
                        await _http_run(connections, http_requests, seconds)
                cpu_before, client_before = _cpu_seconds(pids), time.process_time()
                rate, samples = await _http_run(connections, http_requests, seconds)
                cpu += _cpu_seconds(pids) - cpu_before
                client_cpu += time.process_time() - client_before
                transitions += len(samples)
                http_rates.append(rate)
                latencies.extend(samples)
                await _raw_run(pool, raw_requests, 2)
                raw_rates.append(await _raw_run(pool, raw_requests, seconds))
                print(
                    f"run {run}: GraphQL/HTTP {rate:8.1f} transitions/s   raw asyncpg {raw_rates[-1]:8.1f} /s"
                )
            for connection in connections:
                connection.close()
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        http, raw = statistics.median(http_rates), statistics.median(raw_rates)
        print(
            f"GraphQL over HTTP : {http:8.1f} transitions/s (median; latency p50 {cuts[49] * 1000:.1f} ms, "
            f"p99 {cuts[98] * 1000:.1f} ms)"
        )
        print(f"raw asyncpg       : {raw:8.1f} transitions/s (median)")
        print(f"server CPU        : {cpu / max(transitions, 1) * 1000:.2f} ms per GraphQL transition")
        print(f"client CPU        : {client_cpu / max(transitions, 1) * 1000:.2f} ms per GraphQL transition")
        print(f"ratio             : GraphQL reaches {http / raw:.1%} of raw ({raw / http:.2f}x slower)")
    finally:
        await pool.close()


async def _with_database(base_url: str, args: argparse.Namespace) -> None:
    name = f"cg_lifecycle_bench_{os.getpid()}"
    admin = await asyncpg.connect(base_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = base_url.rpartition("/")[0] + "/" + name
        token = await _prepare(url)
        for workers in args.workers:
            print(f"== {workers} server process(es)")
            await _bench(
                url,
                token,
                clients=args.clients,
                seconds=args.seconds,
                runs=args.runs,
                workers=workers,
                profile=args.profile.with_name(f"{args.profile.name}_w{workers}") if args.profile else None,
            )
        if args.count_sql:
            await _count_sql(url, token)
    finally:
        admin = await asyncpg.connect(base_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="server processes (uvicorn --workers), each measured",
    )
    parser.add_argument("--count-sql", action="store_true", help="SQL statements per transition")
    parser.add_argument("--profile", type=Path, help="py-spy samples of the server(s) over one extra run")
    args = parser.parse_args(argv)
    configured = os.environ.get("DATABASE_URL")
    if configured:
        asyncio.run(_with_database(asyncpg_url(configured), args))
        return
    with tempfile.TemporaryDirectory(prefix="casegraph-bench-") as tmp:
        server = pgserver.start(Path(tmp) / "data", fast=True)
        try:
            asyncio.run(_with_database(server.url, args))
        finally:
            if server.owned:
                server.stop()


if __name__ == "__main__":
    main()
