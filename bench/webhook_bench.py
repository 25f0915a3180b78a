"""Partner webhooks under load (issue 16): delivered/s and commit→2xx latency of healthy endpoints,
with one endpoint hanging until the timeout and one answering 500.

    .venv/bin/python -m bench.webhook_bench [--events 10000] [--rate 30] [--endpoints 20] [--compare]

A private PostgreSQL (unless DATABASE_URL) is seeded with the demo organisation
and `--requests` requests. `--endpoints` ADMIN endpoints subscribe to every
event kind: all but two answer 200, one hangs (until the sender's 10 s timeout),
one answers 500. A receiver *process* (this module with `--receiver`) answers
them and notes when each webhook-id first arrived. In this process, a writer
commits `--events` events spread over the requests at `--rate` events/s (each
event's deliveries are written by its own transaction), and one WebhookSender
(the server's worker, default limits) delivers them. Printed: deliveries to
healthy endpoints per second (first commit → last healthy 2xx) and the p50/p99
of commit→2xx for healthy deliveries. `--compare` runs again without the two
broken endpoints, to show they change nothing for the healthy ones.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator

import asyncpg

from bench.common import bench_database, percentile
from db.engine import make_engine, make_sessionmaker
from server.webhook_sender import WebhookSender
from services.webhooks.config import WebhookConfig

KINDS = ["STATUS_CHANGED", "COMMENTED", "TRIAGED", "ASSIGNED"]
INSERT_EVENTS = """
    INSERT INTO request_events (request_id, customer_id, team_id, kind, actor_subject, actor_name)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])
    RETURNING id
