"""Replies on requests in every state (EMAIL.md 2), forwarded mail, LMTP, and `casegraph mail-import`."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mail.intake import IntakeLimits
from mail.smtp import IntakeHandler, start_intake_server
from server import cli
from tests.mail.conftest import JANE, SERVICE, MailWorld, message
from tests.support.builders import Builder


async def _request(
    engine: AsyncEngine, mail_world: MailWorld, status: str, resolved_days_ago: int = 1
) -> str:
    jane = await mail_world.one("SELECT id FROM contacts WHERE email = :e", e=JANE)
    now = mail_world.clock()
    row = await Builder(engine, now=now).request(
        customer=mail_world.world.acme,
        type="GENERAL_INQUIRY",
        channel="EMAIL",
        status=status,
        created_at=now - timedelta(days=resolved_days_ago, hours=2),
        resolved_at=now - timedelta(days=resolved_days_ago) if status in ("RESOLVED", "CLOSED") else None,
        requester_contact_id=jane.id,
    )
    return row.number


async def test_reply_reopens_a_resolved_request_within_the_window(
    engine: AsyncEngine, mail_world: MailWorld
) -> None:
    number = await _request(engine, mail_world, "RESOLVED")
    outcome = await mail_world.deliver(message(to=SERVICE, subject=f"Re: [{number}]", body="Still wrong."))
    assert str(outcome) == f"commented {number}"
    row = await mail_world.one(
        "SELECT status, reopened_count FROM service_requests WHERE number = :n", n=number
    )
    assert (row.status, row.reopened_count) == ("IN_PROGRESS", 1)
    comment = await mail_world.one("SELECT body, channel, author_role FROM comments")
    assert tuple(comment) == ("Still wrong.", "EMAIL", "CUSTOMER")


@pytest.mark.parametrize(("status", "days"), [("RESOLVED", 30), ("CLOSED", 1)])
async def test_reply_to_a_finished_request_starts_a_follow_up(
    engine: AsyncEngine, mail_world: MailWorld, status: str, days: int
) -> None:
    number = await _request(engine, mail_world, status, resolved_days_ago=days)
    outcome = await mail_world.deliver(
        message(to=SERVICE, subject=f"Re: [{number}]", body="It happened again.")
    )
    assert outcome.verb == "created" and outcome.detail != number
    new = await mail_world.one(
        "SELECT description, channel FROM service_requests WHERE number = :n", n=outcome.detail
    )
    assert number in new.description and new.channel == "EMAIL"
    old = await mail_world.one("SELECT status FROM service_requests WHERE number = :n", n=number)
    assert old.status == status


async def test_reply_from_another_active_contact_of_the_customer(
    engine: AsyncEngine, mail_world: MailWorld
) -> None:
    async with engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(
            text("INSERT INTO contacts (email, name, customer_id) VALUES ('cfo@acme.example', 'CFO', :c)"),
            {"c": mail_world.world.acme.id},
        )
    number = await _request(engine, mail_world, "IN_PROGRESS")
    outcome = await mail_world.deliver(
        message(sender="CFO@Acme.example", to=SERVICE, subject=f"[{number}] cc")
    )
    assert str(outcome) == f"commented {number}"
    assert (await mail_world.one("SELECT author_name FROM comments")).author_name == "CFO"


async def test_forwarded_message_is_kept_as_an_attachment(mail_world: MailWorld) -> None:
    original = message(sender="vendor@supplier.example", to=JANE, subject="Your invoice")
    fwd = EmailMessage()
    fwd["From"], fwd["To"], fwd["Subject"] = JANE, SERVICE, "Fwd: Your invoice"
    fwd["Message-ID"] = "<fwd-1@acme.example>"
    fwd.set_content("See the forwarded mail below.")
    fwd.add_attachment(original)
    outcome = await mail_world.deliver(fwd)
    assert outcome.verb == "created"
    [(content_type, size)] = await mail_world.all("SELECT content_type, size FROM attachments")
    assert content_type == "message/rfc822" and size > 100


async def test_lmtp_answers_per_recipient(mail_world: MailWorld) -> None:
    handler = IntakeHandler(mail_world.sessionmaker, clock=mail_world.clock, limits=IntakeLimits(), lmtp=True)
    server = await start_intake_server(handler, host="127.0.0.1", port=0, max_bytes=1 << 20)
    port = server.sockets[0].getsockname()[1]

    def deliver() -> tuple[int, bytes]:
        with smtplib.LMTP("127.0.0.1", port) as lmtp:
            lmtp.ehlo_or_helo_if_needed()
            lmtp.mail(JANE)
            lmtp.rcpt(SERVICE)
            return lmtp.data(message(to=SERVICE).as_bytes())

    try:
        code, reply = await asyncio.to_thread(deliver)
    finally:
        server.close()
        await server.wait_closed()
    assert code == 250 and b"created SR-" in reply


async def test_mail_import_prints_what_it_did(
    mail_world: MailWorld,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    path = tmp_path / "mail.eml"
    path.write_bytes(message(to=SERVICE, subject="From a pipe").as_bytes())
    held = tmp_path / "held.eml"
    held.write_bytes(message(sender="who@nowhere.example", to=SERVICE).as_bytes())
    bulk = tmp_path / "bulk.eml"
    bulk.write_bytes(message(to=SERVICE, Precedence="bulk").as_bytes())
    runs = [["mail-import", str(p)] for p in (path, path, held)] + [
        ["mail-import", "--sender", "", str(bulk)]
    ]
    codes = [await asyncio.to_thread(cli.main, argv) for argv in runs]
    out = capsys.readouterr().out.splitlines()
    assert codes == [0, 0, 0, 0]
    assert out[0].startswith("created SR-") and out[1].startswith("duplicate <")
    assert out[2].startswith("held ") and out[3] == "ignored precedence: bulk"
