"""The intake server on a real socket: 550 for an unknown or inactive mailbox, 552 above the size
limit, 250 once the message's effects are committed (the reply names them)."""

from __future__ import annotations

import asyncio
import smtplib

import aiosmtplib
import pytest
from sqlalchemy import text

from tests.mail.conftest import BILLING, JANE, MailWorld, message

CLOSED = "closed@casegraph.example"  # a mailbox that is no longer active


async def test_smtp_delivery_answers_after_commit(mail_world: MailWorld, intake: int) -> None:
    msg = message(subject="Please send a statement")

    def send() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", intake, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail(JANE)
            smtp.rcpt(BILLING)
            return smtp.data(msg.as_bytes())

    code, reply = await asyncio.to_thread(send)
    assert code == 250
    number = reply.decode().split()[-1]
    assert reply.decode().startswith("2.0.0 created SR-")
    # Committed before the 250: visible to any other session right away.
    row = await mail_world.one("SELECT channel FROM service_requests WHERE number = :n", n=number)
    assert row.channel == "EMAIL"


async def test_unknown_recipient_550_and_oversize_552(mail_world: MailWorld, intake: int) -> None:
    async with mail_world.sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO mailboxes (address, name, default_type, active)"
                " VALUES (:a, 'Closed', 'GENERAL_INQUIRY', false)"
            ),
            {"a": CLOSED},
        )
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=intake, timeout=30)
    await client.connect()
    await client.mail(JANE)
    for address in ("nobody@casegraph.example", CLOSED, CLOSED.upper()):
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await client.rcpt(address)
        assert refused.value.code == 550
    assert (await client.rcpt(BILLING.upper()))[0] == 250  # addresses compare case-insensitively
    await client.rset()
    big = message(body="x" * (70 * 1024)).as_bytes()  # the fixture's limit is 64 KiB
    with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:
        await client.sendmail(JANE, [BILLING], big)
    assert too_big.value.code == 552
    await client.quit()
    assert (await mail_world.one("SELECT count(*) FROM inbound_mails"))[0] == 0
