"""Shared helpers of the HTTP benchmarks: a seeded database, the real server, tokens.

    async with bench_database(requests=20_000) as url:      # private PostgreSQL unless DATABASE_URL
        token = await dev_token(url, subject=ADMIN_EMAIL, roles=["ADMIN"])
        async with running_server(url, workers=1) as server:  # uvicorn subprocess, /readyz answered
            ...  # server.base_url, server.pids()

Without DATABASE_URL a private PostgreSQL (server.pgserver, fsync off) is
started in a temporary directory and stopped at the end; with it, a database
of our own is created on that server and dropped at the end. Either way the
database is migrated to head (db.migrate.upgrade) and seeded with the demo
organisation plus N requests (demo.seed.seed_demo). The server runs as
`python -m uvicorn --factory server.app:create_app` in a subprocess, so the
benchmark measures the real process model (`--workers W`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from auth.devtoken import mint_dev_token
from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from demo.seed import seed_demo
from server import pgserver
from server.settings import Settings, asyncpg_url, sqlalchemy_url

__all__ = [
    "RunningServer",
    "bench_database",
    "dev_token",
    "percentile",
    "profiled",
    "py_spy",
    "running_server",
    "summarize_profile",
]


@contextlib.asynccontextmanager
async def _postgres() -> AsyncIterator[str]:
    """postgresql:// URL of a server where we may create a database (private unless DATABASE_URL)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield asyncpg_url(configured)
        return
    with tempfile.TemporaryDirectory(prefix="casegraph-bench-") as tmp:
        server = await asyncio.to_thread(pgserver.start, Path(tmp) / "data", fast=True)
        try:
            yield server.url
        finally:
            if server.owned:
                await asyncio.to_thread(server.stop)


