"""The outbound mail worker: plan mails from the event stream, send them with aiosmtplib.

Planning (`plan_once`) locks the planner's cursor row, reads the events after
it (db.events.fetch_after), inserts one outbound_mails row per (event,
recipient) and moves the cursor, in one transaction: two processes plan one
after the other, a crash replans from the last committed cursor, and the
unique (event, recipient) keeps a replan from adding a second row.

Sending (`send_once`) claims due PENDING rows with `FOR UPDATE SKIP LOCKED`,
sends them and records each result in that same transaction: two processes
never hold the same row, and a row committed SENT is never claimed again. A
crash after the SMTP server took a mail but before the commit sends it once
more with the same Message-ID (receivers deduplicate by it); nothing is lost.
Transient failures (4xx, connection) are retried with exponential backoff;
permanent ones (5xx) end as FAILED with the server's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from types import TracebackType
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.events import fetch_after
from db.repositories.mail import (
    claim_due_mails,
    earliest_pending,
    insert_outbound,
    lock_mail_cursor,
    record_attempt,
    save_mail_cursor,
)
from domain.enums import OutboundMailStatus, RequestEventKind
from domain.mail import LOOP_HEADER
from records.events import EventRow
from records.mail import OutboundMailRow
from services.mail.outbound import MailSettings, plan_mails

__all__ = ["EventSource", "MailWorker", "SmtpTarget", "build_message", "parse_smtp_url"]

log = logging.getLogger("casegraph.mail")

# Only these events can call for mail: the others (SLA alerts, approvals...) wake no one.
_MAILED_KINDS = frozenset(
    {RequestEventKind.CREATED.value, RequestEventKind.COMMENTED.value, RequestEventKind.STATUS_CHANGED.value}
)
# Events after the cursor exist but an older transaction still runs: look again this soon.
_HELD_BACK_RETRY = 0.2

MAX_ATTEMPTS = 8
_BACKOFF = timedelta(seconds=30)
_BACKOFF_MAX = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://`, `smtps://` or `smtp+starttls://`, with optional user:password@."""
    parts = urlsplit(url)
    schemes = {"smtp": (False, False, 25), "smtps": (True, False, 465), "smtp+starttls": (False, True, 587)}
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError("SMTP_URL must be smtp://, smtps:// or smtp+starttls://host[:port]")
    use_tls, start_tls, default_port = schemes[parts.scheme]
    return SmtpTarget(
        hostname=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=start_tls,
    )


def build_message(row: OutboundMailRow, *, domain: str, now: datetime) -> EmailMessage:
    """The RFC 5322 message of an outbox row: threading headers, loop header, text and HTML."""
    msg = EmailMessage()
    msg["From"] = row.from_address
    msg["To"] = row.recipient
    msg["Subject"] = row.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{row.message_id}>"
    if row.in_reply_to:
        msg["In-Reply-To"] = row.in_reply_to
    if row.references:
        msg["References"] = row.references
    if row.kind == "ACKNOWLEDGEMENT":
        msg["Auto-Submitted"] = "auto-replied"
    msg[LOOP_HEADER] = domain
    msg.set_content(row.body_text)
    msg.add_alternative(row.body_html, subtype="html")
    return msg


class EventSource(Protocol):
    """What wakes the worker: the process's event hub (server.event_hub.EventHub.on_events)."""

    def on_events(self, callback: Callable[[Sequence[EventRow]], None]) -> Callable[[], None]: ...


