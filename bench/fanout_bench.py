"""Fan-out of requestEvents to many WebSocket subscribers: commit -> delivery latency and memory.

    .venv/bin/python -m bench.fanout_bench [--subscribers 10000] [--events 20] [--workers 4]
        [--as staff|customer] [--fields minimal|request] [--commit mutation|sql]
        [--audiences 1|10|100] [--servers 1|2] [--broadcast postgres|redis]

`--audiences A`: subscriber i sends document number i mod A (the same
selection under A different operation names), so the server sees A distinct
audiences (document, variables, access class and customer scope) of N/A
sockets each. `--servers 2`: two server processes, the sockets split between
them, events announced through `--broadcast` (redis: a private redis-server
on a free port, started and stopped by the bench). Server CPU per delivered
event is the servers' user+system CPU time over the measured events divided
by the deliveries.

Creates a private PostgreSQL in a temporary directory (or a database of its
own on DATABASE_URL, dropped afterwards), migrates it, imports a minimal
organisation, opens one request and starts ONE server process
(`python -m uvicorn --factory server.app:create_app`, background workers
off). `--workers` client processes (this module with `--client`) then open
N WebSocket connections in total, each with one `requestEvents`
subscription (graphql-transport-ws, token in connection_init).

A warm-up event proves every subscription live; the server's RSS is read
before the sockets open and after the warm-up (delta / N = memory per
subscription, socket and graphql-transport-ws handler included). Then K
events are committed one at a time (`addComment` over HTTP, or a raw
INSERT + pg_notify with `--commit sql`); each waits until every subscriber
has it before the next one, so every figure is one event fanned out to N
subscribers. Latency is receive time at the subscriber minus the moment the
commit was acknowledged (the mutation's HTTP response, or COMMIT returning);
all processes share the machine's clock. Clients and server share the CPUs,
so the figures include the clients' own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from auth.keys import ensure_signing_key, load_keys
from auth.permissions import allowed_scopes
from auth.tokens import mint_token
from bench.common import profiled
from db.engine import make_engine, make_sessionmaker
from db.events import notify_events
from db.migrate import upgrade
from domain.enums import Role
from importer.master_data import import_master_data
from schema import ids
from server import pgserver
from server.settings import Settings, asyncpg_url, sqlalchemy_url

STAFF = "sue@example.com"
CUSTOMER_REF = "C-1"
FIELDS = {
    "minimal": "id cursor kind occurredAt",
    # One request look-up per subscriber and event (fresh loaders per event).
    "request": "id cursor kind occurredAt serviceRequest { number status }",
}


def _organisation() -> dict[str, Any]:
    return {
        "teams": [{"name": "Customer Service"}],
        "staff": [
            {
                "email": STAFF,
                "name": "Sue",
                "role": "SUPERVISOR",
                "approvalLevel": "SUPERVISOR",
                "teams": ["Customer Service"],
                "skills": ["GENERAL_INQUIRY"],
            }
        ],
        "customers": [
            {
                "externalRef": CUSTOMER_REF,
                "name": "Bench Customer",
                "segment": "SMB",
                "country": "US",
                "kycStatus": "VERIFIED",
                "riskRating": "LOW",
            }
        ],
    }


def _raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_000_000
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# ----------------------------------------------------------------------- client worker ----


async def _client(
    url: str, token: str, count: int, query: str, concurrency: int, audiences: int, offset: int
) -> None:
    """Open `count` subscribed sockets, then answer the orchestrator's commands on stdin."""
    from bench.ws_subscriber import Subscriber, open_subscriber

    received: dict[int, list[float]] = {}
    complete: dict[int, asyncio.Event] = {}
    subscribers = 0
    gate = asyncio.Semaphore(concurrency)
    failures: list[str] = []
    sockets: list[Subscriber] = []
    phases: dict[str, list[float]] = {"connect": [], "ack": []}

    def on_event(pk: int, at: float) -> None:
        times = received.setdefault(pk, [])
        times.append(at)
        if len(times) >= subscribers and pk in complete:
            complete[pk].set()

    def on_text(raw: bytes, at: float) -> None:
        message = orjson.loads(raw)
        if message.get("type") == "next":
            event = message["payload"]["data"]["requestEvents"]
            on_event(ids.decode(event["id"])[1], at)
        elif message.get("type") in ("error", "complete"):
            failures.append(str(message)[:200])

    async def open_one(index: int) -> None:
        nonlocal subscribers
        document = query.replace("AUDIENCE", f"A{(offset + index) % audiences}")
        async with gate:
            try:
                t0 = time.perf_counter()
                ws = await asyncio.wait_for(open_subscriber(url), 120)
                t1 = time.perf_counter()
                ws.send_text(
                    json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
                )
                ack = json.loads(await asyncio.wait_for(ws.next_text(), 120))
                phases["connect"].append(t1 - t0)
                phases["ack"].append(time.perf_counter() - t1)
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no ack: {ack}")
                ws.listen(on_text)
                ws.send_text(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document}}))
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            sockets.append(ws)
            subscribers += 1

    began = time.perf_counter()
    await asyncio.gather(*(open_one(i) for i in range(count)))
    _emit(
        {
            "opened": subscribers,
            "failed": count - subscribers,
            "seconds": time.perf_counter() - began,
            "errors": failures[:3],
            "phases_ms": {k: round(statistics.median(v) * 1000, 1) for k, v in phases.items() if v},
        }
    )
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while line := (await stdin.readline()).decode().strip():
        command, _, arg = line.partition(" ")
        if command == "wait":
            pk, limit = int(arg.split()[0]), float(arg.split()[1])
            complete.setdefault(pk, asyncio.Event())
            if len(received.get(pk, ())) >= subscribers:
                complete[pk].set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(complete[pk].wait(), limit)
            _emit({"done": pk, "got": len(received.get(pk, ())), "of": subscribers})
        elif command == "report":
            _emit({"report": {str(k): v for k, v in received.items()}, "late_errors": failures[3:6]})
        elif command == "quit":
            break
    for ws in sockets:
        with contextlib.suppress(Exception):
            ws.close()
    await asyncio.sleep(0.5)  # the close frames out before the process ends


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class Worker:
    """A client process and its line protocol."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"client process exited ({await self.proc.wait()})")
        return json.loads(line)  # type: ignore[no-any-return]

    async def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()


# ------------------------------------------------------------------------ orchestrator ----


async def _prepare(url: str, who: str) -> tuple[str, str]:
    """Migrate, import, signing key; (subscriber token, staff token for the mutations)."""
    await asyncio.to_thread(upgrade, sqlalchemy_url(url))
    engine = make_engine(sqlalchemy_url(url), pool_size=2)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await import_master_data(session, _organisation())
            await ensure_signing_key(session, allow_generate=True)
        async with make_sessionmaker(engine)() as session:
            keys = await load_keys(session)
    finally:
        await engine.dispose()
    settings = Settings(DATABASE_URL=url)
    issuer, audience, ttl = settings.oauth_issuer, settings.oauth_audience, 12 * 3600
    staff = mint_token(
        keys,
        issuer=issuer,
        audience=audience,
        ttl_seconds=ttl,
        subject=STAFF,
        roles=["SUPERVISOR"],
        scopes=sorted(allowed_scopes([Role.SUPERVISOR])),
    )
    if who == "staff":
        return staff, staff
    customer = mint_token(
        keys,
        subject="portal@c-1",
        roles=["CUSTOMER"],
        scopes=sorted(allowed_scopes([Role.CUSTOMER])),
        customer_ref=CUSTOMER_REF,
        issuer=issuer,
        audience=audience,
        ttl_seconds=ttl,
    )
    return customer, staff


async def _gql(http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]  # type: ignore[no-any-return]


class Committer:
    """Commits one event: (event pk, commit reference time as wall-clock seconds).

    Mutation: the reference is the event's occurredAt (the server's clock when the mutation's
    transaction began; the commit follows within milliseconds): the HTTP response is no
    reference, the server finishes it only after fanning the event out. SQL: the moment
    COMMIT returned to this process.
    """

    def __init__(self, mode: str, http: httpx.AsyncClient, token: str, pool: asyncpg.Pool, request: str):
        self.mode, self.http, self.token, self.pool, self.request = mode, http, token, pool, request
        self.n = 0
        self.round_trips: list[float] = []

    async def commit(self) -> tuple[int, float]:
        self.n += 1
        if self.mode == "sql":
            return await self._sql()
        began = time.perf_counter()
        data = await _gql(
            self.http,
            self.token,
            "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } userErrors { code } } }",
            {"i": {"serviceRequestId": self.request, "body": f"bench {self.n}", "visibility": "PUBLIC"}},
        )
        self.round_trips.append(time.perf_counter() - began)
        comment = ids.decode(data["addComment"]["comment"]["id"])[1]
        row = await self.pool.fetchrow(
            "SELECT id, occurred_at FROM request_events WHERE comment_id = $1", comment
        )
        return int(row["id"]), row["occurred_at"].timestamp()

    async def _sql(self) -> tuple[int, float]:
        request_pk = ids.decode(self.request)[1]
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                pk = await conn.fetchval(
                    "INSERT INTO request_events "
                    "(request_id, kind, actor_subject, actor_name, customer_id, team_id) "
                    "SELECT id, 'ESCALATED', 'bench', 'Bench', customer_id, team_id FROM service_requests "
                    "WHERE id = $1 RETURNING id",
                    request_pk,
                )
                await notify_events(conn, request_ids=[request_pk], kinds=["ESCALATED"])
            return int(pk), time.time()


async def _bench(url: str, args: argparse.Namespace) -> None:
    fd_limit = _raise_fd_limit()
    token, staff = await _prepare(url, args.as_)
    env = {**os.environ, "DATABASE_URL": url, "CASEGRAPH_WORKERS": "false", "CASEGRAPH_ENV": "test"}
    # Thousands of subscriptions of one caller are past the 200 a principal may hold (LIMITS.md):
    # limits off, this bench measures delivery.
    env["CASEGRAPH_LIMITS"] = "false"
    env.pop("BROADCAST_URL", None)
    redis = None
    if args.broadcast == "redis":
        from tests.support.redis_server import RedisServer

        redis = await RedisServer().start()
        env["BROADCAST_URL"] = redis.url
    servers: list[asyncio.subprocess.Process] = []
    bases: list[str] = []
    for _ in range(args.servers):
        port = pgserver._free_port()
        servers.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "server.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                "--backlog",
                "4096",
                "--ws-per-message-deflate",
                "false",  # as `casegraph serve` runs it
                env=env,
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    base = bases[0]
    workers: list[Worker] = []
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            for proc, url_ in zip(servers, bases, strict=True):
                async with httpx.AsyncClient(base_url=url_, timeout=60) as probe:
                    await _ready(probe, proc)
            created = await _gql(
                http,
                staff,
                "mutation($i: CreateServiceRequestInput!) "
                "{ createServiceRequest(input: $i) { serviceRequest { id } userErrors { code message } } }",
                {
                    "i": {
                        "customerId": ids.encode(
                            "Customer",
                            await pool.fetchval(
                                "SELECT id FROM customers WHERE external_ref = $1", CUSTOMER_REF
                            ),
                        ),
                        "type": "GENERAL_INQUIRY",
                        "channel": "EMAIL",
                        "subject": "Fan-out bench",
                        "description": "Where can I find my statement?",
                    }
                },
            )
            request = created["createServiceRequest"]["serviceRequest"]["id"]
            committer = Committer(args.commit, http, staff, pool, request)
            await asyncio.sleep(1)
            rss_before = sum(_rss_bytes(p.pid) for p in servers)

            query = f"subscription AUDIENCE {{ requestEvents {{ {FIELDS[args.fields]} }} }}"
            shares = [
                args.subscribers // args.workers + (i < args.subscribers % args.workers)
                for i in range(args.workers)
            ]
            offset = 0
            for index, share in enumerate(shares):
                target = bases[index % len(bases)]
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bench.fanout_bench",
                    "--client",
                    target.replace("http", "ws") + "/graphql",
                    "--token",
                    token,
                    "--count",
                    str(share),
                    "--query",
                    query,
                    "--concurrency",
                    str(args.concurrency),
                    "--audiences",
                    str(args.audiences),
                    "--offset",
                    str(offset),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    limit=2**28,
                )
                workers.append(Worker(proc))
                offset += share
            began = time.perf_counter()
            opened = [await w.read() for w in workers]
            open_seconds = time.perf_counter() - began
            total = sum(o["opened"] for o in opened)
            failed = sum(o["failed"] for o in opened)
            errors = [e for o in opened for e in o["errors"]]
            print(
                f"fd limit {fd_limit}; {args.workers} client processes; subscriber = {args.as_}, "
                f"fields = {args.fields!r}, commit via {args.commit}; {args.audiences} audience(s); "
                f"{args.servers} server process(es), broadcast {args.broadcast}"
            )
            print(
                f"subscriptions open: {total} of {args.subscribers} in {open_seconds:.1f} s "
                f"({total / open_seconds:.0f}/s); failed {failed} {errors[:3]}; "
                f"median per socket {opened[0].get('phases_ms')}"
            )

            warm_pk, _ = await committer.commit()
            warm = await _wait_all(workers, warm_pk, 300)
            print(f"warm-up event delivered to {warm} of {total}")
            await asyncio.sleep(2)
            rss_after = sum(_rss_bytes(p.pid) for p in servers)
            cpu_before = sum(_cpu_seconds(p.pid) for p in servers)
            clients_before = sum(_cpu_seconds(w.proc.pid) for w in workers)

            acked: dict[int, float] = {}
            fanout: list[float] = []
            async with profiled([p.pid for p in servers], args.profile):
                for _ in range(args.events):
                    pk, at = await committer.commit()
                    acked[pk] = at
                    got = await _wait_all(workers, pk, args.timeout)
                    fanout.append(time.time() - at)
                    if got < total:
                        print(f"event {pk}: only {got} of {total} within {args.timeout:g} s")
                    await asyncio.sleep(args.pause)

            cpu_used = sum(_cpu_seconds(p.pid) for p in servers) - cpu_before
            clients_used = sum(_cpu_seconds(w.proc.pid) for w in workers) - clients_before
            latencies: list[float] = []
            for w in workers:
                await w.send("report")
                report = (await w.read())["report"]
                for pk, times in report.items():
                    if int(pk) in acked:
                        latencies += [t - acked[int(pk)] for t in times]
            expected = total * args.events
            print(f"deliveries measured: {len(latencies)} of {expected} ({args.events} events x {total})")
            if latencies:
                ms = [x * 1000 for x in latencies]
                print(
                    f"commit -> delivery latency: p50 {_pct(ms, 50):.0f} ms, p90 {_pct(ms, 90):.0f} ms, "
                    f"p99 {_pct(ms, 99):.0f} ms, max {max(ms):.0f} ms"
                )
                print(
                    f"time until the LAST subscriber had an event (median of {len(fanout)}): "
                    f"{statistics.median(fanout) * 1000:.0f} ms"
                )
            if committer.round_trips:
                print(
                    f"addComment round trip while fanning out (median): "
                    f"{statistics.median(committer.round_trips) * 1000:.0f} ms"
                )
            if latencies:
                print(
                    f"server CPU: {cpu_used:.2f} s over the measured events (pauses included) -> "
                    f"{cpu_used / len(latencies) * 1e6:.0f} us per delivered event"
                )
                print(
                    f"client CPU (same machine): {clients_used:.2f} s -> "
                    f"{clients_used / len(latencies) * 1e6:.0f} us per received event"
                )
            print(
                f"server RSS: {rss_before / 2**20:.0f} MiB before, {rss_after / 2**20:.0f} MiB with {total} "
                f"subscriptions -> {(rss_after - rss_before) / max(total, 1) / 1024:.1f} KiB per subscription"
            )
    finally:
        for w in workers:
            with contextlib.suppress(Exception):
                await w.send("quit")
        for w in workers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(w.proc.wait(), 60)
            if w.proc.returncode is None:
                w.proc.kill()
        await pool.close()
        for proc in servers:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
        if redis is not None:
            await redis.close()


async def _ready(http: httpx.AsyncClient, server: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.returncode is not None:
            raise RuntimeError("server exited")
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def _wait_all(workers: list[Worker], pk: int, limit: float) -> int:
    for w in workers:
        await w.send(f"wait {pk} {limit}")
    return sum([int((await w.read())["got"]) for w in workers])


async def _with_database(base_url: str, args: argparse.Namespace) -> None:
    name = f"cg_fanout_bench_{os.getpid()}"
    admin = await asyncpg.connect(base_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        await _bench(base_url.rpartition("/")[0] + "/" + name, args)
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
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="client processes")
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight per client process")
    parser.add_argument("--as", dest="as_", choices=("staff", "customer"), default="staff")
    parser.add_argument("--fields", choices=tuple(FIELDS), default="minimal")
    parser.add_argument("--commit", choices=("mutation", "sql"), default="mutation")
    parser.add_argument("--audiences", type=int, default=1, help="distinct documents among the subscribers")
    parser.add_argument("--servers", type=int, default=1, help="server processes")
    parser.add_argument("--broadcast", choices=("postgres", "redis"), default="postgres")
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between events")
    parser.add_argument(
        "--profile", type=Path, help="py-spy samples of the server(s) over the measured events, to this file"
    )
    parser.add_argument(
        "--timeout", type=float, default=120, help="per event, for every subscriber to have it"
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--query", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        import uvloop

        _raise_fd_limit()
        uvloop.run(
            _client(
                args.client, args.token, args.count, args.query, args.concurrency, args.audiences, args.offset
            )
        )
        return
    configured = os.environ.get("DATABASE_URL")
    if configured:
        asyncio.run(_with_database(asyncpg_url(configured), args))
        return
    with tempfile.TemporaryDirectory(prefix="casegraph-fanout-") as tmp:
        server = pgserver.start(Path(tmp) / "data", fast=True)
        try:
            asyncio.run(_with_database(server.url, args))
        finally:
            if server.owned:
                server.stop()


if __name__ == "__main__":
    main()
