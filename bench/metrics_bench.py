"""Benchmark of `reporting.metrics.service_metrics` over a large generated data set.

    .venv/bin/python bench/metrics_bench.py [--requests 1000000] [--runs 20] [--fill seed|sql]

Starts a private PostgreSQL in a temporary directory (or uses DATABASE_URL,
where it creates and drops a database of its own), migrates it to head and
fills it with N requests: by default with the demo generator
(demo.seed.seed_demo: the demo organisation, requests over the last 60 days
with their comments, approvals and events), or with `--fill sql` with one
INSERT ... SELECT generate_series per table spread over `--days` days. It
vacuums as autovacuum would, then runs the metrics statement 20 times per
filter (after two warm-up runs) and prints the median (p50) and p99 in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import asyncpg
from sqlalchemy import text

from db.engine import make_engine
from db.migrate import upgrade
from demo.seed import seed_demo
from reporting.metrics import service_metrics
from server import pgserver
from server.settings import asyncpg_url, sqlalchemy_url

TEAMS = 5
STAFF = 20
CUSTOMERS = 5_000

# One statement per table: every row is generated inside PostgreSQL (generate_series), in time order
# as a live system would have written it.
_FILL = [
    "INSERT INTO teams (name) SELECT 'Team ' || t FROM generate_series(1, {teams}) AS t",
    """INSERT INTO staff (email, name, role, approval_level)
       SELECT 'agent' || s || '@example.com', 'Agent ' || s, 'AGENT', 'CONTROLLER'
       FROM generate_series(1, {staff}) AS s""",
    """INSERT INTO customers (external_ref, name, segment, country, kyc_status, risk_rating)
       SELECT 'C' || c, 'Customer ' || c, 'SMB', 'DE', 'VERIFIED', 'LOW'
       FROM generate_series(1, {customers}) AS c""",
    """INSERT INTO invoices (number, customer_id, issued_on, due_on, amount, currency, outstanding)
       SELECT 'INV-' || c, c, DATE '2025-01-01', DATE '2025-01-31', 100000,
              (ARRAY['USD','EUR','GBP'])[1 + c % 3],
              100000
       FROM generate_series(1, {customers}) AS c""",
    """INSERT INTO service_requests (
           number, customer_id, type, channel, subject, description, priority, status, team_id,
           created_by_subject,
           sla_policy_id, first_response_due_at, resolution_due_at, first_responded_at, paused_at,
           first_response_breached_at, resolution_breached_at, resolution_code, resolved_at, closed_at,
           cancelled_at, reopened_count, financial_impact_amount, financial_impact_currency, invoice_id,
           created_at, updated_at)
       -- number given here: the column default pads to 6 digits (lpad truncates past 999,999).
       SELECT 'SR-' || lpad(CAST(i AS text), 7, '0'), customer_id, type, channel, 'Request ' || i,
              repeat('The invoice total looks wrong. ', 8),
              priority, status, 1 + i % {teams}, 'agent1@example.com', 1,
              fr_due, res_due,
              CASE WHEN status <> 'NEW' THEN responded END,
              CASE WHEN status = 'WAITING_ON_CUSTOMER' THEN responded END,
              CASE WHEN status <> 'NEW' AND responded > fr_due THEN fr_due END,
              CASE WHEN resolved > res_due AND status IN ('RESOLVED', 'CLOSED') THEN res_due END,
              CASE WHEN status IN ('RESOLVED', 'CLOSED') THEN 'NO_ADJUSTMENT_NEEDED' END,
              CASE WHEN status IN ('RESOLVED', 'CLOSED') THEN resolved END,
              CASE WHEN status = 'CLOSED' THEN resolved + interval '7 days' END,
              CASE WHEN status = 'CANCELLED' THEN responded END,
              CASE WHEN u3 < 0.05 THEN 1 ELSE 0 END,
              CASE WHEN type = 'BILLING_DISPUTE' THEN round(CAST(10 + u3 * 5000 AS numeric), 2) END,
              CASE WHEN type = 'BILLING_DISPUTE' THEN (ARRAY['USD','EUR','GBP'])[1 + customer_id % 3] END,
              CASE WHEN type = 'BILLING_DISPUTE' THEN customer_id END,
              created_at, created_at
       FROM (
           SELECT i, created_at, customer_id, u3,
                  (ARRAY['BILLING_DISPUTE','INVOICE_CORRECTION','PAYMENT_INQUIRY','PAYMENT_POSTING',
                         'CREDIT_LIMIT_CHANGE','ACCOUNT_UPDATE','CONTRACT_SERVICE','LETTER_OF_CREDIT',
                         'DEBT_RESTRUCTURING','GENERAL_INQUIRY'])[1 + i % 10] AS type,
                  (ARRAY['PORTAL','EMAIL','PHONE','SUPPORT_DESK','CRM','PARTNER_API'])[1 + i % 6] AS channel,
                  (ARRAY['LOW','MEDIUM','HIGH','URGENT'])[1 + (i / 7) % 4] AS priority,
                  CASE
                      WHEN u1 < CASE WHEN age < interval '2 days' THEN 0.8
                                     WHEN age < interval '14 days' THEN 0.3 ELSE 0.01 END
                      THEN (ARRAY['NEW','TRIAGED','IN_PROGRESS','WAITING_ON_CUSTOMER','PENDING_APPROVAL'])
                           [1 + floor(u2 * 5)::int]
                      WHEN u2 < 0.08 THEN 'CANCELLED'
                      WHEN age < interval '7 days' THEN 'RESOLVED'
                      ELSE 'CLOSED'
                  END AS status,
                  created_at + interval '4 hours' AS fr_due,
                  created_at + interval '2 days' AS res_due,
                  created_at + u2 * interval '6 hours' AS responded,
                  least(CAST(:now AS timestamptz), created_at + interval '1 hour' + u3 * interval '4 days')
                      AS resolved
           FROM (
               SELECT i, c AS created_at, CAST(:now AS timestamptz) - c AS age,
                      1 + (hashint4(i) & 2147483647) % {customers} AS customer_id,
                      random() AS u1, random() AS u2, random() AS u3
               FROM (
                   SELECT i, CAST(:now AS timestamptz) - (CAST(:days AS int) * interval '1 day')
                          * (1 - CAST(i AS float8) / CAST(:n AS int)) AS c
                   FROM generate_series(1, CAST(:n AS int)) AS i
               ) AS t
           ) AS g
       ) AS s
       ORDER BY i""",
    """INSERT INTO approvals (request_id, kind, amount, currency, amount_usd, required_level,
                             required_approvals,
                             status, justification, requested_by_id, requested_at, decided_at)
       SELECT id, 'INVOICE_ADJUSTMENT', 2000, 'USD', 2000, 'SUPERVISOR', 1,
              CASE WHEN id % 7 = 0 THEN 'REJECTED' ELSE 'APPROVED' END, 'bench', 1 + id % {staff},
              created_at + interval '1 hour',
              created_at + interval '1 hour' + (id % 97) * interval '20 minutes'
       FROM service_requests WHERE id % 20 = 0""",
    """INSERT INTO adjustments (kind, invoice_id, request_id, amount, currency, posted_at, posted_by_id)
       SELECT (ARRAY['CREDIT_MEMO','DEBIT_MEMO','WRITE_OFF'])[1 + id % 3], customer_id, id, 10 + id % 500,
              (ARRAY['USD','EUR','GBP'])[1 + customer_id % 3], created_at + interval '3 hours',
              1 + id % {staff}
       FROM service_requests WHERE id % 20 = 10""",
]


async def _fill(url: str, *, requests: int, days: int, now: datetime) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in _FILL:
            sql = statement.format(teams=TEAMS, staff=STAFF, customers=CUSTOMERS)
            sql = sql.replace(":now", "$1").replace(":days", "$2").replace(":n", "$3")
            args = [a for a, used in ((now, "$1"), (days, "$2"), (requests, "$3")) if used in sql]
            await conn.execute(sql, *args)
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


def _ms(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[98]


def _backend_cpu_ms(pid: int) -> float | None:
    """CPU time (user + system) of a local PostgreSQL backend; None when it is not on this machine."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def _time(label: str, runs: int, call: Callable[[], Awaitable[object]], backend: int) -> None:
    for _ in range(2):
        await call()  # warm the cache and the connection's prepared statements
    samples = []
    cpu_before = _backend_cpu_ms(backend)
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    cpu_after = _backend_cpu_ms(backend)
    p50, p99 = _ms(samples)
    # On a busy machine wall time includes waiting for a core; the backend's CPU time does not.
    cpu = (
        "" if cpu_before is None or cpu_after is None else f"   cpu {(cpu_after - cpu_before) / runs:6.1f} ms"
    )
    print(f"{label:<44} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms{cpu}")


