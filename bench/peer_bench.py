"""casegraph beside PostGraphile 5 on the same database, and raw PostgreSQL as the limit.

    .venv/bin/python -m bench.peer_bench [--requests 200000] [--seconds 30] [--warmup 10] [--runs 2]
                                         [--connections 32] [--workers 2] [--roles admin,customer]
                                         [--skip-peer] [--skip-raw] [--cg-env KEY=VALUE ...]

Seeds the demo organisation plus N requests (bench.common: a private PostgreSQL unless DATABASE_URL
is set), starts casegraph (`uvicorn --factory server.app:create_app`, background workers off, plus
any `--cg-env` settings) and PostGraphile 5.1.5 (bench/postgraphile.py: installed on first use into
the git-ignored bench/.peer/, one Node 22 process) on that same database, and checks before and after
measuring that they answer the same page (bench/peer_page.py): casegraph's ADMIN answer equals the
JSON of the raw statement bench/peer_page.sql, PostGraphile's equals casegraph's field by field,
the CUSTOMER page is that customer's newest requests, and nobody answers with errors.

Then, alternating in each of `--runs` rounds, every target gets a `--warmup` of load (not reported)
and a measured run of `--seconds`: `wrk -t2 -c{connections} --latency --timeout 10s` POSTing the page
to PostGraphile, to casegraph as ADMIN, as CUSTOMER (scoped to C-1001), and with `--workers W` as
ADMIN on W uvicorn workers; then `pgbench -M prepared -c{connections} -j2` running
bench/peer_page.sql, PostgreSQL building the whole response in one statement. Answers that are not a
200 without `errors` count as bad (wrk's Lua script), as do socket errors and timeouts.

Printed per run (also in runs.txt) and as medians (summary.md): req/s, p50/p99, the server's and
PostgreSQL's CPU per request (CPU of the server's process tree, and of the PostgreSQL backends of the
bench's database, from /proc), PostgreSQL transactions per request and sessions opened (from
pg_stat_database: connection churn shows there), the load generator's CPU, the CPU no measured
group accounts for ("other": this bench, other jobs on the machine), and the ratios to PostGraphile.
Raw outputs (wrk and pgbench output with the CPU of each run, the answers checked, the bodies sent,
PostGraphile's log, env.txt) go to bench/results/peer_<time>/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from bench import postgraphile
from bench.common import RunningServer, bench_database, dev_token, profiled, running_server
from bench.loadgen import CpuGroup, LoadFigures, run_pgbench, run_wrk
from bench.peer_page import (
    CASEGRAPH_QUERY,
    POSTGRAPHILE_QUERY,
    RAW_SQL_FILE,
    check_admin_page,
    check_customer_page,
    check_peer_page,
)
from bench.peer_report import describe_environment, medians_table, run_line, server_log_exceptions
from demo.data import ADMIN_EMAIL
from server.settings import Settings

ROLES = ("admin", "customer")
CUSTOMER_REF = "C-1001"
RESULTS = Path(__file__).resolve().parent / "results"
PEER = "postgraphile"

Results = dict[str, list[LoadFigures]]  # target key -> its measured runs, in order


@dataclass
class Target:
    """One thing measured: an HTTP server with a body and token, or the raw statement under pgbench."""

    key: str  # in file names
    label: str  # in the table
    url: str = ""
    body_file: Path | None = None
    token: str | None = None
    server_pid: int | None = None


@dataclass
class Servers:
    casegraph: RunningServer
    casegraph_workers: RunningServer | None
    peer: postgraphile.PeerServer | None


def _graphql_url(server: RunningServer) -> str:
    return server.base_url + "/graphql"


async def _answer(http: httpx.AsyncClient, url: str, query: str, token: str | None) -> tuple[bytes, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(url, json={"query": query}, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:1000]}")
    return response.content, response.json()


async def _verify(
    conn: asyncpg.Connection, servers: Servers, tokens: dict[str, str], out: Path, when: str
) -> None:
    """The page is the same everywhere, without errors (see bench/peer_page.py); raises otherwise."""
    async with httpx.AsyncClient(timeout=120) as http:
        cg = _graphql_url(servers.casegraph)
        answer, admin = await _answer(http, cg, CASEGRAPH_QUERY, tokens["admin"])
        (out / f"answer_casegraph_admin_{when}.json").write_bytes(answer)
        facts = await check_admin_page(conn, answer, admin)
        print(f"  casegraph ADMIN = the raw statement's JSON ({RAW_SQL_FILE.name}): {facts.describe()}")
        if "customer" in tokens:
            answer, customer = await _answer(http, cg, CASEGRAPH_QUERY, tokens["customer"])
            (out / f"answer_casegraph_customer_{when}.json").write_bytes(answer)
            facts = await check_customer_page(conn, answer, customer, CUSTOMER_REF)
            print(f"  casegraph CUSTOMER = {CUSTOMER_REF}'s newest requests: {facts.describe()}")
        if servers.casegraph_workers is not None:
            answer, document = await _answer(
                http, _graphql_url(servers.casegraph_workers), CASEGRAPH_QUERY, tokens["admin"]
            )
            facts = await check_admin_page(conn, answer, document)
            print(f"  casegraph ADMIN on several workers = the raw statement's JSON: {facts.describe()}")
        if servers.peer is not None:
            answer, document = await _answer(http, servers.peer.url, POSTGRAPHILE_QUERY, None)
            (out / f"answer_postgraphile_{when}.json").write_bytes(answer)
            facts = check_peer_page(answer, document, admin)
            print(f"  PostGraphile = casegraph ADMIN on every field: {facts.describe()}")


async def _postgres_cpu(conn: asyncpg.Connection) -> CpuGroup | None:
    """The backends of the bench's database (children of the postmaster), if PostgreSQL runs here."""
    backend, database = await conn.fetchrow("SELECT pg_backend_pid(), current_database()")
    postmaster = _parent(backend)
    # None: PostgreSQL runs on another machine, its CPU is not ours to read.
    return None if postmaster is None else CpuGroup("postgres", (postmaster,), only=database)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except OSError:
        return None


