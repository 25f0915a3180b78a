"""Per-process fan-out of the event stream to local subscribers.

One EventHub per server process holds ONE broadcast subscription. Every
message on it (a NOTIFY at commit, a Redis publish after commit, or a gap
after a reconnect) is only a wake-up: a single pump task then reads the
events table after the hub's own position (`db.events.fetch_after`, which
never passes a transaction that could still commit) and hands the rows to
every local subscriber. The table is the truth; messages carry no data.

Subscribers replay from the table after their cursor, then continue live.
The switch has no gap and no duplicate because a subscriber registers with
the hub *before* its first replay read, buffers what the pump hands it
meanwhile, and drops anything at or before its last delivered cursor.

Slow consumers: each subscriber buffers at most `max_queue` rows. On
overflow the buffer is dropped and the subscriber catches up from the table
after its last delivered cursor, then goes live again: it never loses or
reorders an event and never blocks the pump or other subscribers.

The broadcaster is an optimisation, never a dependency: with
`heartbeat_interval` set the hub publishes a heartbeat on its channel and
watches for messages. When a publish fails, or nothing (not even a
heartbeat) arrived for `silence_after` seconds, the broadcaster is
*degraded*: the pump then reads the table every `fallback_poll_interval`
seconds by itself (a bounded poll), logs it once, and goes back to push
when a message arrives again (reading the table at once, as after a gap).
`publish` (after a local commit) wakes the local pump first, so subscribers
on the writing process never wait for the broadcaster.

Idle hub: while nothing in the process listens (no subscriber, no `on_events`
callback) the pump reads no rows. A wake-up then only moves the position to
the stream's head (`db.events.current_head`, one small read), at most once per
`idle_refresh_interval` however many commits are announced, and held-back
events are not waited for (nobody here needs them). The position stays a lower
bound of everything committed later, so a subscriber registering afterwards
misses nothing; like any live subscriber it may also see events committed up
to that interval before its call. The first registration ends the idle wait
at once, and the next read fetches rows again from the position.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any

from broadcaster import Broadcast
from broadcaster._base import Subscriber as BroadcastSubscriber
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from db.events import EVENTS_CHANNEL, EventFilter, current_head, fetch_filtered
from records.events import Cursor, EventRow
from server.broadcast_pg import PostgresNotifyBackend, is_gap
from telemetry.spans import traced

__all__ = ["HEARTBEAT_PREFIX", "Accept", "EventHub", "HubStats", "Subscription"]

log = logging.getLogger(__name__)

Accept = Callable[[EventRow], bool | Awaitable[bool]]
"""Per-event decision of a subscriber (e.g. re-authorization); may be async."""

EventsCallback = Callable[[Sequence[EventRow]], None]

# Heartbeats are `{"heartbeat":"<hub id>"}`: liveness only, never a wake-up.
HEARTBEAT_PREFIX = '{"heartbeat":'


def _is_heartbeat(message: object) -> bool:
    return isinstance(message, str) and message.startswith(HEARTBEAT_PREFIX)


@dataclass(slots=True)
class HubStats:
    """Counters for metrics and tests."""

    wakeups: int = 0
    gaps: int = 0
    reads: int = 0
    delivered_batches: int = 0
    overflows: int = 0
    heartbeats: int = 0
    degradations: int = 0
    polls: int = 0
    head_reads: int = 0  # position moves of an idle hub (no rows read)


class _Subscriber:
    """A local subscriber's buffer; filled by the pump, drained by its own task."""

    __slots__ = ("buffer", "closed", "filter", "last", "max_queue", "overflowed", "stats", "waiter")

    def __init__(self, flt: EventFilter, max_queue: int, stats: HubStats) -> None:
        self.filter = flt
        self.max_queue = max_queue
        self.stats = stats
        self.buffer: deque[EventRow] = deque()
        self.last = Cursor(0, 0)
        self.overflowed = False
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None

    def offer(self, rows: Sequence[EventRow]) -> None:
        # Synchronous: the pump never waits on a subscriber.
        if self.closed or self.overflowed:
            return  # an overflowed subscriber re-reads the table; buffering resumes on its next pass
        matching = [row for row in rows if self.filter.matches(row)]
        if not matching:
            return
        if len(self.buffer) + len(matching) > self.max_queue:
            self.buffer.clear()
            self.overflowed = True
            self.stats.overflows += 1
        else:
            self.buffer.extend(matching)
        self.wake()

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None


