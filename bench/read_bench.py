"""Read throughput of /graphql: a nested page of 50 requests, as staff and as a customer.

    .venv/bin/python -m bench.read_bench [--requests 20000] [--connections 32] [--seconds 20]
                                         [--workers 1] [--runs 3] [--warmup 3] [--clients 1]
                                         [--limits on|off|compare] [--planner on|off|both] [--incident]
                                         [--variants admin,customer,viewer,node]

Seeds the demo organisation plus N requests (bench.common: private PostgreSQL
unless DATABASE_URL is set), starts the real server
(`uvicorn --factory server.app:create_app --workers W`, background workers
off) and, for each variant, keeps `--connections` HTTP/1.1 keep-alive
connections busy for a warm-up, then for `--seconds`; only responses that
complete inside the measured window count. Variants:

- admin:    the nested `serviceRequests(first: 50)` query with a staff (ADMIN) token;
- customer: the same query with a CUSTOMER token (C-1001, scoped to its own requests);
- viewer:   `{ viewer { subject } }`, the floor (HTTP, auth, GraphQL overhead without SQL);
- node:     `node(id:)` of one request (number, status, customer, SLA), as a console opens a link.

The load generator is a minimal HTTP/1.1 client on asyncio streams (a prebuilt
POST, Content-Length framing), not httpx: on a 2-core machine an httpx client
costs about as much CPU per request as the server does for a small query, so
it would measure itself. `--clients K` spreads the connections over K
processes. A response counts as an error unless it is a 200 whose JSON has
`data` and no `errors`. Printed: req/s, p50 and p99 latency (ms), errors, and
the CPU the server and the client used (in cores) for each run, then the
median of `--runs` runs per variant.

Limits (LIMITS.md: cost analysis, budgets) are on, with a budget no run exhausts.
`--limits compare` starts a second server with them off (CASEGRAPH_LIMITS=false),
alternates the runs between the two (each first in turn) and prints the overhead:
throughput lost and server CPU added per request (of the medians, and the median
ratio of the runs made side by side). `--incident` sends the 30-alias document of issue 14
(refused as too complex), each time as a new text and then repeated, and prints the
server CPU per refusal. `--planner both` starts servers with READ_PLANNER on and off and
prints, per variant, the read planner's throughput factor and server CPU per request beside the
resolver path's.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import orjson

from bench.common import RunningServer, bench_database, dev_token, percentile, running_server
from demo.data import ADMIN_EMAIL
from schema import ids

NESTED = """query Bench { serviceRequests(first: 50) { totalCount edges { cursor node {
  id number status priority subject financialImpact { amount currency }
  customer { id name } invoice { id number outstanding { amount currency } }
  assignee { id name } team { id name }
  sla { state remainingSeconds resolutionDueAt policy { name } }
  approvals { id status } } } pageInfo { hasNextPage endCursor } } }"""
VIEWER = "query Floor { viewer { subject } }"
# node(id:) of one request (the newest), as a console opens a request from a link.
NODE = """query One($id: ID!) { node(id: $id) { id ... on ServiceRequest {
  number status priority subject customer { name } sla { state resolutionDueAt } } } }"""
CUSTOMER_REF = "C-1001"
VARIANTS = ("admin", "customer", "viewer", "node")
LIMIT_MODES = {"on": (True,), "off": (False,), "compare": (True, False)}
PLANNER_MODES = {"on": ("on",), "off": ("off",), "both": ("on", "off")}
# A server variant: (limits on, READ_PLANNER).
Mode = tuple[bool, str]


def incident_document(variant: int) -> str:
    """30 aliases of four nested pages of 100 (issue 14); `variant` makes the text new."""
    one = (
        "customers(first: 100) { nodes { serviceRequests(first: 100) { nodes {"
        " comments(first: 100) { nodes { id body } } events(first: 100) { nodes { id kind } } } } } }"
    )
    return "{ " + " ".join(f"v{variant}a{i}: {one}" for i in range(30)) + " }"


@dataclass
class Load:
    """What one client process is asked to do (picklable)."""

    port: int
    request: bytes
    connections: int
    start: float  # wall clock (time.time) at which the measured window opens
    end: float


@dataclass
class Result:
    latencies: list[float]  # seconds, of the responses completed inside the window
    errors: int
    cpu_seconds: float  # this client process, over the window


def _request_bytes(port: int, token: str, query: str | tuple[str, dict[str, object]]) -> bytes:
    text, variables = (query, None) if isinstance(query, str) else query
    body = orjson.dumps({"query": text, "variables": variables} if variables else {"query": text})
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _ok(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and not doc.get("errors") and bool(doc.get("data"))


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bool:
    """One request on a keep-alive connection; whether its answer was a GraphQL success."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise ConnectionError("response without Content-Length")
    return _ok(status, await reader.readexactly(length))


