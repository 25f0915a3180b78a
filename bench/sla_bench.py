"""Benchmark of the SLA engine: alert lateness under a burst, and database load while idle.

    .venv/bin/python -m bench.sla_bench [--requests 100000] [--spread 30] [--engines 2]
                                        [--background 0]

Starts a private PostgreSQL in a temporary directory (or uses DATABASE_URL,
where it creates and drops a database of its own) and migrates it. Inserts N
open requests (one INSERT ... SELECT generate_series) whose first-response
breach falls due spread evenly over `--spread` seconds, starting a few
seconds after the insert (with `--background M`, M more open requests whose
alerts are days away are inserted first: a large open backlog in the
engine's index), while `--engines` engine processes run (each with
its own pool, EventHub and SLA engine, as a server process has; woken once
after the insert, which no event announces), and waits until every breach
was emitted.

Prints, per alert, the lateness p50 / p99 / max as
- stored: the SLA_BREACHED event's occurred_at minus its due instant
  (occurred_at is the engine's clock when it claimed the batch), and
- committed: when the engine's commit returned minus the due instant;
checks every request got exactly one alert; then counts the database's
transactions (pg_stat_database xact_commit + xact_rollback, read from
another database) over 10 idle seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from server import pgserver
from server.broadcast_pg import make_broadcast
from server.event_hub import EventHub
from server.settings import asyncpg_url, sqlalchemy_url
from server.sla_engine import SlaEngine

_SETUP = [
    "INSERT INTO teams (name) VALUES ('Billing'), ('Finance Escalations')",
    """INSERT INTO customers (external_ref, name, segment, country, kyc_status, risk_rating)
       VALUES ('C-1', 'Bench customer', 'SMB', 'DE', 'VERIFIED', 'LOW')""",
    # 24x7 targets: the first response is breached one hour after creation.
    """UPDATE sla_policies SET first_response_seconds = 3600, resolution_seconds = 8 * 3600,
                              calendar_id = NULL
       WHERE tier = 'STANDARD' AND priority = 'MEDIUM'""",
]

# The at-risk alert of the first response is already out: the next alert of each request is its
# breach, at `due` (a request created an hour before). The resolution's next alert is hours away.
_FILL = """
    INSERT INTO service_requests (
        customer_id, type, channel, subject, description, priority, status, team_id, created_by_subject,
        sla_policy_id, first_response_due_at, resolution_due_at, first_response_at_risk_at,
        next_sla_check_at, created_at, updated_at)
    SELECT 1, 'GENERAL_INQUIRY', 'PORTAL', 'Bench request ' || i, 'Where is my refund?', 'MEDIUM', 'NEW',
           1, 'bench@example.com',
           (SELECT id FROM sla_policies WHERE tier = 'STANDARD' AND priority = 'MEDIUM'),
           due, due + interval '7 hours', due - interval '12 minutes', due, due - interval '1 hour',
           due - interval '1 hour'
    FROM (SELECT i, $1::timestamptz + ($2::float8 * (i - 1) / $3) * interval '1 second' AS due
          FROM generate_series(1, $3) AS i) AS s
"""

_LATENESS = """
    SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM occurred_at - due_at)),
           max(extract(epoch FROM occurred_at - due_at)), min(extract(epoch FROM occurred_at - due_at)),
           count(*), count(DISTINCT request_id), min(occurred_at), max(occurred_at)
    FROM request_events WHERE kind = 'SLA_BREACHED'
