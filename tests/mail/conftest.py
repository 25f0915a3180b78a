"""Fixtures of the email channel's tests: the lifecycle tests' organisation plus mailboxes and contacts,
the intake server on a free port, and messages built with the standard library."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import make_sessionmaker
from mail.intake import IntakeLimits, Outcome, process_message
from mail.smtp import IntakeHandler, start_intake_server
from tests.lifecycle.conftest import START, Api, Clock, World, api, api_client, clock, world  # noqa: F401

BILLING = "billing@casegraph.example"
SERVICE = "service@casegraph.example"
JANE = "ap@acme.example"  # an active contact of Acme
OLD = "old@acme.example"  # an inactive contact of Acme
OTTO = "otto@other.example"  # an active contact of Other


@dataclass
class MailWorld:
    world: World
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock

    async def deliver(self, message: EmailMessage | bytes, **kwargs: Any) -> Outcome:
        raw = message if isinstance(message, bytes) else message.as_bytes()
        kwargs.setdefault("limits", IntakeLimits(max_attachment_bytes=1000))
        return await process_message(self.sessionmaker, raw, clock=self.clock, **kwargs)

    async def one(self, sql: str, **params: Any) -> Any:
        async with self.sessionmaker() as s:
            return (await s.execute(text(sql), params)).one()

    async def all(self, sql: str, **params: Any) -> list[Any]:
        async with self.sessionmaker() as s:
            return list((await s.execute(text(sql), params)).all())


@pytest.fixture
async def mail_world(engine: AsyncEngine, world: World, clock: Clock) -> MailWorld:  # noqa: F811
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO mailboxes (address, name, team_id, default_type) VALUES "
                "(:b, 'Acme Billing', :t, 'BILLING_DISPUTE'), (:s, 'Service', NULL, 'GENERAL_INQUIRY')"
            ),
            {"b": BILLING, "s": SERVICE, "t": world.billing.id},
        )
        await conn.execute(
            text(
                "INSERT INTO contacts (email, name, customer_id, active) VALUES "
                "(:jane, 'Jane Roe', :acme, true), (:old, 'Old Contact', :acme, false), "
                "(:otto, 'Otto', :other, true)"
            ),
            {"jane": JANE, "old": OLD, "otto": OTTO, "acme": world.acme.id, "other": world.other.id},
        )
    return MailWorld(world, make_sessionmaker(engine), clock)


def message(
    *,
    sender: str = JANE,
    to: str = BILLING,
    subject: str = "Invoice question",
    body: str = "Hello, please check.",
    html: str | None = None,
    **headers: str,
) -> EmailMessage:
    """A real RFC 5322 message (multipart/alternative when `html` is given)."""
    msg = EmailMessage()
    msg["From"] = f"Sender <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(START)
    msg["Message-ID"] = make_msgid(domain="acme.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


@pytest.fixture
async def intake(mail_world: MailWorld) -> AsyncIterator[int]:
    """The SMTP intake server on a free loopback port (in this test's loop); yields the port."""
    handler = IntakeHandler(mail_world.sessionmaker, clock=mail_world.clock, limits=IntakeLimits(1000))
    server = await start_intake_server(handler, host="127.0.0.1", port=0, max_bytes=64 * 1024)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@dataclass
class Sink:
    """An SMTP server that keeps what it is sent; `refuse` maps a recipient to the answer it gets."""

    received: list[tuple[str, list[str], bytes]]
    refuse: dict[str, str]
    port: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    """An aiosmtpd server on a free loopback port capturing outbound mail."""
    import asyncio

    from aiosmtpd.smtp import SMTP

    captured = Sink(received=[], refuse={})
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(captured, hostname="sink"), host="127.0.0.1", port=0
    )
    captured.port = server.sockets[0].getsockname()[1]
    yield captured
    server.close()
    await server.wait_closed()
