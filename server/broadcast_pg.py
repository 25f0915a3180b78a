"""A broadcaster backend for PostgreSQL LISTEN/NOTIFY that survives connection loss.

broadcaster 0.3.1's own PostgreSQL backend shares one asyncpg connection
between LISTEN and `pg_notify` (concurrent publishes fail) and never
reconnects after the connection drops. This one keeps:

- one dedicated connection for LISTEN, watched by asyncpg's termination
  callback and a periodic `SELECT 1` (a half-open TCP connection never
  reports termination); on loss it reconnects with backoff and LISTENs
  every channel again;
- a small separate pool for `pg_notify`, so publishes run concurrently;
- a gap message (`GAP_MESSAGE`) on every channel after each reconnect, and
  whenever its own queue overflowed: NOTIFY has no replay, so consumers
  must catch up from their durable source (the events table) on a gap.

NOTIFY is per database: the URL must name the database the writers use.
LISTEN does not work through PgBouncer in transaction pooling mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import asyncpg
from broadcaster import Broadcast, BroadcastBackend, Event

from server.settings import asyncpg_url

__all__ = ["GAP_MESSAGE", "PostgresNotifyBackend", "RedisPubSubBackend", "is_gap", "make_broadcast"]

log = logging.getLogger(__name__)

GAP_MESSAGE = '{"gap":true}'
_MAX_PAYLOAD_BYTES = 7999
# Errors after which a connection (or the server) is presumed gone; worth a retry.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)


def is_gap(message: object) -> bool:
    """True for the message a backend emits when notifications may have been lost."""
    return message == GAP_MESSAGE


class PostgresNotifyBackend(BroadcastBackend):
    """LISTEN/NOTIFY with reconnects, gap messages and a separate publish pool."""

    # Writers announce inside their own transaction with pg_notify (db.events.notify_events),
    # so nothing needs publishing after commit.
    transactional_notify = True

    def __init__(
        self,
        url: str,
        *,
        publish_pool_size: int = 4,
        health_check_interval: float = 10.0,
        health_check_timeout: float = 5.0,
        reconnect_delays: Sequence[float] = (0.05, 0.25, 1.0, 2.0, 5.0),
        max_pending: int = 10_000,
        connect_timeout: float = 10.0,
    ) -> None:
        # BroadcastBackend.__init__ only raises NotImplementedError: not called.
        self._url = asyncpg_url(url)
        self._pool_size = publish_pool_size
        self._health_interval = health_check_interval
        self._health_timeout = health_check_timeout
        self._delays = tuple(reconnect_delays) or (1.0,)
        self._connect_timeout = connect_timeout
        self._channels: set[str] = set()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_pending)
        self._gapped: set[str] = set()
        self._conn: asyncpg.Connection | None = None
        self._pool: asyncpg.Pool | None = None
        # Serializes commands on the LISTEN connection (asyncpg allows one at a time).
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self.reconnects = 0

    @property
    def listener_pid(self) -> int | None:
        """Server process id of the LISTEN connection (None while reconnecting)."""
        conn = self._conn
        return None if conn is None or conn.is_closed() else conn.get_server_pid()

    async def connect(self) -> None:
        """Open the LISTEN connection and the publish pool; fails if the database is unreachable."""
        self._pool = await asyncpg.create_pool(
            self._url, min_size=0, max_size=self._pool_size, timeout=self._connect_timeout
        )
        try:
            self._conn = await self._open()
        except BaseException:
            await self._pool.close()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name="broadcast-pg-supervisor")

    async def disconnect(self) -> None:
        """Stop reconnecting and close every connection."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        conn, self._conn = self._conn, None
        if conn is not None:
            await _close(conn)
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), timeout=5)
            except TimeoutError:
                self._pool.terminate()
            self._pool = None

    async def subscribe(self, channel: str) -> None:
        """LISTEN on `channel` now, or after the next reconnect if the connection is down."""
        if channel in self._channels:
            return
        self._channels.add(channel)
        async with self._lock:
            conn = self._conn
            if conn is None or conn.is_closed():
                return  # the reconnect LISTENs every channel and emits a gap
            try:
                await conn.add_listener(channel, self._on_notify)
            except Exception as exc:
                # Never raise here (broadcaster's cleanup then fails with KeyError): a dying
                # connection can fail in many ways; the reconnect LISTENs and emits a gap.
                log.info("LISTEN %s failed (%s); reconnecting", channel, exc)
                self._lost.set()

    async def unsubscribe(self, channel: str) -> None:
        """UNLISTEN `channel` (best effort: a lost connection forgets it anyway)."""
        self._channels.discard(channel)
        async with self._lock:
            conn = self._conn
            if conn is None or conn.is_closed():
                return
            try:
                await conn.remove_listener(channel, self._on_notify)
            except Exception:
                self._lost.set()

    async def publish(self, channel: str, message: Any) -> None:
        """`pg_notify(channel, message)` through the pool; retried on connection errors.

        A retry after an ambiguous failure may deliver a message twice.
        """
        if self._pool is None:
            raise RuntimeError("backend is not connected")
        text = message.decode() if isinstance(message, bytes) else str(message)
        if len(text.encode()) > _MAX_PAYLOAD_BYTES:
            raise ValueError("NOTIFY payloads must be shorter than 8000 bytes")
        for attempt, delay in enumerate((*self._delays[:3], None)):
            try:
                async with self._pool.acquire(timeout=self._connect_timeout) as conn:
                    await conn.execute("SELECT pg_notify($1, $2)", channel, text)
                return
            except _CONNECTION_ERRORS:
                if delay is None:
                    raise
                log.info("publish on %s failed (attempt %d), retrying", channel, attempt + 1)
                await asyncio.sleep(delay)

    async def next_published(self) -> Event:
        """The next notification, or a gap message for a channel that may have lost some."""
        if self._gapped:
            return Event(channel=self._gapped.pop(), message=GAP_MESSAGE)
        return await self._queue.get()

    # -- internals ---------------------------------------------------------------------------

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        self._put(Event(channel=channel, message=payload))

    def _put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # Dropping is safe only because the consumer is told to catch up.
            self._gapped.add(event.channel)

    def _on_terminated(self, conn: object) -> None:
        if conn is self._conn:
            self._lost.set()

    async def _open(self) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(
            self._url,
            timeout=self._connect_timeout,
            server_settings={"application_name": "casegraph-listen"},
        )
        try:
            conn.add_termination_listener(self._on_terminated)
            for channel in sorted(self._channels):
                await conn.add_listener(channel, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def _supervise(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), timeout=self._health_interval)
            except TimeoutError:
                if await self._healthy():
                    continue
            self._lost.clear()
            await self._reconnect()

    async def _healthy(self) -> bool:
        async with self._lock:
            conn = self._conn
            if conn is None or conn.is_closed():
                return False
            try:
                await conn.fetchval("SELECT 1", timeout=self._health_timeout)
            except Exception:
                return False
            return True

    async def _reconnect(self) -> None:
        old, self._conn = self._conn, None
        if old is not None:
            old.terminate()  # never wait on a connection presumed dead
        attempt = 0
        while True:
            try:
                # Under the lock so a concurrent subscribe() either sees the new
                # connection or has its channel in the set that _open() LISTENs to.
                async with self._lock:
                    conn = await self._open()
                    self._conn = conn
                if not conn.is_closed():
                    break
                self._conn = None
                error: object = "closed at once"
            except Exception as exc:  # any failure: keep trying, servers come back
                error = exc
            delay = self._delays[min(attempt, len(self._delays) - 1)]
            log.warning("LISTEN connection lost; reconnecting in %.2fs (%s)", delay, error)
            attempt += 1
            await asyncio.sleep(delay)
        self.reconnects += 1
        log.info("LISTEN connection re-established on %d channel(s)", len(self._channels))
        for channel in sorted(self._channels):
            self._put(Event(channel=channel, message=GAP_MESSAGE))


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), timeout=2)
    except Exception:
        conn.terminate()