async def _fill_with_seed(url: str, *, requests: int, now: datetime) -> None:
    engine = make_engine(sqlalchemy_url(url), pool_size=2)
    try:
        await seed_demo(engine, requests=requests, now=now, progress=None)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


async def _pick(url: str) -> dict[str, object]:
    """Filter values from the data: the busiest team and customer (the worst cases)."""
    conn = await asyncpg.connect(url)
    try:
        team = await conn.fetchval(
            "SELECT team_id FROM service_requests WHERE team_id IS NOT NULL"
            " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        customer = await conn.fetchval(
            "SELECT customer_id FROM service_requests GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
    finally:
        await conn.close()
    return {"team": team, "customer": customer}


async def _bench(url: str, *, requests: int, days: int, runs: int, fill: str) -> None:
    now = datetime.now(UTC)
    began = time.perf_counter()
    await asyncio.to_thread(upgrade, sqlalchemy_url(url))
    if fill == "seed":
        await _fill_with_seed(url, requests=requests, now=now)
        days = 60
    else:
        await _fill(url, requests=requests, days=days, now=now)
    print(f"filled {requests:,} requests ({fill}) over {days} days in {time.perf_counter() - began:.0f} s")
    picked = await _pick(url)
    # The machine may be shared: the load says how much of the two cores these figures had.
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    engine = make_engine(sqlalchemy_url(url), pool_size=1)
    month = (now - timedelta(days=30), now)
    cases: list[tuple[str, dict[str, object]]] = [
        ("no filter, last 30 days", {}),
        ("team, last 30 days", {"team_id": picked["team"]}),
        ("customer, last 30 days", {"customer_id": picked["customer"]}),
        ("types [BILLING_DISPUTE, INVOICE_CORRECTION]", {"types": ["BILLING_DISPUTE", "INVOICE_CORRECTION"]}),
        ("7-day window, 20 days ago", {"window": (now - timedelta(days=20), now - timedelta(days=13))}),
        ("team + types, last 30 days", {"team_id": picked["team"], "types": ["PAYMENT_INQUIRY"]}),
        (f"no filter, all {days} days", {"window": (now - timedelta(days=days + 1), now)}),
    ]
    try:
        async with engine.connect() as conn:
            backend = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            for label, case in cases:
                start, end = cast(tuple[datetime, datetime], case.get("window", month))

                async def call(
                    case: dict[str, object] = case, start: datetime = start, end: datetime = end
                ) -> None:
                    await service_metrics(
                        conn,
                        start=start,
                        end=end,
                        now=now,
                        team_id=case.get("team_id"),  # type: ignore[arg-type]
                        customer_id=case.get("customer_id"),  # type: ignore[arg-type]
                        types=case.get("types"),  # type: ignore[arg-type]
                        customer_ids=case.get("customer_ids"),  # type: ignore[arg-type]
                    )
                    await conn.rollback()

                await _time(label, runs, call, backend)
    finally:
        await engine.dispose()


async def _with_database(base_url: str, args: argparse.Namespace) -> None:
    name = f"cg_metrics_bench_{os.getpid()}"
    admin = await asyncpg.connect(base_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = base_url.rpartition("/")[0] + "/" + name
        await _bench(url, requests=args.requests, days=args.days, runs=args.runs, fill=args.fill)
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
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument(
        "--fill",
        choices=["seed", "sql"],
        default="seed",
        help="seed: demo.seed.seed_demo (the demo generator, 60 days); sql: generate_series",
    )
    parser.add_argument("--days", type=int, default=365, help="with --fill sql: spread over the last N days")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    configured = os.environ.get("DATABASE_URL")
    if configured:
        asyncio.run(_with_database(asyncpg_url(configured), args))
        return
    with (
        tempfile.TemporaryDirectory(prefix="casegraph-bench-") as tmp,
        pgserver.private_postgres(Path(tmp) / "data", fast=True) as server,
    ):
        asyncio.run(_with_database(server.url, args))


if __name__ == "__main__":
    main()
