"""The webhook delivery worker (WEBHOOKS.md): claims due deliveries, signs and POSTs them, records
what the partner answered. Runs in every process with CASEGRAPH_WORKERS on; any number may run.

- Claims: one statement (`FOR UPDATE SKIP LOCKED`, autocommit) takes each
  endpoint's earliest due deliveries, as many as it has free slots, and moves
  their next attempt one lease ahead (db.repositories.webhooks.claim_due): one
  attempt per schedule step whatever the number of processes, and a delivery
  whose sender died is taken again once the lease ends. The bodies' facts are
  read on the same connection, a page at a time.
- Order: a delivery waits while an earlier event of the same request is
  unfinished at the same endpoint (in the claim's SQL); nothing else waits.
- Isolation: at most `per_endpoint` attempts in flight per endpoint and
  `concurrency` overall, each bounded by `timeout` in total; the claim skips
  endpoints with no free slot, so a hanging endpoint holds its own slots only.
  Each slot has one more delivery claimed behind it, sent as soon as the slot
  frees (claim order; only deliveries free to go in per-request order are ever
  claimed). Each endpoint has its own pooled httpx client of `per_endpoint`
  connections.
- Results: successes at healthy endpoints are written together, one statement
  for all that ended meanwhile (services.webhooks.attempts.record_successes);
  the rest (failures, 410, a failing endpoint's first success) one endpoint at
  a time in a unit of work, so a failing endpoint's slower writes hold up no
  other endpoint's.
- Access: each event is checked with `requestEvents`' rule for the endpoint's
  owner (services.webhooks.owner) before it is sent; one that fails is dropped.
- Destinations are checked again before every attempt (SSRF), unless
  WEBHOOK_ALLOW_PRIVATE.
- Signatures: the `standardwebhooks` reference library, with both secrets
  during a rotation's overlap.

The schedule's clock is injected (`clock`); the signature's timestamp is the
wall clock (`wall_clock`), which is what receivers check against.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import random as _random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from auth.key_vault import KeyVaultError
from auth.principal import Principal
from db.repositories import webhooks as repo
from db.uow import ChangeActor, UnitOfWork
from domain.errors import DomainError
from domain.webhooks import MAX_RESPONSE_BODY, RETRY_SCHEDULE, SUCCESS_TIMEOUT, AttemptResult, classify
from server.webhook_payload import event_body, load_facts, ping_body
from services.webhooks.attempts import AttemptReport, record_attempts, record_successes
from services.webhooks.config import WebhookConfig, check_destination
from services.webhooks.owner import event_visible, owner_principal
from services.webhooks.secrets import open_secret

__all__ = ["WebhookSender"]

log = logging.getLogger("casegraph.webhooks")

# httpcore asks for `sniffio` several times per request; when it is not installed every asking is a
# failed import that searches sys.path again (a tenth of the sender's CPU under load). Recorded as
# absent once, the asking fails at once, as it would have anyway.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

_OWNER_TTL = 5.0  # seconds an endpoint owner's principal (linked customers) is reused
NO_ENDPOINT_RECHECK = 30.0  # seconds
_GATHER = 0.01  # seconds between a wake-up and the claim it causes
# Deliveries claimed per slot: the one being sent and the one that follows as soon as it ends,
# without waiting for the next claim.
_QUEUED = 2
_CLIENT_IDLE = 60.0  # seconds an endpoint's HTTP client (its open connections) is kept unused
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}
_USER_AGENT = "casegraph-webhooks/1"


@dataclass(frozen=True, slots=True)
class _Prepared:
    claim: repo.ClaimedDelivery
    url: str
    body: bytes
    secrets: tuple[str, ...]
    send_by: float  # time.monotonic() after which an attempt could outlast the claim's lease


class EventSource(Protocol):
    """What wakes the sender: the process's event hub (server.event_hub.EventHub.on_events)."""

    def on_events(self, callback: Callable[[Sequence[Any]], None]) -> Callable[[], None]: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WebhookSender:
    """Delivers webhooks in the background (`async with`), or step by step (`run_once`, tests)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        config: WebhookConfig,
        clock: Callable[[], datetime] = _utcnow,
        wall_clock: Callable[[], float] = time.time,
        schedule: Sequence[timedelta] = RETRY_SCHEDULE,
        random: Callable[[], float] = _random.random,
        timeout: float = SUCCESS_TIMEOUT.total_seconds(),
        concurrency: int = 64,
        per_endpoint: int = 4,
        poll_interval: float = 0.1,
        hub: EventSource | None = None,
        idle_check: float = 5.0,
        background: bool = True,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._schedule = tuple(schedule)
        self._random = random
        self._timeout = timeout
        self._concurrency = concurrency
        self._per_endpoint = per_endpoint
        self._poll_interval = poll_interval
        # With the process's event hub, an idle sender sleeps until an event is committed or the
        # earliest unfinished delivery falls due, so an idle server sends no statements; rows no
        # event announces (a PING, a redelivery by another process) are found by `idle_check`.
        self._hub = hub
        self._idle_check = idle_check
        self._unhook: Callable[[], None] | None = None
        # When the last look found no enabled endpoint (time.monotonic()): events cannot call for
        # a delivery then, and are not looked at again for NO_ENDPOINT_RECHECK seconds (an
        # endpoint another process registers is noticed within that; this process's own wake it).
        self._none_enabled_at: float | None = None
        # False: no loop of its own; the caller steps it with `run_once` and `drain` (tests).
        self._background = background
        # A claimed delivery waits for at most one attempt at its endpoint (`_QUEUED`), then is
        # sent: longer than both, it is not taken again while it may still be sent.
        self._lease = timedelta(seconds=2 * timeout + 30)
        # Sending: at most `concurrency` attempts, and `per_endpoint` per endpoint.
        self._slots = asyncio.Semaphore(concurrency)
        self._endpoint_slots: dict[int, asyncio.Semaphore] = {}
        # One connection pool per endpoint (at most `per_endpoint` connections): httpcore looks at
        # every connection of its pool on each request, so one pool for all endpoints cost more
        # CPU per request the more endpoints there were. httpx's transport is used as it is: the
        # client around it would only add what a webhook must not do (cookies, redirects, auth)
        # and a third of the CPU of an attempt. One TLS context serves them all.
        self._clients: dict[int, tuple[httpx.AsyncHTTPTransport, float]] = {}
        self._ssl = httpx.create_ssl_context()
        self._timeouts = httpx.Timeout(timeout).as_dict()
        self._clients_swept = time.monotonic()
        self._in_flight: Counter[int] = Counter()  # deliveries claimed and not sent yet, per endpoint
        self._unrecorded: set[int] = set()  # deliveries claimed whose result is not written yet
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._owners: dict[int | None, tuple[float, Principal | None]] = {}
        # Successes waiting to be written: one statement writes all that wait (whether each was
        # written is the future's result).
        self._successes: list[tuple[AttemptReport, asyncio.Future[bool]]] = []
        self._success_writer: asyncio.Task[None] | None = None
        # Other results waiting to be written, per endpoint: one transaction writes all that wait for
        # one endpoint, so a failing endpoint's slower writes hold up no other endpoint's.
        self._results: dict[int, list[tuple[AttemptReport, asyncio.Future[None]]]] = {}
        self._recorders: dict[int, asyncio.Task[None]] = {}

    async def __aenter__(self) -> WebhookSender:
        if self._hub is not None:
            self._unhook = self._hub.on_events(self._on_events)
        if self._background:
            self._loop_task = asyncio.create_task(self._run(), name="webhook-sender")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        writers = [*self._recorders.values(), *([self._success_writer] if self._success_writer else [])]
        for writer in writers:
            writer.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        clients, self._clients = self._clients, {}
        for client, _ in clients.values():
            await client.aclose()

    def _on_events(self, rows: Sequence[object]) -> None:
        # Runs in the hub's pump: deliveries are written with the events (a trigger); only wake up.
        none_at = self._none_enabled_at
        if none_at is not None and time.monotonic() - none_at < NO_ENDPOINT_RECHECK:
            return
        self._wake.set()

    def wake(self) -> None:
        """Look for due deliveries now (e.g. after a commit in this process)."""
        self._none_enabled_at = None
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """Deliveries claimed and not sent yet (being sent, or waiting for a slot)."""
        return sum(self._in_flight.values())

    def _free(self) -> int:
        # Claimed and not sent yet: for every slot, the attempt in it and one waiting to follow at
        # once; and as many whose result is being written (after the slot is free again).
        return min(
            _QUEUED * self._concurrency - self.in_flight,
            2 * _QUEUED * self._concurrency - len(self._unrecorded),
        )

    async def _run(self) -> None:
        while True:
            free = self._free()
            try:
                claimed = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("claiming webhook deliveries failed; retrying")
                claimed = 0
            await self._sweep_clients()
            if free < 1 or claimed < free:
                # Nothing more is due (or only for endpoints without a free slot): wait for an
                # attempt to end, a wake-up or the poll, then a moment more so that one claim
                # serves the attempts that end together.
                delay = await self._idle_delay()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                self._wake.clear()
                await asyncio.sleep(_GATHER)

    async def _idle_delay(self) -> float | None:
        """How long to sleep when nothing more can be claimed now."""
        if self._hub is None or self.in_flight:
            return self._poll_interval  # no wake-ups from commits, or attempts about to end
        try:
            async with self._sessionmaker() as session:
                due, endpoints = await repo.earliest_due(session)
        except Exception:
            log.exception("reading the next webhook delivery time failed; retrying")
            return 1.0
        self._none_enabled_at = None if endpoints else time.monotonic()
        if due is None:
            # Nothing waits: a committed event (the hub) or a PING/redelivery queued by this
            # process (`wake`) starts the next round; one queued by another process is found
            # within `idle_check` while any endpoint is enabled.
            return self._idle_check if endpoints else None
        return min(max((due - self._clock()).total_seconds(), self._poll_interval), self._idle_check)

    async def run_once(self) -> int:
        """Claim what is due now and start sending it; how many were claimed."""
        free = self._free()
        if free < 1:
            return 0
        now = self._clock()
        async with self._sessionmaker() as session:
            # Autocommit: the claim is one statement, committed before anything is sent.
            await session.connection(execution_options=_AUTOCOMMIT)
            claims = await repo.claim_due(
                session,
                now=now,
                lease=self._lease,
                free=free,
                in_flight=self._in_flight,
                per_endpoint=_QUEUED * self._per_endpoint,
                unrecorded=self._unrecorded,
            )
            if not claims:
                return 0
            for claim in claims:
                self._in_flight[claim.endpoint_id] += 1
                self._unrecorded.add(claim.id)
            try:
                prepared, failures = await self._prepare(session, claims, now)
            except BaseException:
                for claim in claims:
                    self._release(claim.endpoint_id)
                    self._unrecorded.discard(claim.id)
                raise
        for claim in claims:
            item = prepared.get(claim.id)
            failure = failures.get(claim.id)
            if item is not None:
                task = asyncio.create_task(self._deliver(item))
            else:
                self._release(claim.endpoint_id)  # nothing to send
                if failure is None:  # dropped
                    self._unrecorded.discard(claim.id)
                    continue
                task = asyncio.create_task(self._record(claim.endpoint_id, failure))
            self._tasks.add(task)
            task.add_done_callback(self._done(claim.id))
        return len(claims)

    async def drain(self) -> None:
        """Wait for every attempt in flight to be sent and recorded."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _done(self, delivery_id: int) -> Callable[[asyncio.Task[None]], None]:
        def finished(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            self._unrecorded.discard(delivery_id)
            self._wake.set()

        return finished

    def _release(self, endpoint_id: int) -> None:
        self._in_flight[endpoint_id] -= 1
        if self._in_flight[endpoint_id] <= 0:
            del self._in_flight[endpoint_id]
            self._endpoint_slots.pop(endpoint_id, None)  # nobody holds or waits for it

    def _transport(self, endpoint_id: int) -> httpx.AsyncHTTPTransport:
        entry = self._clients.get(endpoint_id)
        transport = entry[0] if entry is not None else None
        if transport is None:
            transport = httpx.AsyncHTTPTransport(
                verify=self._ssl,
                trust_env=False,
                limits=httpx.Limits(
                    max_connections=self._per_endpoint, max_keepalive_connections=self._per_endpoint
                ),
            )
        self._clients[endpoint_id] = (transport, time.monotonic())
        return transport

    async def _sweep_clients(self) -> None:
        """Close the clients (and connections) of endpoints not sent to for a while."""
        now = time.monotonic()
        if now - self._clients_swept < _CLIENT_IDLE:
            return
        self._clients_swept = now
        for endpoint_id, (client, used) in list(self._clients.items()):
            if now - used > _CLIENT_IDLE and not self._in_flight.get(endpoint_id):
                del self._clients[endpoint_id]
                await client.aclose()

    async def _owner(self, session: AsyncSession, owner_partner_id: int | None) -> Principal | None:
        cached = self._owners.get(owner_partner_id)
        if cached is not None and time.monotonic() - cached[0] < _OWNER_TTL:
            return cached[1]
        principal = await owner_principal(session, owner_partner_id=owner_partner_id)
        self._owners[owner_partner_id] = (time.monotonic(), principal)
        return principal

    async def _prepare(
        self, session: AsyncSession, claims: Sequence[repo.ClaimedDelivery], now: datetime
    ) -> tuple[dict[int, _Prepared], dict[int, AttemptReport]]:
        """The body and secrets of each claimed delivery, and the failed attempts of those that
        cannot be prepared (a secret that does not open); deliveries the owner may not see are
        deleted (neither)."""
        prepared: dict[int, _Prepared] = {}
        failures: dict[int, AttemptReport] = {}
        send_by = time.monotonic() + (self._lease.total_seconds() - self._timeout - 1)
        dropped: list[int] = []
        endpoints = await repo.endpoint_secrets(session, endpoint_ids=[c.endpoint_id for c in claims])
        conn = await session.connection()
        facts = await load_facts(conn, [c.event_id for c in claims if c.event_id is not None])
        for claim in claims:
            endpoint = endpoints.get(claim.endpoint_id)
            if endpoint is None:
                dropped.append(claim.id)  # deleted meanwhile (its deliveries with it)
                continue
            try:
                secrets = [open_secret(self._config.vault, endpoint_id=endpoint.id, sealed=endpoint.secret)]
                until = endpoint.previous_secret_until
                if endpoint.previous_secret is not None and until is not None and until > now:
                    secrets.append(
                        open_secret(
                            self._config.vault, endpoint_id=endpoint.id, sealed=endpoint.previous_secret
                        )
                    )
            except KeyVaultError as exc:
                failures[claim.id] = AttemptReport(
                    claim.id, claim.attempt, AttemptResult.FAILURE, error=str(exc)
                )
                continue
            if claim.event_id is None:
                body = ping_body(endpoint.id, now)
            else:
                event = facts.events.get(claim.event_id)
                owner = await self._owner(session, endpoint.owner_partner_id)
                if event is None or owner is None or not await event_visible(owner, event, facts.comments):
                    dropped.append(claim.id)
                    continue
                body = event_body(facts, event, owner)
            prepared[claim.id] = _Prepared(claim, endpoint.url, body, tuple(secrets), send_by)
        if dropped:
            await repo.delete_deliveries(session, delivery_ids=dropped, now=now)
        return prepared, failures

    async def _deliver(self, item: _Prepared) -> None:
        claim = item.claim
        slots = self._endpoint_slots.get(claim.endpoint_id)
        if slots is None:
            slots = self._endpoint_slots[claim.endpoint_id] = asyncio.Semaphore(self._per_endpoint)
        try:
            # In claim order (the semaphores are fair): its endpoint's slot, then one of all.
            async with slots, self._slots:
                if time.monotonic() > item.send_by:
                    # Waited so long for a slot that the lease could end mid-attempt: left to the
                    # next claim (here or in another process), as after a crash.
                    log.warning("webhook delivery %s waited past its lease; claimed again later", claim.id)
                    return
                report = await self._attempt(item)
        except Exception as exc:  # never lose the result of an attempt to a bug in reporting it
            log.exception("webhook attempt failed unexpectedly")
            report = AttemptReport(claim.id, claim.attempt, AttemptResult.FAILURE, error=type(exc).__name__)
        finally:
            # The endpoint's slot is free once its answer is in: the result is written meanwhile
            # (the row stays leased until then, and what waits behind it in order waits for that).
            self._release(claim.endpoint_id)
            self._wake.set()
        await self._record(claim.endpoint_id, report)

    async def _attempt(self, item: _Prepared) -> AttemptReport:
        claim = item.claim
        try:
            await check_destination(self._config, item.url)
        except DomainError as refused:
            return AttemptReport(claim.id, claim.attempt, AttemptResult.FAILURE, error=refused.message)
        sent_at = datetime.fromtimestamp(self._wall_clock(), UTC)
        signature = " ".join(
            Webhook(secret).sign(claim.webhook_id, sent_at, item.body) for secret in item.secrets
        )
        headers = {
            "user-agent": _USER_AGENT,
            "content-type": "application/json",
            "webhook-id": claim.webhook_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signature,
        }
        request = httpx.Request(
            "POST", item.url, content=item.body, headers=headers, extensions={"timeout": self._timeouts}
        )
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._transport(claim.endpoint_id).handle_async_request(request)
                try:
                    text = await _read_some(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            return AttemptReport(
                claim.id, claim.attempt, AttemptResult.FAILURE, error=f"no answer within {self._timeout:g} s"
            )
        except httpx.HTTPError as exc:
            failure = f"{type(exc).__name__}: {exc}"[:500]
            return AttemptReport(claim.id, claim.attempt, AttemptResult.FAILURE, error=failure)
        code = response.status_code
        result = classify(code)
        error = None if result is AttemptResult.SUCCESS else f"HTTP {code}"
        return AttemptReport(
            claim.id, claim.attempt, result, status_code=code, error=error, response_body=text
        )

    async def _record(self, endpoint_id: int, report: AttemptReport) -> None:
        """Write an attempt's result: a success with every other that ends meanwhile, in one
        statement; otherwise (or when that statement leaves it to it) with the others of its
        endpoint that end meanwhile, in one transaction."""
        loop = asyncio.get_running_loop()
        if report.result is AttemptResult.SUCCESS:
            written: asyncio.Future[bool] = loop.create_future()
            self._successes.append((report, written))
            if self._success_writer is None or self._success_writer.done():
                self._success_writer = asyncio.create_task(self._write_successes())
            if await written:
                return
        done: asyncio.Future[None] = loop.create_future()
        self._results.setdefault(endpoint_id, []).append((report, done))
        recorder = self._recorders.get(endpoint_id)
        if recorder is None or recorder.done():
            self._recorders[endpoint_id] = asyncio.create_task(self._write_results(endpoint_id))
        await done

    async def _write_results(self, endpoint_id: int) -> None:
        while batch := self._results.pop(endpoint_id, []):
            batch.sort(key=lambda item: item[0].delivery_id)
            try:
                await self._write([report for report, _ in batch])
            except Exception:
                log.warning(
                    "writing %d webhook results together failed; one by one", len(batch), exc_info=True
                )
                for report, _ in batch:
                    try:
                        await self._write([report])
                    except Exception:  # the lease runs out and the delivery is attempted again
                        log.exception("writing the result of webhook delivery %s failed", report.delivery_id)
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
        self._recorders.pop(endpoint_id, None)

    async def _write_successes(self) -> None:
        while self._successes:
            batch, self._successes = self._successes, []
            written: set[int] = set()
            try:
                async with self._sessionmaker() as session:
                    await session.connection(execution_options=_AUTOCOMMIT)
                    written = await record_successes(
                        session, reports=[report for report, _ in batch], now=self._clock()
                    )
            except Exception:  # each is tried again on its own, in its endpoint's transaction
                log.warning("writing %d webhook successes together failed", len(batch), exc_info=True)
            for report, future in batch:
                if not future.done():
                    future.set_result(report.delivery_id in written)

    async def _write(self, reports: Sequence[AttemptReport]) -> None:
        async with UnitOfWork(self._sessionmaker, actor=ChangeActor.system(), now=self._clock()) as uow:
            disabled = await record_attempts(
                uow, reports=reports, schedule=self._schedule, random=self._random
            )
            await uow.commit()
        for endpoint in disabled:
            if endpoint is not None:
                log.warning("webhook endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason)


async def _read_some(response: httpx.Response) -> str:
    """Up to MAX_RESPONSE_BODY bytes of the answer (what the delivery log keeps; asked for
    without content coding, read as it comes)."""
    chunks = bytearray()
    async for chunk in response.aiter_raw():
        chunks.extend(chunk)
        if len(chunks) >= MAX_RESPONSE_BODY:
            break
    return bytes(chunks[:MAX_RESPONSE_BODY]).decode("utf-8", errors="replace")