async def _check_connections(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    """Warn when the sitting may open more connections than PostgreSQL allows (pgbench would fail)."""
    # casegraph: pool size + overflow (db.engine) per process; PostGraphile: node-postgres' pool of 10.
    processes = 1 + (args.workers if args.workers > 1 else 0)
    needed = 2 * Settings(DATABASE_URL="postgresql://-").db_pool_size * processes + 10 + args.connections + 2
    allowed = int(await conn.fetchval("SHOW max_connections"))
    if allowed < needed:
        print(f"warning: PostgreSQL allows {allowed} connections, this sitting may open up to {needed}")


def _targets(args: argparse.Namespace, servers: Servers, tokens: dict[str, str], out: Path) -> list[Target]:
    """What one round measures, in its order: PostGraphile, casegraph per role, on workers, raw."""
    casegraph_body = out / "body_casegraph.json"
    casegraph_body.write_bytes(orjson.dumps({"query": CASEGRAPH_QUERY}))
    targets = []
    if servers.peer is not None:
        peer_body = out / "body_postgraphile.json"
        peer_body.write_bytes(orjson.dumps({"query": POSTGRAPHILE_QUERY}))
        targets.append(
            Target(
                key=PEER,
                label=f"PostGraphile {postgraphile.POSTGRAPHILE_VERSION} (1 Node process)",
                url=servers.peer.url,
                body_file=peer_body,
                server_pid=servers.peer.process.pid,
            )
        )
    labels = {
        "admin": "casegraph ADMIN (1 process)",
        "customer": f"casegraph CUSTOMER {CUSTOMER_REF} (scoped, 1 process)",
    }
    for role in args.roles:
        targets.append(
            Target(
                key=f"casegraph_{role}",
                label=labels[role],
                url=_graphql_url(servers.casegraph),
                body_file=casegraph_body,
                token=tokens[role],
                server_pid=servers.casegraph.process.pid,
            )
        )
    if servers.casegraph_workers is not None:
        targets.append(
            Target(
                key=f"casegraph_w{args.workers}_admin",
                label=f"casegraph ADMIN, --workers {args.workers}",
                url=_graphql_url(servers.casegraph_workers),
                body_file=casegraph_body,
                token=tokens["admin"],
                server_pid=servers.casegraph_workers.process.pid,
            )
        )
    if not args.skip_raw:
        targets.append(
            Target(key="raw", label="raw PostgreSQL: the whole JSON in one prepared statement (pgbench)")
        )
    return targets


# Transactions ended and sessions opened in the bench's database so far. PostgreSQL publishes a
# backend's counts at most once a second, so a run's last second may count in the next reading.
_ACTIVITY = """SELECT xact_commit + xact_rollback AS transactions, sessions
FROM pg_stat_database WHERE datname = current_database()"""


@dataclass
class Sitting:
    """What every run of one invocation shares: the database, how to count its CPU, the load, the folder."""

    database_url: str
    conn: asyncpg.Connection
    postgres: CpuGroup | None
    connections: int
    out: Path

    async def load(self, target: Target, seconds: float, name: str) -> LoadFigures:
        """`seconds` of load on `target`, with the database's activity per request; output in `name`.txt."""
        before = await self.conn.fetchrow(_ACTIVITY)
        figures = await self._load(target, seconds, self.out / f"{name}.txt")
        after = await self.conn.fetchrow(_ACTIVITY)
        requests = figures.rate * seconds
        return dataclasses.replace(
            figures,
            transactions_per_request=(after["transactions"] - before["transactions"]) / requests
            if requests
            else None,
            sessions_opened=after["sessions"] - before["sessions"],
        )

    async def _load(self, target: Target, seconds: float, output: Path) -> LoadFigures:
        """wrk on an HTTP target, pgbench on the raw statement."""
        cpu = [self.postgres] if self.postgres else []
        if target.body_file is None or target.server_pid is None:
            return await run_pgbench(
                self.database_url,
                RAW_SQL_FILE,
                seconds=seconds,
                connections=self.connections,
                cpu=cpu,
                output=output,
            )
        return await run_wrk(
            target.url,
            target.body_file,
            token=target.token,
            seconds=seconds,
            connections=self.connections,
            cpu=[CpuGroup("server", (target.server_pid,)), *cpu],
            output=output,
        )

    async def rounds(self, targets: list[Target], *, runs: int, warmup: float, seconds: float) -> Results:
        """`runs` rounds, alternating the targets; each gets its warm-up (not kept), then its run."""
        results: Results = {t.key: [] for t in targets}
        width = max((len(t.key) for t in targets), default=0) + 6
        for round_ in range(1, runs + 1):
            for target in targets:
                if warmup > 0:
                    await self.load(target, warmup, f"warmup_{target.key}_run{round_}")
                    await asyncio.sleep(1)
                figures = await self.load(target, seconds, f"{target.key}_run{round_}")
                results[target.key].append(figures)
                label = f"{target.key} run {round_}"
                line = run_line(f"  {label:<{width}}", figures)
                print(line, flush=True)
                with (self.out / "runs.txt").open("a") as runs_file:
                    runs_file.write(line + "\n")
                await asyncio.sleep(1)
        return results


async def _bench(args: argparse.Namespace) -> None:
    cg_env = dict(item.split("=", 1) for item in args.cg_env)
    out = RESULTS / f"peer_{datetime.now(UTC):%Y%m%d_%H%M%S}"
    out.mkdir(parents=True)
    node = None if args.skip_peer else await asyncio.to_thread(postgraphile.install)
    async with bench_database(requests=args.requests) as url:
        tokens = {"admin": await dev_token(url, subject=ADMIN_EMAIL, roles=["ADMIN"])}
        if "customer" in args.roles:
            tokens["customer"] = await dev_token(
                url, subject="portal@c-1001", roles=["CUSTOMER"], customer_ref=CUSTOMER_REF
            )
        conn = await asyncpg.connect(url)
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(conn.close)
            await conn.execute("VACUUM ANALYZE")
            postgres = await _postgres_cpu(conn)
            await _check_connections(conn, args)
            servers = Servers(
                casegraph=await stack.enter_async_context(
                    running_server(url, extra_env=cg_env, log=out / "casegraph.log")
                ),
                casegraph_workers=(
                    await stack.enter_async_context(
                        running_server(
                            url,
                            workers=args.workers,
                            extra_env=cg_env,
                            log=out / f"casegraph_w{args.workers}.log",
                        )
                    )
                    if args.workers > 1
                    else None
                ),
                peer=(
                    await stack.enter_async_context(
                        postgraphile.running_postgraphile(node, url, log=out / "postgraphile.log")
                    )
                    if node
                    else None
                ),
            )
            environment = describe_environment(
                settings=vars(args),
                node=node,
                postgres_version=await conn.fetchval("SELECT version()"),
                casegraph_env=cg_env,
            )
            (out / "env.txt").write_text(environment)
            print(environment, end="", flush=True)
            if postgres is None:
                print("PostgreSQL runs on another machine: its CPU is not measured")
            print("checking the page before measuring:", flush=True)
            await _verify(conn, servers, tokens, out, "before")
            targets = _targets(args, servers, tokens, out)
            print(
                f"{args.runs} alternating rounds, each target {args.warmup:g} s warm-up + {args.seconds:g} s "
                f"measured, {args.connections} connections; raw outputs in {out}",
                flush=True,
            )
            sitting = Sitting(
                database_url=url, conn=conn, postgres=postgres, connections=args.connections, out=out
            )
            results = await sitting.rounds(targets, runs=args.runs, warmup=args.warmup, seconds=args.seconds)
            if args.profile:
                # After the measured runs (sampling costs the sampled process a little): one more
                # run of each casegraph target under py-spy, to show where its CPU goes.
                for target in targets:
                    if target.key.startswith("casegraph") and target.server_pid is not None:
                        path = out / f"profile_{target.key}"
                        async with profiled([target.server_pid], path):
                            await sitting.load(target, args.seconds, f"profiled_{target.key}")
            print("checking the page after measuring:", flush=True)
            await _verify(conn, servers, tokens, out, "after")
    table = medians_table([(t.key, t.label) for t in targets], results, peer=PEER)
    summary = (
        f"medians of {args.runs} alternating runs, {args.seconds:g} s each after {args.warmup:g} s "
        f"of warm-up, {args.connections} connections, {args.requests:,} requests seeded:\n\n{table}\n"
    )
    logs = "".join(server_log_exceptions(log) for log in sorted(out.glob("casegraph*.log")))
    logs = "\n" + logs if logs else ""
    (out / "summary.md").write_text(environment + "\n" + summary + logs)
    print("\n" + summary + logs + f"\nraw outputs: {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200_000, help="demo requests to seed")
    parser.add_argument("--seconds", type=float, default=30, help="measured duration of one run")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load before each measured run")
    parser.add_argument("--runs", type=int, default=2, help="alternating rounds (medians are reported)")
    parser.add_argument(
        "--profile", action="store_true", help="then one more run per casegraph target under py-spy"
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent connections (wrk and pgbench)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="also measure casegraph ADMIN on W workers (W > 1)"
    )
    parser.add_argument("--roles", default=",".join(ROLES), help="casegraph roles to measure: admin,customer")
    parser.add_argument("--skip-peer", action="store_true", help="without PostGraphile (no Node, no npm)")
    parser.add_argument("--skip-raw", action="store_true", help="without the pgbench baseline")
    parser.add_argument(
        "--cg-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment of casegraph (repeatable)",
    )
    args = parser.parse_args(argv)
    args.roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    if not set(args.roles) <= set(ROLES):
        parser.error(f"--roles takes {', '.join(ROLES)}")
    if any("=" not in item for item in args.cg_env):
        parser.error("--cg-env takes KEY=VALUE")
    if not args.roles and args.skip_peer and args.skip_raw:
        parser.error("nothing to measure")
    if args.seconds < 3 or args.runs < 1:
        parser.error("--seconds must be at least 3 and --runs at least 1")
    tools = {"wrk": "wrk", **({} if args.skip_raw else {"pgbench": "postgresql-client"})}
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        sys.exit(f"{', '.join(missing)} not found: apt-get install {' '.join(tools[t] for t in missing)}")
    asyncio.run(_bench(args))


if __name__ == "__main__":
    main()