@contextlib.asynccontextmanager
async def bench_database(*, requests: int, now: datetime | None = None) -> AsyncIterator[str]:
    """A fresh database, migrated and seeded with the demo organisation and `requests` requests."""
    async with _postgres() as base_url:
        name = f"cg_bench_{os.getpid()}"
        admin = await asyncpg.connect(base_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        url = base_url.rpartition("/")[0] + "/" + name
        try:
            await asyncio.to_thread(upgrade, sqlalchemy_url(url))
            engine = make_engine(sqlalchemy_url(url), pool_size=2)
            try:
                summary = await seed_demo(
                    engine, requests=requests, now=now or datetime.now(UTC), progress=None
                )
            finally:
                await engine.dispose()
            print(f"seeded: {summary}", file=sys.stderr, flush=True)
            yield url
        finally:
            admin = await asyncpg.connect(base_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


async def dev_token(
    url: str,
    *,
    subject: str,
    roles: Iterable[str] = (),
    customer_ref: str | None = None,
    ttl: int = 4 * 3600,
) -> str:
    """A token from the built-in issuer (auth.devtoken), as `casegraph token` would mint it."""
    settings = Settings(DATABASE_URL=url)
    engine = make_engine(sqlalchemy_url(url), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            token = await mint_dev_token(
                session,
                issuer=settings.oauth_issuer,
                audience=settings.oauth_audience,
                subject=subject,
                roles=roles,
                customer_ref=customer_ref,
                ttl=ttl,
            )
            await session.commit()  # the development signing key, created on first use
            return token
    finally:
        await engine.dispose()


@dataclass
class RunningServer:
    """The uvicorn subprocess: its URL and process."""

    base_url: str
    process: asyncio.subprocess.Process

    def pids(self) -> list[int]:
        """The serving processes: uvicorn itself, or its worker children with --workers > 1."""
        pid = self.process.pid
        with contextlib.suppress(OSError):
            children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            # Workers are multiprocessing spawn children; the resource tracker is not a worker.
            workers = [p for p in children if "spawn_main" in _cmdline(p)]
            if workers:
                return workers
        return [pid]


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


@contextlib.asynccontextmanager
async def running_server(
    url: str,
    *,
    workers: int = 1,
    background_workers: bool = False,
    pool_size: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> AsyncIterator[RunningServer]:
    """`uvicorn --factory server.app:create_app` on a free loopback port until the block ends.

    Background workers (SLA engine, auto-close) are off unless asked for: they would add
    load unrelated to what a read benchmark measures. `extra_env` is added to the server's
    environment last (e.g. a setting under comparison); with `log`, the server's output goes
    to that file instead of the benchmark's own. Limits (LIMITS.md) are on, with a budget no
    benchmark exhausts, so their cost is measured without throttling (CASEGRAPH_LIMITS=false in
    `extra_env` turns them off for comparisons).
    """
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CASEGRAPH_WORKERS": "true" if background_workers else "false",
        "CASEGRAPH_ENV": "development",
        "RATE_LIMIT_POINTS": str(10**12),
    }
    if pool_size is not None:
        env["CASEGRAPH_DB_POOL_SIZE"] = str(pool_size)
    env.pop("BROADCAST_URL", None)
    env.update(extra_env or {})
    port = pgserver._free_port()
    output = log.open("ab") if log else None  # the child keeps its own copy of the descriptor
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log", "--backlog", "4096",
        env=env,
        stdout=output,
        stderr=output,
        start_new_session=True,  # its own process group: stopping it stops its workers
    )  # fmt: skip
    if output:
        output.close()
    server = RunningServer(base_url=f"http://127.0.0.1:{port}", process=process)
    try:
        await _ready(server, expected=workers)
        yield server
    finally:
        await _stop(process)


async def _ready(server: RunningServer, *, expected: int) -> None:
    """Wait for /readyz; with several workers, for every one of them to have started."""
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as http:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                raise RuntimeError(f"server exited with {server.process.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/readyz")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("server did not become ready within 90 s")
        # Each worker runs its lifespan on its own; give them all a few ready answers.
        for _ in range(4 * expected):
            with contextlib.suppress(httpx.TransportError):
                await http.get("/readyz")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of already sorted values, nearest rank; NaN when empty."""
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


PROFILER_FOLDER = Path(__file__).resolve().parent / ".peer" / "py-spy"  # git-ignored, like Node
PY_SPY_VERSION = "0.4.3"


def py_spy() -> Path:
    """The py-spy sampling profiler (a bench tool, not part of the product), installed once."""
    binary = PROFILER_FOLDER / "bin" / "py-spy"
    if not binary.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(PROFILER_FOLDER),
             f"py-spy=={PY_SPY_VERSION}"],
            check=True,
        )  # fmt: skip
    return binary


@contextlib.asynccontextmanager
async def profiled(pids: Iterable[int], output: Path | None, *, top: int = 25) -> AsyncIterator[None]:
    """Sample `pids` with py-spy while the block runs (nothing when `output` is None); then write
    the collapsed stacks to `output` (flamegraph.pl / speedscope read them) and print the
    functions where the samples were, by own time and by time including callees."""
    if output is None:
        yield
        return
    binary = py_spy()
    procs = []
    for pid in pids:
        path = output.with_suffix(f".{pid}.txt")
        procs.append(
            (path, await asyncio.create_subprocess_exec(
                # --gil: only samples where Python holds the GIL (its CPU, not waits or syscalls).
                str(binary), "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
                "--nonblocking", "--gil", "--output", str(path),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            ))
        )  # fmt: skip
    try:
        yield
    finally:
        for _, proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
        for path, proc in procs:
            await proc.wait()
            if path.exists():
                print(summarize_profile(path, top=top))


def _frame(frame: str) -> str:
    """`function (path/to/file.py:123)` -> `function (file.py)`: one entry per function."""
    name, _, where = frame.partition(" (")
    if not where:
        return frame
    return f"{name} ({where.rsplit('/', 1)[-1].split(':')[0].rstrip(')')})"


def summarize_profile(path: Path, *, top: int = 25) -> str:
    """The top frames of a py-spy raw (collapsed) profile, by own samples and by inclusive samples."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
    lines = [f"profile {path} ({total} samples)", "  own time:"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {100 * n / max(total, 1):5.1f} %  {frame}")
    lines.append("  including callees (below the frames every sample shares):")
    base = max(inclusive.values(), default=0)
    for frame, n in sorted(((f, n) for f, n in inclusive.items() if n < base), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {100 * n / max(total, 1):5.1f} %  {frame}")
    return "\n".join(lines)
