"""What the limits (LIMITS.md) cost the server: CPU per request with them on and off, in process.

    .venv/bin/python -m bench.limits_bench [--requests 2000] [--rounds 16]

Seeds the demo organisation plus N requests (bench.common: private PostgreSQL unless
DATABASE_URL is set) and runs two apps in this process on that database, one with
limits on (a budget no run exhausts, so acquisitions happen as in production but
never refuse) and one with CASEGRAPH_LIMITS=false. For the nested
`serviceRequests(first: 50)` page and `{ viewer { subject } }` it sends requests one
at a time, in rounds that alternate small blocks of requests between the two apps,
and prints, with limits on and off and the difference: the server's CPU per request
(time.process_time around the app call; the median request and the mean of the
fastest 95 %), client and server CPU together (the median of the rounds), and the
Python opcodes executed while the app serves one request, a figure the machine's load
does not change (the process's own background tasks running meanwhile count too).
Then it sends the 30-alias document of issue 14 as new texts and as a text seen
before and prints the server's CPU per refusal, timed around the app alone.
Sequential in-process timing is far steadier than throughput on a busy machine;
`bench.read_bench --limits compare` measures the same over real sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.common import bench_database, dev_token
from bench.read_bench import NESTED, VIEWER, incident_document
from demo.data import ADMIN_EMAIL
from server.app import create_app
from server.settings import Settings

TRIM_PERCENT = 5


def _fastest_mean(samples: list[float], trim_percent: int) -> float:
    """The mean of the samples without the slowest `trim_percent` %."""
    kept = sorted(samples)[: max(1, len(samples) * (100 - trim_percent) // 100)]
    return statistics.fmean(kept)


def _counting(app: ASGIApp, counted: list[int]) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The app, counting the Python opcodes it executes per request (sys.settrace: slow, but the
    same figure however busy the machine is)."""

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        executed = 0

        def opcode(frame: FrameType, event: str, arg: object) -> Any:
            nonlocal executed
            executed += event == "opcode"
            return opcode

        def call(frame: FrameType, event: str, arg: object) -> Any:
            frame.f_trace_opcodes = True
            return opcode

        sys.settrace(call)
        try:
            await app(scope, receive, send)
        finally:
            sys.settrace(None)
        counted.append(executed)

    return counting


def _timed(app: ASGIApp, spent: list[float]) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        began = time.process_time()
        await app(scope, receive, send)
        spent.append(time.process_time() - began)

    return timed


