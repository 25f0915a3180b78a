"""The deployed topology without containers: two replicas behind deploy/Caddyfile on loopback.

What deploy/compose.yaml runs, minus the containers: `casegraph serve` twice (no
workers), Caddy with the same Caddyfile in front, HTTP and WebSocket through it,
a replica stopped without the clients noticing. Skipped where Caddy is not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Tokens
from tests.realtime_api.conftest import ADD_COMMENT, Org
from tests.realtime_api.support import WsClient, free_port, graphql
from tests.support.builders import gid

CADDY = shutil.which("caddy")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(CADDY is None, reason="caddy is not installed (apt-get install caddy)")

SUBSCRIBE = """
subscription($filter: RequestEventFilter) { requestEvents(filter: $filter) { kind comment { body } } }
"""


async def _until_healthy(url: str, proc: asyncio.subprocess.Process, path: str = "/readyz") -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(400):
            assert proc.returncode is None, f"{url}: exited with {proc.returncode}"
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise TimeoutError(url)


@contextlib.asynccontextmanager
async def _process(*args: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)


async def test_two_replicas_behind_the_proxy(db_url: str, org: Org, tokens: Tokens, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": db_url, "CASEGRAPH_ENV": "test", "CASEGRAPH_WORKERS": "false"}
    env.pop("BROADCAST_URL", None)
    ports = [free_port(), free_port()]
    proxy_port, admin_port = free_port(), free_port()
    caddy_env = {
        **os.environ,
        "SITE_ADDRESS": f"http://127.0.0.1:{proxy_port}",
        "CASEGRAPH_UPSTREAMS": " ".join(f"127.0.0.1:{p}" for p in ports),
        "CADDY_ADMIN": f"127.0.0.1:{admin_port}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    serve = [sys.executable, "-m", "server.cli", "serve", "--no-migrate", "--port"]
    async with (
        _process(*serve, str(ports[0]), env=env) as first,
        _process(*serve, str(ports[1]), env=env) as second,
        _process(
            CADDY,
            "run",
            "--config",
            str(ROOT / "deploy" / "Caddyfile"),
            "--adapter",
            "caddyfile",  # type: ignore[arg-type]
            env=caddy_env,
        ) as caddy,
    ):
        await _until_healthy(f"http://127.0.0.1:{ports[0]}", first)
        await _until_healthy(f"http://127.0.0.1:{ports[1]}", second)
        proxy = f"http://127.0.0.1:{proxy_port}"
        await _until_healthy(proxy, caddy)
        admin = tokens.staff("admin@example.com")

        async with httpx.AsyncClient(base_url=proxy) as http:
            response = await http.post(
                "/graphql",
                json={"query": "{ viewer { subject } }"},
                headers={"Authorization": f"Bearer {admin}", "X-Request-ID": "through-the-proxy"},
            )
            assert response.status_code == 200 and response.headers["x-request-id"] == "through-the-proxy"
            assert (await http.get("/metrics")).status_code == 404  # scraped per replica, not public

        # A subscription through the proxy sees a comment written through it (whichever replica
        # each lands on: they share the event stream).
        ws = await WsClient.open(proxy, admin)
        op = await ws.subscribe(SUBSCRIBE, {"filter": {"serviceRequestId": gid(org.acme_request)}})
        await asyncio.sleep(0.5)
        await graphql(
            proxy,
            admin,
            ADD_COMMENT,
            {
                "input": {
                    "serviceRequestId": gid(org.acme_request),
                    "body": "via caddy",
                    "visibility": "PUBLIC",
                }
            },
        )
        event = (await ws.next(op))["requestEvents"]
        assert event["comment"]["body"] == "via caddy"
        await ws.close()

        # One replica stops: within the health interval the proxy answers from the other only.
        # (A POST already on a pooled connection to the stopping replica may get a 502 before that:
        # drain a replica at the proxy before stopping it, see deploy/README.md.)
        first.terminate()
        await asyncio.wait_for(first.wait(), 30)
        viewer = {
            "json": {"query": "{ viewer { subject } }"},
            "headers": {"Authorization": f"Bearer {admin}"},
        }
        async with httpx.AsyncClient(base_url=proxy) as http:
            await asyncio.sleep(2.5)  # one health interval
            statuses = [(await http.post("/graphql", **viewer)).status_code for _ in range(10)]  # type: ignore[arg-type]
        assert statuses == [200] * 10
        assert second.returncode is None