async def _connection(load: Load, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", load.port)
    try:
        while (now := time.time()) < load.end:
            began = time.perf_counter()
            try:
                ok = await _exchange(reader, writer, load.request)
            except (OSError, asyncio.IncompleteReadError, ConnectionError, ValueError):
                ok = False
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", load.port)
            elapsed = time.perf_counter() - began
            if load.start <= now + elapsed <= load.end:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors.append(1)
    finally:
        writer.close()


async def _drive(load: Load) -> Result:
    latencies: list[float] = []
    errors: list[int] = []
    tasks = [asyncio.create_task(_connection(load, latencies, errors)) for _ in range(load.connections)]
    await asyncio.sleep(max(0.0, load.start - time.time()))
    cpu = time.process_time()
    await asyncio.gather(*tasks)
    return Result(latencies, len(errors), time.process_time() - cpu)


def _client_process(load: Load) -> Result:
    """Entry point of a client process (spawned: no state inherited from the parent's loop)."""
    return asyncio.run(_drive(load))


def _started(_: int) -> int:
    """Nothing: submitted once per client process so that they are all spawned before measuring."""
    time.sleep(0.2)
    return os.getpid()


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (from /proc; clock ticks to seconds)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class RunFigures:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cores: float
    client_cores: float
    server_ms_per_request: float


async def _run(
    pool: concurrent.futures.Executor, server: RunningServer, request: bytes, args: argparse.Namespace
) -> RunFigures:
    port = int(server.base_url.rpartition(":")[2])
    start = time.time() + 0.5 + args.warmup  # the client processes start within the first half second
    end = start + args.seconds
    shares = [
        args.connections // args.clients + (i < args.connections % args.clients) for i in range(args.clients)
    ]
    loop = asyncio.get_running_loop()
    futures = [
        loop.run_in_executor(pool, _client_process, Load(port, request, n, start, end)) for n in shares if n
    ]
    await asyncio.sleep(max(0.0, start - time.time()))
    server_cpu = _cpu_seconds(server.pids())
    results: list[Result] = list(await asyncio.gather(*futures))
    server_cpu = _cpu_seconds(server.pids()) - server_cpu
    latencies = sorted(x for r in results for x in r.latencies)
    return RunFigures(
        rps=len(latencies) / args.seconds,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        errors=sum(r.errors for r in results),
        server_cores=server_cpu / args.seconds,
        client_cores=sum(r.cpu_seconds for r in results) / args.seconds,
        server_ms_per_request=server_cpu * 1000 / max(len(latencies), 1),
    )


def _line(label: str, f: RunFigures) -> str:
    return (
        f"{label:<22} {f.rps:9.1f} req/s  p50 {f.p50_ms:8.2f} ms  p99 {f.p99_ms:8.2f} ms  "
        f"errors {int(f.errors):4d}  server {f.server_cores:4.2f} cores "
        f"({f.server_ms_per_request:6.3f} ms CPU/req)  client {f.client_cores:4.2f} cores"
    )


async def _check(server: RunningServer, token: str, query: str | tuple[str, dict[str, object]]) -> str:
    """One request by httpx before measuring: fail loudly if the variant does not work at all."""
    text, variables = (query, None) if isinstance(query, str) else query
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        response = await http.post(
            "/graphql",
            json={"query": text, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    doc = response.json()
    if response.status_code != 200 or doc.get("errors"):
        raise RuntimeError(f"variant does not work: {response.status_code} {str(doc)[:500]}")
    data = doc["data"]
    if "serviceRequests" in data:
        page = data["serviceRequests"]
        return f"totalCount {page['totalCount']}, {len(page['edges'])} edges, {len(response.content)} bytes"
    return f"{len(response.content)} bytes"


async def _bench(args: argparse.Namespace) -> None:
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    modes: tuple[Mode, ...] = tuple(
        (on, planner) for on in LIMIT_MODES[args.limits] for planner in PLANNER_MODES[args.planner]
    )
    async with bench_database(requests=args.requests) as url:
        admin = await dev_token(url, subject=ADMIN_EMAIL, roles=["ADMIN"])
        customer = await dev_token(
            url, subject="portal@c-1001", roles=["CUSTOMER"], customer_ref=CUSTOMER_REF
        )
        conn = await asyncpg.connect(url)
        try:
            newest = await conn.fetchval(
                "SELECT id FROM service_requests ORDER BY created_at DESC, id DESC LIMIT 1"
            )
        finally:
            await conn.close()
        node = (NODE, {"id": ids.encode("ServiceRequest", newest)})
        plan = {
            "admin": (admin, NESTED),
            "customer": (customer, NESTED),
            "viewer": (admin, VIEWER),
            "node": (admin, node),
        }
        async with contextlib.AsyncExitStack() as stack:
            servers = {
                mode: await stack.enter_async_context(
                    running_server(
                        url,
                        workers=args.workers,
                        extra_env={"CASEGRAPH_LIMITS": str(mode[0]).lower(), "READ_PLANNER": mode[1]},
                    )
                )
                for mode in modes
            }
            for (on, planner), server in servers.items():
                print(
                    f"server (limits {'on' if on else 'off'}, planner {planner}): {server.base_url} "
                    f"pids {server.pids()} (uvicorn --workers {args.workers})",
                    flush=True,
                )
            print(
                f"client: {args.clients} process(es), {args.connections} keep-alive connections; "
                f"{args.warmup:g} s warm-up + {args.seconds:g} s measured, {args.runs} runs",
                flush=True,
            )
            context = multiprocessing.get_context("spawn")
            medians: dict[tuple[str, Mode], RunFigures] = {}
            every_run: dict[tuple[str, Mode], list[RunFigures]] = {}
            with concurrent.futures.ProcessPoolExecutor(args.clients, mp_context=context) as pool:
                list(pool.map(_started, range(args.clients)))
                for variant in variants:
                    token, query = plan[variant]
                    runs: dict[Mode, list[RunFigures]] = {mode: [] for mode in modes}
                    for mode, server in servers.items():
                        print(
                            f"{_label(variant, mode, modes)}: {await _check(server, token, query)}",
                            flush=True,
                        )
                    for i in range(args.runs):
                        # Alternating, so that a machine getting busier weighs on both alike, and in
                        # turn first (ABBA), so that neither always runs right after the other.
                        order = list(servers.items())
                        for mode, server in order if i % 2 == 0 else order[::-1]:
                            request = _request_bytes(int(server.base_url.rpartition(":")[2]), token, query)
                            runs[mode].append(await _run(pool, server, request, args))
                            print(
                                _line(f"  {_label(variant, mode, modes)} run {i + 1}", runs[mode][-1]),
                                flush=True,
                            )
                    for mode in modes:
                        every_run[variant, mode] = runs[mode]
                        medians[variant, mode] = RunFigures(
                            *(
                                statistics.median(getattr(r, f) for r in runs[mode])
                                for f in RunFigures.__dataclass_fields__
                            )
                        )
            print(f"\nmedians of {args.runs} runs ({args.requests} requests seeded, workers={args.workers}):")
            for (variant, mode), figures in medians.items():
                print(_line(_label(variant, mode, modes), figures))
            for planner in PLANNER_MODES[args.planner] if len(LIMIT_MODES[args.limits]) == 2 else ():
                print(f"\noverhead of limits (cost analysis, budgets), limits on vs off (planner {planner}):")
                for variant in variants:
                    with_limits, without = (
                        medians[variant, (True, planner)],
                        medians[variant, (False, planner)],
                    )
                    added = with_limits.server_ms_per_request - without.server_ms_per_request
                    ratio = with_limits.server_ms_per_request / without.server_ms_per_request
                    # The runs were made in pairs, side by side: the median of the pairs' ratios.
                    pairs = zip(
                        every_run[variant, (True, planner)], every_run[variant, (False, planner)], strict=True
                    )
                    paired = statistics.median(
                        a.server_ms_per_request / b.server_ms_per_request - 1 for a, b in pairs
                    )
                    print(
                        f"{variant:<22} throughput {100 * (with_limits.rps / without.rps - 1):+6.1f} %   "
                        f"server CPU per request {added * 1000:+6.1f} µs ({100 * (ratio - 1):+5.1f} %; "
                        f"paired runs {100 * paired:+5.1f} %)"
                    )
            for limits in LIMIT_MODES[args.limits] if args.planner == "both" else ():
                print(f"\nread planner on vs off (limits {'on' if limits else 'off'}):")
                for variant in variants:
                    planned, resolved = medians[variant, (limits, "on")], medians[variant, (limits, "off")]
                    print(
                        f"{variant:<22} throughput x{planned.rps / resolved.rps:5.2f}   server CPU per "
                        f"request {planned.server_ms_per_request:7.3f} ms vs "
                        f"{resolved.server_ms_per_request:7.3f} ms"
                    )
            if args.incident:
                await _incident(servers[modes[0]], admin)


def _label(variant: str, mode: Mode, modes: tuple[Mode, ...]) -> str:
    """The variant, with the server settings that differ between the servers measured."""
    parts = []
    if len({on for on, _ in modes}) > 1:
        parts.append(f"limits {'on' if mode[0] else 'off'}")
    if len({planner for _, planner in modes}) > 1:
        parts.append(f"planner {mode[1]}")
    return f"{variant} ({', '.join(parts)})" if parts else variant


async def _incident(server: RunningServer, token: str, count: int = 50, repeats: int = 500) -> None:
    """Server CPU per refusal of the 30-alias document: new texts, then one text again and again."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/graphql-response+json"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:

        async def refused(query: str) -> None:
            response = await http.post("/graphql", json={"query": query}, headers=headers)
            code = response.json()["errors"][0]["extensions"]["code"]
            if response.status_code != 400 or code != "QUERY_TOO_COMPLEX":
                raise RuntimeError(f"not refused: {response.status_code} {response.text[:300]}")

        await refused(incident_document(count))  # the server warm (token, caches)
        cpu = _cpu_seconds(server.pids())
        for variant in range(count):
            await refused(incident_document(variant))
        first = (_cpu_seconds(server.pids()) - cpu) / count
        cpu = _cpu_seconds(server.pids())
        for _ in range(repeats):
            await refused(incident_document(0))
        again = (_cpu_seconds(server.pids()) - cpu) / repeats
    print(
        f"\n30-alias document (cost 60,906,030; refused, no SQL): {first * 1000:.2f} ms server CPU "
        f"per refusal as a new text ({count} texts), {again * 1000:.3f} ms when seen before ({repeats} times)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000, help="demo requests to seed")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--seconds", type=float, default=20, help="measured duration of one run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load before measuring")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--runs", type=int, default=3, help="runs per variant (the median is reported)")
    parser.add_argument("--clients", type=int, default=1, help="load-generator processes")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ", ".join(VARIANTS)
    )
    parser.add_argument(
        "--limits", choices=sorted(LIMIT_MODES), default="on", help="limits on, off, or both to compare"
    )
    parser.add_argument(
        "--planner",
        choices=sorted(PLANNER_MODES),
        default="on",
        help="READ_PLANNER of the server: on, off, or both to compare the read paths",
    )
    parser.add_argument("--incident", action="store_true", help="time the refusal of the 30-alias document")
    args = parser.parse_args(argv)
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(sorted(unknown))}")
    asyncio.run(_bench(args))


if __name__ == "__main__":
    main()