async def _bench(args: argparse.Namespace) -> None:
    async with bench_database(requests=args.requests) as url:
        token = await dev_token(url, subject=ADMIN_EMAIL, roles=["ADMIN"])
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/graphql-response+json"}
        apps = {
            on: create_app(
                Settings(
                    DATABASE_URL=url,
                    CASEGRAPH_ENV="test",
                    CASEGRAPH_WORKERS=False,
                    CASEGRAPH_LIMITS=on,
                    RATE_LIMIT_POINTS=10**12,
                )
            )
            for on in (True, False)
        }
        async with contextlib.AsyncExitStack() as stack:
            for app in apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))

            # The server's CPU alone: timed around each app call (the in-process client, httpx, costs
            # more than the server does for a small query, and would only dilute the difference).
            served: dict[bool, list[float]] = {True: [], False: []}
            timed_clients = {}
            for on, app in apps.items():
                transport = httpx.ASGITransport(app=_timed(app, served[on]))
                timed_clients[on] = await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60)
                )

            counted: dict[bool, list[int]] = {True: [], False: []}
            counting_clients = {}
            for on, app in apps.items():
                transport = httpx.ASGITransport(app=_counting(app, counted[on]))
                counting_clients[on] = await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60)
                )

            async def send(on: bool, query: str, *, counting: bool = False) -> None:
                client = (counting_clients if counting else timed_clients)[on]
                response = await client.post("/graphql", json={"query": query}, headers=headers)
                if response.status_code != 200 or "errors" in response.json():
                    raise RuntimeError(f"{response.status_code} {response.text[:300]}")

            print(
                f"CPU per request, limits on and off in {args.rounds} rounds, each alternating small "
                "blocks of requests between the two apps:\n"
                "  server: timed around each app call; the median request and the mean of the fastest "
                f"{100 - TRIM_PERCENT} % (the slowest were preempted or collected garbage, in either mode)\n"
                "  all: client (httpx) and server, the median of the rounds\n"
                "  Python opcodes: executed while the app serves one request (the median of 21): the "
                "machine's load does not change it, the process's own background tasks may"
            )
            for label, query, per_round, block in (
                ("nested page of 50", NESTED, 40, 2),
                ("viewer", VIEWER, 400, 10),
            ):
                for on in (True, False):
                    served[on].clear()
                    for _ in range(3):
                        await send(on, query)  # caches, token, budget lease
                    served[on].clear()
                rounds: dict[bool, list[float]] = {True: [], False: []}
                for _ in range(args.rounds):
                    spent_in_round = {True: 0.0, False: 0.0}
                    for i in range(per_round // block):
                        for on in (True, False) if i % 2 == 0 else (False, True):
                            began = time.process_time()
                            for _ in range(block):
                                await send(on, query)
                            spent_in_round[on] += time.process_time() - began
                    for on in (True, False):
                        rounds[on].append(spent_in_round[on] * 1000 / per_round)
                figures = {
                    "server median": {on: statistics.median(served[on]) * 1000 for on in (True, False)},
                    f"server mean{100 - TRIM_PERCENT}": {
                        on: _fastest_mean(served[on], TRIM_PERCENT) * 1000 for on in (True, False)
                    },
                    "all": {on: statistics.median(rounds[on]) for on in (True, False)},
                }
                for what, measured in figures.items():
                    with_limits, without = measured[True], measured[False]
                    added = with_limits - without
                    print(
                        f"  {label:<18} {what:<14} limits on {with_limits:7.4f} ms   off {without:7.4f} ms   "
                        f"overhead {added:+7.4f} ms ({100 * added / without:+5.1f} %)"
                    )
                for _ in range(21):
                    for on in (True, False):
                        await send(on, query, counting=True)
                opcodes = {on: statistics.median(counted[on]) for on in (True, False)}
                added = opcodes[True] - opcodes[False]
                share = 100 * added / opcodes[False]
                print(
                    f"  {label:<18} {'Python opcodes':<14} limits on {opcodes[True]:7.0f}      "
                    f"off {opcodes[False]:7.0f}      overhead {added:+7.0f}    ({share:+5.1f} %)"
                )

            spent: list[float] = []
            timed = httpx.ASGITransport(app=_timed(apps[True], spent))
            async with httpx.AsyncClient(transport=timed, base_url="http://127.0.0.1", timeout=60) as client:

                async def refuse(query: str) -> None:
                    response = await client.post("/graphql", json={"query": query}, headers=headers)
                    if response.json()["errors"][0]["extensions"]["code"] != "QUERY_TOO_COMPLEX":
                        raise RuntimeError(f"not refused: {response.text[:300]}")

                for variant in range(args.texts):
                    await refuse(incident_document(variant))
                new = sorted(spent)
                spent.clear()
                for _ in range(args.texts):
                    await refuse(incident_document(0))
                again = sorted(spent)
            print(
                "30-alias document (cost 60,906,030; refused before any SQL), server CPU per refusal:\n"
                f"  as a new text    median {statistics.median(new) * 1000:6.2f} ms   "
                f"max {new[-1] * 1000:6.2f} ms   ({args.texts} texts)\n"
                f"  seen before      median {statistics.median(again) * 1000:6.3f} ms   "
                f"max {again[-1] * 1000:6.3f} ms"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2_000, help="demo requests to seed")
    parser.add_argument("--rounds", type=int, default=16, help="alternating rounds per query")
    parser.add_argument("--texts", type=int, default=20, help="30-alias documents sent")
    asyncio.run(_bench(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