class RedisPubSubBackend(BroadcastBackend):
    """Redis pub/sub for BROADCAST_URL=redis://… (writers publish after commit).

    broadcaster 0.3.1's RedisBackend starts listening before its SUBSCRIBE is
    registered, finds no channel, and never listens again (seen with
    redis-py 8): no message is ever delivered. This one reads with
    `get_message` once subscribed, survives read errors, and emits a gap on
    every channel after redis-py reconnects (pub/sub has no replay either).

    Redis is not needed to start: when it is unreachable `connect` logs it
    and the reader keeps subscribing until it is back (the event hub polls
    the outbox meanwhile). An outage is logged once, and its end once.
    """

    transactional_notify = False

    def __init__(
        self,
        url: str,
        *,
        max_pending: int = 10_000,
        retry_delay: float = 0.5,
        connect_timeout: float = 2.0,
    ) -> None:
        from redis import asyncio as redis

        self._client = redis.Redis.from_url(url, socket_connect_timeout=connect_timeout)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._channels: set[str] = set()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_pending)
        self._gapped: set[str] = set()
        self._subscribed = asyncio.Event()
        self._retry_delay = retry_delay
        self._missing: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        self._callback_on: object | None = None  # the connection our reconnect callback is on
        self._failing = False
        self.reconnects = 0
        self.location = _redis_location(url)

    async def connect(self) -> None:
        try:
            await self._client.ping()
        except Exception as exc:
            # Start anyway: the outbox is durable, the hub polls it until Redis is back.
            log.warning(
                "Redis at %s is unreachable (%s): starting without it; events are read from the "
                "outbox until it is back",
                self.location,
                exc,
            )
            self._failing = True
        self._reader = asyncio.create_task(self._read(), name="broadcast-redis-reader")

    async def disconnect(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._client.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self._failing:
            self._missing.add(channel)  # the reader subscribes once Redis answers
        else:
            try:
                await self._pubsub.subscribe(channel)
            except Exception as exc:
                # Never raise (broadcaster's cleanup would fail): the reader subscribes it later.
                log.warning("Redis SUBSCRIBE %s failed (%s); retrying in the reader", channel, exc)
                self._missing.add(channel)
            self._watch_reconnects()
        self._subscribed.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        with contextlib.suppress(Exception):
            await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        await self._client.publish(channel, message)

    async def next_published(self) -> Event:
        if self._gapped:
            return Event(channel=self._gapped.pop(), message=GAP_MESSAGE)
        return await self._queue.get()

    def _put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._gapped.add(event.channel)

    def _watch_reconnects(self) -> None:
        connection = self._pubsub.connection
        if connection is not None and connection is not self._callback_on:
            # redis-py re-subscribes on reconnect through its own callback, registered first.
            connection.register_connect_callback(self._on_reconnect)
            self._callback_on = connection

    async def _on_reconnect(self, _connection: object) -> None:
        if not self._subscribed.is_set():
            return  # the first connect, not a reconnect
        self.reconnects += 1
        for channel in sorted(self._channels):
            self._put(Event(channel=channel, message=GAP_MESSAGE))

    async def _read(self) -> None:
        await self._subscribed.wait()
        while True:
            try:
                if self._missing:
                    missing = sorted(self._missing & self._channels)
                    if missing:
                        await self._pubsub.subscribe(*missing)
                    self._missing.clear()
                    self._watch_reconnects()
                    for channel in missing:
                        self._put(Event(channel=channel, message=GAP_MESSAGE))
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except Exception as exc:  # redis-py retried already; keep trying, Redis comes back
                if not self._failing:
                    log.warning(
                        "Redis pub/sub at %s failed (%s); retrying every %.2fs",
                        self.location,
                        exc,
                        self._retry_delay,
                    )
                    self._failing = True
                if self._pubsub.connection is None:
                    self._missing |= self._channels  # never subscribed: do it once Redis answers
                await asyncio.sleep(self._retry_delay)
                continue
            if self._failing:
                self._failing = False
                log.info("Redis pub/sub at %s is back", self.location)
            if message is not None and message.get("type") == "message":
                channel, data = message["channel"], message["data"]
                self._put(
                    Event(
                        channel=channel.decode() if isinstance(channel, bytes) else str(channel),
                        message=data.decode() if isinstance(data, bytes) else str(data),
                    )
                )


def _redis_location(url: str) -> str:
    """host:port of a Redis URL, without credentials (for log lines)."""
    parsed = urlparse(url)
    return f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"


def make_broadcast(url: str, **backend_options: Any) -> Broadcast:
    """A Broadcast for BROADCAST_URL: postgres(ql) -> PostgresNotifyBackend, redis(s) -> RedisPubSubBackend.

    For PostgreSQL pass the application's own database URL (NOTIFY is per
    database). `memory://` (single process, tests) uses broadcaster's backend.
    """
    scheme = urlparse(url).scheme
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        return Broadcast(backend=PostgresNotifyBackend(url, **backend_options))
    if scheme in ("redis", "rediss"):
        return Broadcast(backend=RedisPubSubBackend(url, **backend_options))
    if scheme == "memory":
        return Broadcast(url)
    raise ValueError(f"unsupported BROADCAST_URL scheme: {scheme}://")