"""
DELIVERED = "SELECT count(*) FROM webhook_deliveries WHERE status = 'DELIVERED' AND endpoint_id = ANY($1)"


# ------------------------------------------------------------------ the receiver process ----


def receiver_app() -> object:
    arrived: dict[str, float] = {}

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] != "http":
            return
        path = str(scope["path"])
        if path == "/stats":
            body = json.dumps(arrived).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
            await send({"type": "http.response.body", "body": body})  # type: ignore[operator]
            return
        more = True
        while more:
            message = await receive()  # type: ignore[operator]
            more = bool(message.get("more_body"))
        headers = dict(scope["headers"])  # type: ignore[call-overload]
        webhook_id = headers.get(b"webhook-id", b"").decode()
        status = 200
        if path.startswith("/hang"):
            await asyncio.sleep(3600)
        elif path.startswith("/fail"):
            status = 500
        else:
            arrived.setdefault(webhook_id, time.time())
        await send({"type": "http.response.start", "status": status, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    return app


def run_receiver(port: int) -> None:
    import uvicorn

    uvicorn.run(receiver_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def receiver_process() -> AsyncIterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.webhook_bench", "--receiver", str(port), start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        async with httpx.AsyncClient() as http:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    await http.get(url + "/stats")
                    break
                await asyncio.sleep(0.05)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


# ------------------------------------------------------------------------- the run ----


async def _run(url: str, receiver: str, args: argparse.Namespace, *, broken: bool) -> dict[str, float]:
    raw = await asyncpg.connect(url)
    try:
        await raw.execute("TRUNCATE webhook_deliveries, webhook_endpoints")
        paths = [f"/ok/{n}" for n in range(args.endpoints - 2)] + (["/hang", "/fail"] if broken else [])
        for path in paths:
            await raw.execute(
                "INSERT INTO webhook_endpoints (url, event_kinds, created_at, created_txid, secret) "
                "VALUES ($1, $2, now(), 0, $3)",
                receiver + path,
                KINDS,
                "plain:whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            )
        healthy_ids = {
            r["id"] for r in await raw.fetch("SELECT id FROM webhook_endpoints WHERE url LIKE '%/ok/%'")
        }
        requests = await raw.fetch("SELECT id, customer_id, team_id FROM service_requests ORDER BY id")
        engine = make_engine(url.replace("postgresql://", "postgresql+asyncpg://"), pool_size=20)
        committed: dict[int, float] = {}
        sender = WebhookSender(
            make_sessionmaker(engine),
            config=WebhookConfig(allow_private=True),
            concurrency=args.concurrency,
            per_endpoint=args.per_endpoint,
        )
        async with sender:
            batch = max(1, args.rate // 10)
            started = time.monotonic()
            cpu_started = time.process_time()
            written = 0
            rng = random.Random(7)
            while written < args.events:
                n = min(batch, args.events - written)
                picks = [requests[rng.randrange(len(requests))] for _ in range(n)]
                async with raw.transaction():
                    rows = await raw.fetch(
                        INSERT_EVENTS,
                        [p["id"] for p in picks],
                        [p["customer_id"] for p in picks],
                        [p["team_id"] for p in picks],
                        [rng.choice(KINDS) for _ in picks],
                        ["bench"] * n,
                        ["bench"] * n,
                    )
                now = time.time()
                for row in rows:
                    committed[row["id"]] = now
                written += n
                sender.wake()
                await asyncio.sleep(max(0.0, started + written / args.rate - time.monotonic()))
            expected = len(committed) * len(healthy_ids)
            print(f"committed {len(committed)} events in {time.monotonic() - started:.1f} s", file=sys.stderr)
            deadline = time.monotonic() + args.drain
            while time.monotonic() < deadline:
                done = await raw.fetchval(
                    DELIVERED,
                    list(healthy_ids),
                )
                if done >= expected:
                    break
                print(f"  {done}/{expected} healthy deliveries done", file=sys.stderr, flush=True)
                await asyncio.sleep(0.25)
            cpu = time.process_time() - cpu_started
            attempts = await raw.fetchval("SELECT coalesce(sum(attempts), 0) FROM webhook_deliveries")
        await engine.dispose()
        import httpx

        async with httpx.AsyncClient() as http:
            arrived: dict[str, float] = (await http.get(receiver + "/stats", timeout=30)).json()
    finally:
        await raw.close()
    latencies = []
    for webhook_id, at in arrived.items():
        _, endpoint, event = webhook_id.split("_")
        if int(endpoint) in healthy_ids and int(event) in committed:
            latencies.append(at - committed[int(event)])
    latencies.sort()
    first = min(committed.values())
    last = max(arrived.values()) if arrived else first
    return {
        "healthy_deliveries": len(latencies),
        "expected": float(expected),
        "delivered_per_s": len(latencies) / max(last - first, 1e-9),
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "cpu_s": cpu,
        "attempts": float(attempts),
    }


async def _bench(args: argparse.Namespace) -> None:
    async with bench_database(requests=args.requests) as url, receiver_process() as receiver:
        runs = [True, False] if args.compare else [not args.healthy_only]
        for broken in runs:
            result = await _run(url, receiver, args, broken=broken)
            label = "with a hanging and a 500 endpoint" if broken else "healthy endpoints only"
            per_attempt = result["cpu_s"] / max(result["attempts"], 1) * 1000
            print(
                f"{label}: {int(result['healthy_deliveries'])}/{int(result['expected'])} healthy deliveries, "
                f"{result['delivered_per_s']:.0f} delivered/s, commit→2xx p50 {result['p50_ms']:.0f} ms, "
                f"p99 {result['p99_ms']:.0f} ms; this process's CPU {result['cpu_s']:.1f} s for "
                f"{int(result['attempts'])} attempts ({per_attempt:.2f} ms each)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument(
        "--rate",
        type=int,
        default=30,
        help="events committed per second (x 18 healthy endpoints: 540 deliveries/s)",
    )
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--drain", type=float, default=120, help="seconds to wait for the last deliveries")
    parser.add_argument("--compare", action="store_true", help="run again without the broken endpoints")
    parser.add_argument("--healthy-only", action="store_true", help="no hanging or failing endpoint")
    parser.add_argument("--concurrency", type=int, default=64, help="WEBHOOK_CONCURRENCY")
    parser.add_argument("--per-endpoint", type=int, default=4, help="WEBHOOK_PER_ENDPOINT")
    parser.add_argument(
        "--loop", choices=["uvloop", "asyncio"], default="uvloop", help="the sending process's event loop"
    )
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        run_receiver(args.receiver)
        return
    if args.loop == "uvloop":  # what `casegraph serve` runs the sender on (uvicorn's loop="auto")
        import uvloop

        uvloop.run(_bench(args))
    else:
        asyncio.run(_bench(args))


if __name__ == "__main__":
    main()