"""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


# ---------------------------------------------------------------- engine process ----


async def _serve_engine(url: str) -> None:
    """One engine process: answers `stats` and `stop` lines on stdin with a JSON line."""
    db = make_engine(sqlalchemy_url(url), pool_size=5)
    try:
        async with (
            make_broadcast(url) as broadcast,
            EventHub(make_sessionmaker(db), broadcast) as hub,
            SlaEngine(make_sessionmaker(db), hub=hub) as engine,
        ):
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
            print("ready", flush=True)
            while command := (await reader.readline()).decode().strip():
                if command == "wake":
                    engine.wake()
                s = engine.stats
                stats: dict[str, Any] = {
                    "alerts": s.alerts,
                    "batches": s.batches,
                    "reads": s.reads,
                    "locked_retries": s.locked_retries,
                    "failures": s.failures,
                }
                if command == "stop":
                    stats["lateness"] = list(s.lateness)
                print(json.dumps(stats), flush=True)
                if command == "stop":
                    break
    finally:
        await db.dispose()


class _EngineProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, url: str) -> _EngineProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.sla_bench", "--serve-engine", url,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**26,
        )  # fmt: skip
        engine = cls(process)
        assert (await engine._line()) == "ready"
        return engine

    async def _line(self) -> str:
        assert self.process.stdout is not None
        return (await self.process.stdout.readline()).decode().strip()

    async def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        answer: dict[str, Any] = json.loads(await self._line())
        if command == "stop":
            await self.process.wait()
        return answer


# ----------------------------------------------------------------------- the run ----


async def _bench(url: str, admin: asyncpg.Connection, name: str, args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(url)
    engines: list[_EngineProcess] = []
    try:
        for statement in _SETUP:
            await conn.execute(statement)
        if args.background:
            # Open requests whose next alert is days away: the engine's index holds them all,
            # and none of them may cost the engine anything while the measured ones fall due.
            started = time.monotonic()
            later = datetime.now(UTC) + timedelta(days=2)
            await conn.execute(_FILL, later, 30 * 86400.0, args.background)
            print(f"{args.background:,} background open requests (due in 2 to 32 days) inserted in "
                  f"{time.monotonic() - started:.1f} s")  # fmt: skip
        engines = [await _EngineProcess.start(url) for _ in range(args.engines)]
        lead = 3 + args.requests / 5_000  # the insert must end before the first breach
        first_due = datetime.now(UTC) + timedelta(seconds=lead)
        started = time.monotonic()
        await conn.execute(_FILL, first_due, float(args.spread), args.requests)
        await conn.execute("ANALYZE service_requests")
        for engine in engines:
            await engine.ask("wake")  # the rows were written behind the API's back: no event
        ahead = (first_due - datetime.now(UTC)).total_seconds()
        took = time.monotonic() - started
        print(f"{args.engines} engine process(es) started, then {args.requests:,} requests inserted in "
              f"{took:.1f} s; the first breach falls due {ahead:.1f} s later")  # fmt: skip
        deadline = time.monotonic() + lead + args.spread + 300
        while time.monotonic() < deadline:
            done = await conn.fetchval("SELECT count(*) FROM request_events WHERE kind = 'SLA_BREACHED'")
            if done >= args.requests:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1)  # any duplicate would show up now
        (p50, p99), worst, _best, alerts, distinct, first_at, last_at = await conn.fetchrow(_LATENESS)
        print(f"alerts: {alerts:,} for {distinct:,} requests (expected {args.requests:,}, each exactly once)")
        window = (last_at - first_at).total_seconds() if alerts else 0.0
        print(f"emitted over {window:.1f} s: {alerts / max(window, 1e-9):,.0f} alerts/s")
        print(f"lateness stored    (occurred_at - due): p50 {_ms(p50)}  p99 {_ms(p99)}  max {_ms(worst)}")
        pending = await conn.fetchval("SELECT min(next_sla_check_at) FROM service_requests")
        await conn.close()  # the bench's own connection stays quiet during the idle count
        await _idle(admin, name, engines, pending)
        stats = [await engine.ask("stop") for engine in engines]
        engines = []
        committed = sorted(s for st in stats for s in st["lateness"])
        if len(committed) > 1:
            q = statistics.quantiles(committed, n=100, method="inclusive")
            print(f"lateness committed (commit - due):      p50 {_ms(q[49])}  p99 {_ms(q[98])}  "
                  f"max {_ms(committed[-1])}")  # fmt: skip
        for i, st in enumerate(stats):
            print(f"  engine {i}: {st['alerts']:,} alerts in {st['batches']} batches, "
                  f"{st['locked_retries']} locked retries, {st['failures']} failures")  # fmt: skip
    finally:
        for engine in engines:
            with contextlib.suppress(ProcessLookupError):
                engine.process.kill()
        if not conn.is_closed():
            await conn.close()


async def _transactions(admin: asyncpg.Connection, name: str) -> int:
    await admin.execute("SELECT pg_stat_clear_snapshot()")
    value = await admin.fetchval(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", name
    )
    return int(value)


async def _idle(admin: asyncpg.Connection, name: str, engines: list[_EngineProcess], pending: Any) -> None:
    # Backends report their counters when idle at most every 10 s (PGSTAT_IDLE_INTERVAL): settle first.
    await asyncio.sleep(12)
    reads = [(await engine.ask("stats"))["reads"] for engine in engines]
    before = await _transactions(admin, name)
    await asyncio.sleep(10)
    after = await _transactions(admin, name)
    await asyncio.sleep(11)  # counted transactions of the 10 s may still be unreported
    late = await _transactions(admin, name)
    now_reads = [(await engine.ask("stats"))["reads"] for engine in engines]
    schedule_reads = [n - r for n, r in zip(now_reads, reads, strict=True)]
    print(f"idle, next check at {pending:%H:%M} UTC: {after - before} transactions in 10 s "
          f"({late - before} counted 11 s later) = {(late - before) / 10:.1f}/s; "
          f"schedule reads by the engines: {schedule_reads}")  # fmt: skip


async def _with_database(base_url: str, args: argparse.Namespace) -> None:
    name = f"cg_sla_bench_{os.getpid()}"
    admin = await asyncpg.connect(base_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = base_url.rpartition("/")[0] + "/" + name
        await asyncio.to_thread(upgrade, sqlalchemy_url(url))
        await _bench(url, admin, name, args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--spread", type=float, default=30.0, help="seconds over which the breaches fall due")
    parser.add_argument("--engines", type=int, default=2, help="engine processes (server processes) at once")
    parser.add_argument(
        "--background", type=int, default=0, help="more open requests, due days later (a large open backlog)"
    )
    parser.add_argument("--serve-engine", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_engine:
        asyncio.run(_serve_engine(args.serve_engine))
        return
    configured = os.environ.get("DATABASE_URL")
    if configured:
        asyncio.run(_with_database(asyncpg_url(configured), args))
        return
    with (
        tempfile.TemporaryDirectory(prefix="casegraph-sla-bench-") as tmp,
        pgserver.private_postgres(Path(tmp) / "data", fast=True) as server,
    ):
        asyncio.run(_with_database(server.url, args))


if __name__ == "__main__":
    main()
