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
from db.repositories.mail import mark_bouncing, receive_inbound, update_inbound
from db.uow import ChangeActor, UnitOfWork
from domain.enums import InboundMailStatus
from domain.errors import DomainError
from domain.lifecycle import TransitionForbidden
from domain.mail import dmarc_failed, loop_reason, request_number_in
from mail.parse import ParsedMail, parse_message, strip_quoted
from records.mail import ContactRow, InboundMailRow
from services.mail.inbound import Known, contact_author, create_from_mail, reply_by_mail

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
    values: dict[str, Any] = {
        "message_id": mail.message_id,
        "from_address": mail.sender[:320],
        "subject": mail.subject,
        "received_at": uow.now,
        "status": InboundMailStatus.UNMATCHED.value,
        "reason": None,
        "text_body": mail.text,
    }
    files = [(a.filename, a.content_type, a.data) for a in mail.attachments]
    kept = [f for f in files if len(f[2]) <= limits.max_attachment_bytes]
    # Stored (with the attachments) and looked up (mailbox, contact, thread, invoices) in one round trip.
    found = await receive_inbound(
        session,
        values={**values, "raw": raw},
        addresses=addresses,
        files=kept,
        sender=mail.sender,
        request_number=request_number_in(mail.subject),
        thread_ids=[*mail.references, *mail.in_reply_to],
    )
    if found.inbound_id is None:
        return Outcome("duplicate", f"<{mail.message_id}>")
    # The row as just written (this transaction holds it): no second read.
    inbound = InboundMailRow(
        id=found.inbound_id,
        mailbox_id=None if found.mailbox is None else found.mailbox.id,
        to_addresses=addresses,
        request_id=None,
        comment_id=None,
        contact_id=None,
        **values,
    )
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
            session, inbound_id=inbound.id, status=InboundMailStatus.IGNORED.value, reason=reason
        )
        return Outcome("ignored", reason)

    contact = found.contact if mail.sender else None
    active = contact if contact is not None and contact.active else None
    if dmarc_failed(mail.authentication_results):
        return await _held(uow, inbound, "Authentication-Results: dmarc=fail")
    known = Known(mailbox=found.mailbox, invoices=found.invoices)

    # 2. A reply to a request: its tag in the subject, or a Message-ID of its thread.
    if found.request_id is not None:
        if active is None:
            return await _held(uow, inbound, _unknown(mail.sender, contact))
        if found.request_customer_id != active.customer_id:
            return await _held(uow, inbound, f"{mail.sender} is no contact of the request's customer")
        uow.actor = contact_author(active, uow=uow).recorded_as
        effect = await reply_by_mail(
            uow,
            inbound=inbound,
            request_id=found.request_id,
            contact=active,
            reply_text=strip_quoted(mail.text),
            known=known,
        )
        return Outcome(effect.verb, effect.request.number)

    # 3. A new request from a known contact.
    if active is not None:
        author = contact_author(active, uow=uow)
        uow.actor = author.recorded_as
        effect = await create_from_mail(
            uow,
            inbound=inbound,
            customer_id=active.customer_id,
            requester=active,
            author=author,
            known=known,
        )
        return Outcome(effect.verb, effect.request.number)

    # 4. Anyone else: held for staff.
    return await _held(uow, inbound, _unknown(mail.sender, contact))


def _unknown(sender: str, contact: ContactRow | None) -> str:
    if contact is None:
        return f"unknown sender {sender or '(none)'}"
    return f"{sender} is an inactive contact"


async def _held(uow: UnitOfWork, inbound: InboundMailRow, reason: str) -> Outcome:
    await update_inbound(
        uow.session, inbound_id=inbound.id, status=InboundMailStatus.UNMATCHED.value, reason=reason
    )
    return Outcome("held", str(inbound.id))
