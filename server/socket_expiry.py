"""Sockets closed at their token's expiry, by one timer for the whole process.

A WebSocket lives as long as its access token: at `exp` the view closes it with
4403. Ten thousand idle sockets each holding a timer handle and two closures
cost about 0.8 KiB apiece; here each holds one small entry in a heap and the
process holds one timer, set for the earliest expiry, so every socket is still
closed at its own instant.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Expiry", "SocketExpiries"]


class Expiry:
    """One socket's place in the heap; `cancel()` when the socket ends first."""

    __slots__ = ("at", "owner", "seq", "target")

    def __init__(self, owner: SocketExpiries, at: float, seq: int, target: Any) -> None:
        self.owner = owner
        self.at = at
        self.seq = seq
        self.target: Any = target

    def __lt__(self, other: Expiry) -> bool:
        return (self.at, self.seq) < (other.at, other.seq)

    def cancel(self) -> None:
        if self.target is not None:
            self.target = None
            self.owner._live -= 1


class SocketExpiries:
    """Runs `on_expiry(target)` at each entry's loop time; one `call_at` for all of them."""

    def __init__(self, on_expiry: Callable[[Any], Coroutine[Any, Any, None]]) -> None:
        self._on_expiry = on_expiry
        self._heap: list[Expiry] = []
        self._live = 0  # entries neither cancelled nor run
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return self._live

    def add(self, delay: float, target: Any) -> Expiry:
        """`on_expiry(target)` in `delay` seconds, unless the returned entry is cancelled first."""
        loop = asyncio.get_running_loop()
        entry = Expiry(self, loop.time() + max(delay, 0.0), next(self._seq), target)
        heapq.heappush(self._heap, entry)
        self._live += 1
        if len(self._heap) > 64 and len(self._heap) > 2 * self._live:
            self._heap = [e for e in self._heap if e.target is not None]  # drop ended sockets
            heapq.heapify(self._heap)
        if self._timer is None or entry.at < self._timer_at:
            self._schedule(loop)
        return entry

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._heap and self._heap[0].target is None:
            heapq.heappop(self._heap)
        if self._heap:
            self._timer_at = self._heap[0].at
            self._timer = loop.call_at(self._timer_at, self._fire)

    def _fire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time() + 0.001  # the timer's own granularity
        while self._heap and self._heap[0].at <= now:
            entry = heapq.heappop(self._heap)
            target, entry.target = entry.target, None
            if target is not None:
                self._live -= 1
                task = loop.create_task(self._on_expiry(target))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        self._schedule(loop)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for entry in self._heap:
            entry.target = None
        self._heap.clear()
        self._live = 0
