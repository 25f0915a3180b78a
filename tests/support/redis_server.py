"""A private redis-server the test starts, stops and starts again on the same port."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile

__all__ = ["RedisServer", "redis_server_available"]


def redis_server_available() -> bool:
    return shutil.which("redis-server") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """`redis-server` on a free loopback port, no persistence; `stop()` kills it, `start()` revives it."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self._dir = tempfile.mkdtemp(prefix="casegraph-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        binary = shutil.which("redis-server")
        assert binary is not None
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        return subprocess.Popen(
            [binary, *args, "--dir", self._dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    async def start(self, within: float = 10) -> RedisServer:
        assert self._proc is None
        self._proc = self._spawn()
        async with asyncio.timeout(within):
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return self
                except OSError:
                    await asyncio.sleep(0.02)

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()  # an outage, not a shutdown
            await asyncio.to_thread(proc.wait)

    async def close(self) -> None:
        await self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