class Subscription:
    """A local subscription: an async iterator of EventRow; `aclose()` ends it.

    Dropping it unregisters it too, so one that is never iterated cannot leak.
    """

    __slots__ = ("_hub", "_rows", "_sub")

    def __init__(self, hub: EventHub, sub: _Subscriber, rows: AsyncGenerator[EventRow, None]) -> None:
        self._hub = hub
        self._sub = sub
        self._rows = rows

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> EventRow:
        return await self._rows.__anext__()

    @property
    def position(self) -> Cursor:
        """The last position considered (delivered or filtered out)."""
        return self._sub.last

    async def aclose(self) -> None:
        """Unsubscribe."""
        self._hub._unregister(self._sub)
        self._sub.wake()
        await self._rows.aclose()

    def __del__(self) -> None:
        self._hub._unregister(self._sub)


class EventHub:
    """The process's single reader of the event stream; fans events out to local subscribers.

    `db` is an AsyncEngine or an async_sessionmaker; `broadcast` a connected
    broadcaster.Broadcast (its lifetime belongs to the caller). Use as
    `async with EventHub(...) as hub:` or call `start()` / `stop()`.
    """

    def __init__(
        self,
        db: AsyncEngine | async_sessionmaker[AsyncSession],
        broadcast: Broadcast,
        *,
        channel: str = EVENTS_CHANNEL,
        page_size: int = 500,
        max_queue: int = 1000,
        poll_interval: float | None = None,
        held_back_delays: Sequence[float] = (0.05, 0.2, 1.0),
        heartbeat_interval: float | None = None,
        silence_after: float | None = None,
        fallback_poll_interval: float = 1.0,
        publish_timeout: float = 2.0,
        idle_refresh_interval: float = 0.1,
    ) -> None:
        self._db = db
        self._broadcast = broadcast
        self._channel = channel
        self._page_size = page_size
        self._max_queue = max_queue
        self._poll_interval = poll_interval
        self._held_back_delays = tuple(held_back_delays) or (1.0,)
        self._subscribers: set[_Subscriber] = set()
        self._callbacks: list[EventsCallback] = []
        self._wake = asyncio.Event()
        self._position = Cursor(0, 0)
        self._tasks: list[asyncio.Task[None]] = []
        self._stack: AsyncExitStack | None = None
        self._heartbeat_interval = heartbeat_interval
        self._silence_after = silence_after or (3 * heartbeat_interval if heartbeat_interval else None)
        self._fallback_poll = fallback_poll_interval
        self._publish_timeout = publish_timeout
        self._idle_refresh_interval = idle_refresh_interval
        self._idle_refreshed_at: float | None = None
        self._registered = asyncio.Event()  # set by every registration: ends an idle wait
        self._heartbeat_message = f'{HEARTBEAT_PREFIX}"{uuid.uuid4().hex}"}}'
        self._last_heard = 0.0
        self._degraded: str | None = None  # why, while the broadcaster is degraded
        self.stats = HubStats()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the broadcast, take the current head as position, start the pump."""
        if self._stack is not None:
            raise RuntimeError("EventHub already started")
        stack = AsyncExitStack()
        try:
            # Listen before reading the head, so no commit after the head goes unannounced.
            sub = await stack.enter_async_context(self._broadcast.subscribe(self._channel))
            async with self._reader() as conn:
                self._position = await current_head(conn)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        # One read at once: a commit announced before we listened may be held back.
        self._wake.set()
        self._last_heard = asyncio.get_running_loop().time()
        self._tasks = [
            asyncio.create_task(self._listen(sub), name="event-hub-listen"),
            asyncio.create_task(self._pump(), name="event-hub-pump"),
        ]
        if self._heartbeat_interval is not None:
            # The first heartbeat goes out now: a broadcaster down at start is known at once.
            self._tasks.append(asyncio.create_task(self._heartbeat(), name="event-hub-heartbeat"))

    async def stop(self) -> None:
        """Stop the pump, end every local subscription, leave the broadcast channel."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for sub in list(self._subscribers):
            sub.closed = True
            sub.wake()
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    async def __aenter__(self) -> EventHub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- public API -----------------------------------------------------------------------------

    @property
    def position(self) -> Cursor:
        """The last stream position the pump has read and fanned out."""
        return self._position

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def transactional_notify(self) -> bool:
        """True when writers' in-transaction pg_notify is the announcement (no publish after commit)."""
        # broadcaster exposes no accessor for its backend.
        backend = getattr(self._broadcast, "_backend", None)
        return isinstance(backend, PostgresNotifyBackend)

    @property
    def broadcast_degraded(self) -> str | None:
        """Why the broadcaster is degraded (the hub polls the table meanwhile), or None when it works."""
        return self._degraded

    async def publish(self, channel: str, message: Any) -> None:
        """Publish through the hub's broadcast (used by db.events.publish_after_commit).

        Wakes the local pump first: this process's subscribers never wait on
        the broadcaster. A publish that fails or takes longer than
        `publish_timeout` marks the broadcaster degraded and is not raised:
        the other processes poll the table until it recovers.
        """
        if channel == self._channel and not _is_heartbeat(message):
            self._wake.set()
        try:
            async with asyncio.timeout(self._publish_timeout):
                await self._broadcast.publish(channel, message)
        except Exception as exc:
            self._degrade(f"publish failed: {type(exc).__name__}: {exc}".rstrip(": "))

    def wake(self) -> None:
        """Ask the pump to look at the table now (e.g. after a local commit)."""
        self._wake.set()

    def on_events(self, callback: EventsCallback) -> Callable[[], None]:
        """Call `callback(rows)` with every batch the pump reads; returns an unregister function.

        Runs inside the pump: it must be quick and must not raise or block
        (hand work to your own task, e.g. set an asyncio.Event).
        """
        self._callbacks.append(callback)
        self._registered.set()
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def subscribe(
        self,
        *,
        after: Cursor | None = None,
        accept: Accept | None = None,
        filter: EventFilter | None = None,
    ) -> Subscription:
        """Every event after `after` in stream order, first replayed from the table, then live.

        The subscription is registered by this call. Without `after` it
        delivers every event the hub reads from now on: everything committed
        after this call (and possibly a few committed just before it that the
        hub had not read yet). `filter` is applied in SQL on replay and in
        memory live; `accept` then decides per event (it may be async, e.g.
        re-authorization). The iterator ends when the hub stops; `aclose()`
        it (or drop it) to unsubscribe.
        """
        if not self._tasks:
            raise RuntimeError("EventHub is not running")
        sub = _Subscriber(filter or EventFilter(), self._max_queue, self.stats)
        # Registered before any read: from here on the pump buffers what it reads for it.
        sub.last = self._position if after is None else after
        self._subscribers.add(sub)
        self._registered.set()
        return Subscription(self, sub, self._deliver(sub, accept, replay=after is not None))

    def _unregister(self, sub: _Subscriber) -> None:
        sub.closed = True
        self._subscribers.discard(sub)

    async def _deliver(
        self, sub: _Subscriber, accept: Accept | None, *, replay: bool
    ) -> AsyncGenerator[EventRow, None]:
        """Replay (when asked or after an overflow), then drain the buffer, merging by cursor."""
        try:
            while not sub.closed:
                if replay or sub.overflowed:
                    replay = False
                    # Buffering (re)starts before the pass's first read; if it overflows
                    # during the pass the loop runs another pass.
                    sub.overflowed = False
                    async with contextlib.aclosing(self._replay(sub)) as rows:
                        async for row in rows:
                            if await _accepts(accept, row):
                                yield row
                    continue
                if not sub.buffer:
                    await sub.wait()
                    continue
                row = sub.buffer.popleft()
                if row.cursor <= sub.last:
                    continue  # already delivered by the replay
                sub.last = row.cursor
                if await _accepts(accept, row):
                    yield row
        finally:
            self._unregister(sub)

    # -- internals ------------------------------------------------------------------------------

    def _reader(self) -> AbstractAsyncContextManager[AsyncConnection | AsyncSession]:
        if isinstance(self._db, AsyncEngine):
            return self._db.connect()
        return self._db()

    async def _replay(self, sub: _Subscriber) -> AsyncGenerator[EventRow, None]:
        """Rows after `sub.last` from the table, page by page, until a short page."""
        while not sub.closed:
            async with self._reader() as conn:
                page = await fetch_filtered(conn, after=sub.last, limit=self._page_size, flt=sub.filter)
            for row in page:
                sub.last = row.cursor
                yield row
                if sub.closed:
                    return
            if len(page) < self._page_size:
                return

    async def _listen(self, sub: BroadcastSubscriber) -> None:
        loop = asyncio.get_running_loop()
        async for event in sub:  # type: ignore[union-attr]
            self._last_heard = loop.time()
            if self._degraded is not None:
                self._recover()
            if event is not None and _is_heartbeat(event.message):
                self.stats.heartbeats += 1
                continue
            self.stats.wakeups += 1
            if event is not None and is_gap(event.message):
                self.stats.gaps += 1
            self._wake.set()

    def _degrade(self, reason: str) -> None:
        if self._degraded is None:
            self.stats.degradations += 1
            log.warning(
                "event broadcast degraded (%s): reading the outbox every %.1fs until it is back",
                reason,
                self._fallback_poll,
            )
            self._wake.set()  # start polling now (and catch up what the broadcaster lost)
        self._degraded = reason

    def _recover(self) -> None:
        log.info("event broadcast is back: push delivery resumed")
        self._degraded = None
        self._wake.set()  # anything announced while it was down: read it now

    async def _heartbeat(self) -> None:
        assert self._heartbeat_interval is not None and self._silence_after is not None
        loop = asyncio.get_running_loop()
        while True:
            await self.publish(self._channel, self._heartbeat_message)
            await asyncio.sleep(self._heartbeat_interval)
            silent_for = loop.time() - self._last_heard
            if silent_for > self._silence_after:
                self._degrade(f"nothing received for {silent_for:.1f}s")

    async def _pump(self) -> None:
        held_back, attempt, failing = False, 0, False
        while True:
            if held_back:
                timeout: float | None = self._held_back_delays[min(attempt, len(self._held_back_delays) - 1)]
            else:
                timeout = self._poll_interval
            if self._degraded is not None:
                timeout = self._fallback_poll if timeout is None else min(timeout, self._fallback_poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            if not self._wake.is_set():
                self.stats.polls += 1
            self._wake.clear()
            try:
                held_back = await self._drain()
                failing = False
            except Exception:
                # The database may be restarting: retry on the backoff, log once per outage.
                if not failing:
                    log.exception("reading request_events failed; retrying")
                failing = held_back = True
            attempt = attempt + 1 if held_back else 0

    @property
    def _idle(self) -> bool:
        return not self._subscribers and not self._callbacks

    async def _drain(self) -> bool:
        """Read and fan out everything deliverable; True if later events are held back."""
        if self._idle and await self._skip_to_head():
            return False
        async with self._reader() as conn:
            while True:
                batch = await fetch_filtered(
                    conn, after=self._position, limit=self._page_size, flt=EventFilter()
                )
                self.stats.reads += 1
                if batch:
                    # Position and fan-out change together, with no await in between:
                    # a subscriber registering meanwhile sees a consistent position.
                    self._position = batch[-1].cursor
                    self._dispatch(batch)
                if len(batch) < self._page_size:
                    return batch.held_back

    async def _skip_to_head(self) -> bool:
        """While idle: move the position to the head, reading no rows (coalescing wake-ups to one
        read per `idle_refresh_interval`). False when a registration came first: read rows then."""
        loop = asyncio.get_running_loop()
        self._registered.clear()
        if self._idle_refreshed_at is not None:
            wait = self._idle_refreshed_at + self._idle_refresh_interval - loop.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._registered.wait(), wait)
        if not self._idle:
            return False
        async with self._reader() as conn:
            head = await current_head(conn)
        self.stats.head_reads += 1
        self._idle_refreshed_at = loop.time()
        if not self._idle:
            # Registered during the read: its position is the old one, and so must the pump's be
            # (events committed between that registration and the head would be skipped).
            return False
        if head > self._position:
            # No await since the check: a subscriber registering later starts from here.
            self._position = head
        return True

    @traced("event_hub.fan_out")
    def _dispatch(self, batch: Sequence[EventRow]) -> None:
        self.stats.delivered_batches += 1
        for sub in list(self._subscribers):
            sub.offer(batch)
        for callback in list(self._callbacks):
            try:
                callback(batch)
            except Exception:
                log.exception("on_events callback failed")


async def _accepts(accept: Accept | None, row: EventRow) -> bool:
    if accept is None:
        return True
    verdict = accept(row)
    if inspect.isawaitable(verdict):
        verdict = await verdict
    return bool(verdict)
