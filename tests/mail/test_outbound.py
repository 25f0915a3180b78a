"""Outbound mail through the outbox: who gets what, the headers of a thread, retries, SKIPPED, bounces,
and the whole round trip (mail in, acknowledgement out, reply by In-Reply-To, staff answer out)."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from mail.sender import MailWorker, SmtpTarget
from services.mail.outbound import MailSettings
from tests.lifecycle.conftest import Api
from tests.mail.conftest import BILLING, JANE, SERVICE, MailWorld, Sink, message
from tests.support.builders import gid

DOMAIN = "casegraph.example"


def worker(mail_world: MailWorld, sink: Sink | None) -> MailWorker:
    smtp = None if sink is None else SmtpTarget("127.0.0.1", sink.port, None, None, False, False)
    settings = MailSettings(mail_from=f"casegraph@{DOMAIN}", mail_domain=DOMAIN, deliver=sink is not None)
    return MailWorker(mail_world.sessionmaker, clock=mail_world.clock, settings=settings, smtp=smtp)


def parsed(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


async def request_gid(mail_world: MailWorld, number: str) -> tuple[str, int]:
    row = await mail_world.one("SELECT id, version FROM service_requests WHERE number = :n", n=number)
    from schema import ids

    return ids.encode("ServiceRequest", row.id), row.version


async def test_round_trip_acknowledgement_reply_and_staff_answer(
    mail_world: MailWorld, sink: Sink, api: Api
) -> None:
    w = worker(mail_world, sink)
    created = await mail_world.deliver(message(subject="Statement for November"))
    assert await w.plan_once() == 1
    assert await w.send_once() == 1
    [(_, rcpt, raw)] = sink.received
    ack = parsed(raw)
    assert rcpt == [JANE]
    assert ack["Subject"] == f"[{created.detail}] Statement for November"
    assert ack["From"].addresses[0].addr_spec == BILLING
    assert ack["Auto-Submitted"] == "auto-replied" and ack["X-Casegraph-Loop"] == DOMAIN
    assert ack["Message-ID"].endswith(f"@{DOMAIN}>")
    assert ack["In-Reply-To"] is not None  # continues the customer's own message
    text_part, html_part = ack.get_body(("plain",)), ack.get_body(("html",))
    assert text_part is not None and html_part is not None
    assert created.detail in text_part.get_content() and created.detail in html_part.get_content()

    # The customer answers the acknowledgement without the tag: threaded by In-Reply-To.
    reply = message(subject="Re: your mail", body="Also the October one, please.")
    reply["In-Reply-To"] = ack["Message-ID"]
    assert str(await mail_world.deliver(reply)) == f"commented {created.detail}"

    # The customer's own comment is not mailed back; a staff PUBLIC comment is, INTERNAL never.
    request_id, _ = await request_gid(mail_world, created.detail)
    for visibility, body in (("INTERNAL", "check ledger"), ("PUBLIC", "Both statements are attached.")):
        payload = await api.mutate(
            "ana@example.com",
            "addComment",
            {"serviceRequestId": request_id, "body": body, "visibility": visibility},
        )
        assert payload["userErrors"] == []
    assert await w.plan_once() == 1
    assert await w.send_once() == 1
    answer = parsed(sink.received[-1][2])
    assert "Both statements are attached." in answer.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert answer["In-Reply-To"] == reply["Message-ID"] or answer["In-Reply-To"] is not None
    assert ack["Message-ID"] in answer["References"]
    assert "Auto-Submitted" not in answer
    statuses = await mail_world.all("SELECT kind, status, attempts FROM outbound_mails ORDER BY id")
    assert [tuple(s) for s in statuses] == [("ACKNOWLEDGEMENT", "SENT", 1), ("COMMENT", "SENT", 1)]


async def test_waiting_on_customer_is_one_mail_with_the_message(
    mail_world: MailWorld, sink: Sink, api: Api
) -> None:
    w = worker(mail_world, sink)
    created = await mail_world.deliver(message(to=SERVICE, subject="Address change"))
    request_id, version = await request_gid(mail_world, created.detail)
    request: dict[str, Any] = {"id": request_id, "version": version}
    request = await api.act("sup@example.com", "triageServiceRequest", request)
    request = await api.act(
        "sup@example.com",
        "assignServiceRequest",
        request,
        assigneeId=gid(mail_world.world.ana),
        teamId=gid(mail_world.world.billing),
    )
    request = await api.act("ana@example.com", "startWork", request)
    await api.act("ana@example.com", "requestCustomerInfo", request, message="Please send the new VAT id.")
    await w.plan_once()
    await w.send_once()
    kinds = await mail_world.all("SELECT kind FROM outbound_mails ORDER BY id")
    assert [k.kind for k in kinds] == ["ACKNOWLEDGEMENT", "WAITING_ON_CUSTOMER"]
    waiting = parsed(sink.received[-1][2])
    assert "Please send the new VAT id." in waiting.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # The answer by mail takes the PROVIDE_CUSTOMER_INFO transition.
    await mail_world.deliver(message(to=SERVICE, subject=f"Re: [{created.detail}]", body="DE123456789"))
    status = await mail_world.one("SELECT status FROM service_requests WHERE number = :n", n=created.detail)
    assert status.status == "IN_PROGRESS"


async def test_unset_smtp_records_skipped(mail_world: MailWorld) -> None:
    w = worker(mail_world, None)
    await mail_world.deliver(message(to=SERVICE))
    assert await w.plan_once() == 1
    assert await w.send_once() == 0
    row = await mail_world.one("SELECT status, attempts, recipient FROM outbound_mails")
    assert tuple(row) == ("SKIPPED", 0, JANE)


async def test_permanent_failure_kept_transient_retried_later(mail_world: MailWorld, sink: Sink) -> None:
    w = worker(mail_world, sink)
    sink.refuse[JANE] = "550 5.1.1 mailbox unavailable"
    await mail_world.deliver(message(to=SERVICE, subject="one"))
    await w.plan_once()
    await w.send_once()
    row = await mail_world.one("SELECT status, attempts, last_error FROM outbound_mails")
    assert (row.status, row.attempts) == ("FAILED", 1) and "mailbox unavailable" in row.last_error

    sink.refuse[JANE] = "451 4.3.0 try later"
    await mail_world.deliver(message(to=SERVICE, subject="two"))
    await w.plan_once()
    await w.send_once()
    row = await mail_world.one(
        "SELECT status, attempts, next_attempt_at FROM outbound_mails ORDER BY id DESC LIMIT 1"
    )
    assert (row.status, row.attempts) == ("PENDING", 1)
    assert row.next_attempt_at > mail_world.clock()
    assert await w.send_once() == 0  # not due yet
    del sink.refuse[JANE]
    mail_world.clock.advance(minutes=1)
    assert await w.send_once() == 1
    assert len(sink.received) == 1


async def test_bounce_of_our_mail_marks_the_contact_and_stops_mail(mail_world: MailWorld, sink: Sink) -> None:
    w = worker(mail_world, sink)
    created = await mail_world.deliver(message(to=SERVICE))
    await w.plan_once()
    await w.send_once()
    sent = parsed(sink.received[0][2])
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\r\n"
        f"To: {SERVICE}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.acme.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.acme.example\r\n\r\nFinal-Recipient: rfc822; {JANE}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {sent['Message-ID']}\r\nTo: {JANE}\r\n\r\n"
        "--B--\r\n"
    ).encode()
    outcome = await mail_world.deliver(dsn, envelope_from="")
    assert outcome.verb == "ignored" and JANE in outcome.detail
    assert (await mail_world.one("SELECT bouncing FROM contacts WHERE email = :e", e=JANE)).bouncing
    # Later mail for that requester is not sent (nor recorded).
    await mail_world.deliver(message(to=SERVICE, subject=f"Re: [{created.detail}]", body="more"))
    assert (await mail_world.one("SELECT count(*) FROM outbound_mails"))[0] == 1


async def test_resolved_and_closed_are_mailed_inactive_requesters_never(
    mail_world: MailWorld, sink: Sink, api: Api
) -> None:
    w = worker(mail_world, sink)
    created = await mail_world.deliver(message(to=SERVICE, subject="Refund status"))
    request_id, version = await request_gid(mail_world, created.detail)
    request: dict[str, Any] = {"id": request_id, "version": version}
    request = await api.act("sup@example.com", "triageServiceRequest", request)
    request = await api.act(
        "sup@example.com",
        "assignServiceRequest",
        request,
        assigneeId=gid(mail_world.world.ana),
        teamId=gid(mail_world.world.billing),
    )
    request = await api.act("ana@example.com", "startWork", request)
    request = await api.act(
        "ana@example.com", "resolveServiceRequest", request, code="NO_ADJUSTMENT_NEEDED", summary="Refunded."
    )
    await api.act("ana@example.com", "closeServiceRequest", request, message="Closing as agreed.")
    await w.plan_once()
    await w.send_once()
    kinds = [k.kind for k in await mail_world.all("SELECT kind FROM outbound_mails ORDER BY id")]
    assert kinds == ["ACKNOWLEDGEMENT", "RESOLVED", "CLOSED"]
    closed = parsed(sink.received[-1][2])
    assert "Closing as agreed." in closed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert closed["Subject"].startswith(f"[{created.detail}]")

    # A held mail linked without making its sender a contact: the requester is inactive, no mail.
    held = await mail_world.deliver(message(sender="someone@else.example", to=SERVICE, subject="Hi"))
    from schema import ids

    linked = await api.query(
        "ana@example.com",
        """mutation($input: LinkInboundMailInput!) {
          linkInboundMail(input: $input) {
            serviceRequest { number requester { email active } } userErrors { code }
          }
        }""",
        {
            "input": {
                "inboundMailId": ids.encode("InboundMail", int(held.detail)),
                "customerId": gid(mail_world.world.acme),
            }
        },
    )
    payload = linked["data"]["linkInboundMail"]
    assert payload["serviceRequest"]["requester"] == {"email": "someone@else.example", "active": False}
    assert await w.plan_once() == 0