class MailWorker:
    """Plans and sends outbound mail; `run` loops until stopped (`async with` starts it).

    With `hub` it sleeps until a change that may call for mail commits or a retry falls due,
    so an idle server sends no statements; without one it polls every `interval` seconds.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime],
        settings: MailSettings,
        smtp: SmtpTarget | None,
        interval: float = 1.0,
        batch: int = 50,
        hub: EventSource | None = None,
        page: int = 500,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.settings = settings
        self.smtp = smtp
        self.interval = interval
        self.batch = batch
        self._hub = hub
        self._unhook: Callable[[], None] | None = None
        self._dirty = asyncio.Event()
        self._held_back = False
        self._page = page
        self._more = False  # the last plan read a full page: more events may follow at once
        self._task: asyncio.Task[None] | None = None

    async def plan_once(self) -> int:
        """Plan the mails of the events after the cursor (up to a page of them); rows written."""
        async with self.sessionmaker() as session, session.begin():
            cursor = await lock_mail_cursor(session)
            events = await fetch_after(session, after=cursor, limit=self._page)
            self._held_back = events.held_back
            self._more = len(events) >= self._page
            if not events:
                return 0
            rows = await plan_mails(session, events=events, settings=self.settings, now=self.clock())
            written = await insert_outbound(session, rows=rows)
            await save_mail_cursor(session, cursor=events[-1].cursor)
            return written

    async def send_once(self) -> int:
        """Send the due mails one claim can take; the number handled."""
        if self.smtp is None:
            return 0
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            mails = await claim_due_mails(session, now=now, limit=self.batch)
            if not mails:
                return 0
            results = await self._deliver(mails, now)
            for mail, (status, error) in zip(mails, results, strict=True):
                retry_at = None
                if status is OutboundMailStatus.PENDING:
                    if mail.attempts + 1 >= MAX_ATTEMPTS:
                        status = OutboundMailStatus.FAILED
                    else:
                        retry_at = now + min(_BACKOFF * 2**mail.attempts, _BACKOFF_MAX)
                await record_attempt(
                    session, mail_id=mail.id, status=status, error=error, next_attempt_at=retry_at, now=now
                )
            return len(mails)

    async def _deliver(
        self, mails: list[OutboundMailRow], now: datetime
    ) -> list[tuple[OutboundMailStatus, str | None]]:
        target = self.smtp
        assert target is not None
        client = aiosmtplib.SMTP(
            hostname=target.hostname,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.use_tls,
            start_tls=target.start_tls,
            timeout=30,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            return [(OutboundMailStatus.PENDING, f"connect: {exc}")] * len(mails)
        results: list[tuple[OutboundMailStatus, str | None]] = []
        try:
            for mail in mails:
                message = build_message(mail, domain=self.settings.mail_domain, now=now)
                try:
                    await client.send_message(message)
                    results.append((OutboundMailStatus.SENT, None))
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    refusal = exc.recipients[0] if exc.recipients else None
                    code = refusal.code if refusal is not None else 550
                    results.append(_answer(code, str(refusal or exc)))
                except aiosmtplib.SMTPResponseException as exc:
                    results.append(_answer(exc.code, f"{exc.code} {exc.message}"))
                except (aiosmtplib.SMTPException, OSError) as exc:
                    results.append((OutboundMailStatus.PENDING, str(exc)))
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
        results += [(OutboundMailStatus.PENDING, "not attempted")] * (len(mails) - len(results))
        return results

    async def run(self) -> None:
        while True:
            delay: float | None = self.interval
            try:
                self._dirty.clear()  # before reading: a change committed meanwhile wakes us again
                planned = await self.plan_once()
                sent = await self.send_once()
                # A page of events that called for no mail is no reason to sleep: read on.
                if planned or sent or self._more:
                    continue
                if self._hub is not None:
                    delay = await self._next_delay()
            except Exception:
                log.exception("outbound mail round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), delay)

    async def _next_delay(self) -> float | None:
        """Seconds until the earliest retry is due (None: nothing pending, sleep until woken)."""
        if self._held_back:
            return _HELD_BACK_RETRY
        if self.smtp is None:
            return None
        async with self.sessionmaker() as session:
            due = await earliest_pending(session)
        return None if due is None else max((due - self.clock()).total_seconds(), 0.05)

    def _on_events(self, rows: Sequence[EventRow]) -> None:
        # Runs in the hub's pump: only set a flag.
        if any(row.kind in _MAILED_KINDS for row in rows):
            self._dirty.set()

    async def __aenter__(self) -> MailWorker:
        if self._hub is not None:
            self._unhook = self._hub.on_events(self._on_events)
        self._task = asyncio.create_task(self.run(), name="casegraph-mail-worker")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _answer(code: int, text: str) -> tuple[OutboundMailStatus, str | None]:
    """5xx: permanent (FAILED, the answer kept); anything else is worth another try."""
    return (OutboundMailStatus.FAILED if code >= 500 else OutboundMailStatus.PENDING, text)
