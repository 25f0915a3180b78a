"""What one received message does (EMAIL.md), in one transaction: `process_message`.

The message is stored first (unique by Message-ID: a second delivery finds it
and does nothing), then the rules run in EMAIL.md's order: loop/bulk/bounce,
reply to a request, new request from a known contact, held. Everything it
causes commits together; only then does the caller (SMTP server, mail-import)
answer. A DomainError from a service (e.g. a request the contact may not see)
turns the mail into held mail with the refusal as its reason, in a fresh
transaction, so no mail is lost and none is half-applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.events import Publisher
from db.repositories.mail import (
    active_mailbox,
    contact_by_email,
    insert_attachments,
    insert_inbound,
    mark_bouncing,
    request_by_number,
    request_customer_id,
    request_of_thread,
    update_inbound,
)
from db.uow import ChangeActor, UnitOfWork
from domain.enums import InboundMailStatus
from domain.errors import DomainError
from domain.lifecycle import TransitionForbidden
from domain.mail import dmarc_failed, loop_reason, request_number_in
from mail.parse import ParsedMail, parse_message, strip_quoted
from records.mail import ContactRow, InboundMailRow
from services.mail.inbound import contact_author, create_from_mail, reply_by_mail

__all__ = ["IntakeLimits", "Outcome", "process_message"]

log = logging.getLogger("casegraph.mail")


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    max_attachment_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened: `created`/`commented` (number), `held` (id), `ignored` (reason), `duplicate`."""

    verb: str
    detail: str

    def __str__(self) -> str:
        return f"{self.verb} {self.detail}"


async def process_message(
    sessionmaker: async_sessionmaker[AsyncSession],
    raw: bytes,
    *,
    clock: Callable[[], datetime],
    envelope_from: str | None = None,
    recipients: Sequence[str] = (),
    publisher: Publisher | None = None,
    limits: IntakeLimits = IntakeLimits(),
) -> Outcome:
    """Parse, store and act on one message; returns once everything it caused is committed."""
    mail = parse_message(raw, envelope_from=envelope_from)
    try:
        async with UnitOfWork(
            sessionmaker, actor=ChangeActor.system(), now=clock(), publisher=publisher
        ) as uow:
            outcome = await _process(uow, mail, raw, recipients, limits)
            await uow.commit()
            return outcome
    except (DomainError, TransitionForbidden) as error:
        reason = error.message if isinstance(error, DomainError) else "the sender may not act on that request"
        async with UnitOfWork(
            sessionmaker, actor=ChangeActor.system(), now=clock(), publisher=publisher
        ) as uow:
            outcome = await _process(uow, mail, raw, recipients, limits, hold=f"refused: {reason}")
            await uow.commit()
            return outcome


async def _process(
    uow: UnitOfWork,
    mail: ParsedMail,
    raw: bytes,
    recipients: Sequence[str],
    limits: IntakeLimits,
    hold: str | None = None,
) -> Outcome:
    session = uow.session
    addresses = [a.lower() for a in recipients] or mail.to
    mailbox = await active_mailbox(session, addresses=addresses)
    values: dict[str, Any] = {
        "message_id": mail.message_id,
        "mailbox_id": None if mailbox is None else mailbox.id,
        "from_address": mail.sender[:320],
        "to_addresses": addresses,
        "subject": mail.subject,
        "received_at": uow.now,
        "status": InboundMailStatus.UNMATCHED.value,
        "reason": None,
        "text_body": mail.text,
    }
    inbound_id = await insert_inbound(session, values={**values, "raw": raw})
    if inbound_id is None:
        return Outcome("duplicate", f"<{mail.message_id}>")
    files = [(a.filename, a.content_type, a.data) for a in mail.attachments]
    kept = [f for f in files if len(f[2]) <= limits.max_attachment_bytes]
    await insert_attachments(session, inbound_id=inbound_id, files=kept, now=uow.now)
    # The row as just written (this transaction holds it): no second read.
    inbound = InboundMailRow(id=inbound_id, request_id=None, comment_id=None, contact_id=None, **values)
    if hold is not None:
        return await _held(uow, inbound, hold)

    # 1. Loop, bulk and bounce mail: stored, never acted upon, never answered.
    reason = loop_reason(mail.facts, is_delivery_report=mail.is_delivery_report)
    if reason is not None:
        if mail.is_delivery_report:
            bounced = await mark_bouncing(session, message_ids=mail.reported_message_ids)
            if bounced:
                reason += f" (contact bouncing: {', '.join(bounced)})"
        await update_inbound(
            session, inbound_id=inbound_id, status=InboundMailStatus.IGNORED.value, reason=reason
        )
        return Outcome("ignored", reason)

    contact = await contact_by_email(session, email=mail.sender) if mail.sender else None
    active = contact if contact is not None and contact.active else None
    if dmarc_failed(mail.authentication_results):
        return await _held(uow, inbound, "Authentication-Results: dmarc=fail")

    # 2. A reply to a request: its tag in the subject, or a Message-ID of its thread.
    request_id = await _thread(session, mail)
    if request_id is not None:
        if active is None:
            return await _held(uow, inbound, _unknown(mail.sender, contact))
        if await request_customer_id(session, request_id=request_id) != active.customer_id:
            return await _held(uow, inbound, f"{mail.sender} is no contact of the request's customer")
        uow.actor = contact_author(active, uow=uow).recorded_as
        effect = await reply_by_mail(
            uow, inbound=inbound, request_id=request_id, contact=active, reply_text=strip_quoted(mail.text)
        )
        return Outcome(effect.verb, effect.request.number)

    # 3. A new request from a known contact.
    if active is not None:
        author = contact_author(active, uow=uow)
        uow.actor = author.recorded_as
        effect = await create_from_mail(
            uow, inbound=inbound, customer_id=active.customer_id, requester=active, author=author
        )
        return Outcome(effect.verb, effect.request.number)

    # 4. Anyone else: held for staff.
    return await _held(uow, inbound, _unknown(mail.sender, contact))


def _unknown(sender: str, contact: ContactRow | None) -> str:
    if contact is None:
        return f"unknown sender {sender or '(none)'}"
    return f"{sender} is an inactive contact"


async def _thread(session: AsyncSession, mail: ParsedMail) -> int | None:
    number = request_number_in(mail.subject)
    if number is not None:
        found = await request_by_number(session, number=number)
        if found is not None:
            return found
    return await request_of_thread(session, message_ids=[*mail.references, *mail.in_reply_to])


async def _held(uow: UnitOfWork, inbound: InboundMailRow, reason: str) -> Outcome:
    await update_inbound(
        uow.session, inbound_id=inbound.id, status=InboundMailStatus.UNMATCHED.value, reason=reason
    )
    return Outcome("held", str(inbound.id))
