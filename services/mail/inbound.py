"""What a received mail does to requests (EMAIL.md "What a message does" 2-4), over one unit of work.

Every effect goes through the operations the mutations use: `create_request`,
`add_comment`, `perform_transition`. A contact acts as a CUSTOMER of its
customer (the same scope a CUSTOMER token of that address has); the stored
inbound mail is the input, so intake and `linkInboundMail` share one path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from auth.principal import Principal
from db.repositories.mail import customer_invoices, mailbox_by_id, processed_inbound
from db.repositories.requests import lock_request
from db.uow import UnitOfWork
from domain.capture import MoneyInput
from domain.enums import (
    Channel,
    CommentVisibility,
    RequestStatus,
    RequestType,
    Role,
    TransitionAction,
)
from domain.errors import DomainError, UserErrorCode, not_found
from domain.mail import DESCRIPTION_MAX, NO_SUBJECT, SUBJECT_MAX, amounts_in, invoice_numbers_in
from records.mail import ContactRow, InboundMailRow, MailboxRow
from records.rows import RequestRow
from services.author import Author
from services.requests.comments import add_comment
from services.requests.create import CreateSpec, create_request
from services.requests.transitions import TransitionSpec, perform_transition

__all__ = ["Known", "MailEffect", "contact_author", "create_from_mail", "intake_author", "reply_by_mail"]

# The scopes a CUSTOMER token carries (ACCESS.md): a contact acting by mail has no more.
_CUSTOMER_SCOPES = frozenset({"requests:read", "requests:write", "customers:read"})


@dataclass(frozen=True, slots=True)
class MailEffect:
    """What a mail did: `created` or `commented`, on which request."""

    verb: str
    request: RequestRow
    comment_id: int | None = None


@dataclass(frozen=True, slots=True)
class Known:
    """What the intake read with the stored message (db.repositories.mail.receive_inbound): the
    mailbox it came through and the invoices of the contact's customer its text names."""

    mailbox: MailboxRow | None
    invoices: list[tuple[int, str, str]]


def contact_author(contact: ContactRow, *, uow: UnitOfWork) -> Author:
    """A contact acting by mail: a CUSTOMER of its customer, named as the contact."""
    principal = Principal(
        subject=contact.email,
        roles=frozenset({Role.CUSTOMER}),
        scopes=_CUSTOMER_SCOPES,
        expires_at=uow.now + timedelta(minutes=5),
        name=contact.name or contact.email,
        customer_id=contact.customer_id,
        customer_ids=frozenset({contact.customer_id}),
    )
    return Author.of(principal)


def intake_author() -> Author:
    """The mail intake itself, writing the INTERNAL triage note of a request it could not type."""
    return Author("mail-intake", "Mail intake", Role.AGENT, None, None)


async def _detect(
    uow: UnitOfWork, *, customer_id: int, text: str, known: Known | None
) -> tuple[int | None, MoneyInput | None]:
    """The customer's invoice the text names, and the one amount in its currency (EMAIL.md 3)."""
    invoices = (
        known.invoices
        if known is not None
        else await customer_invoices(uow.session, customer_id=customer_id, mentioned_in=text)
    )
    by_number = {number: (invoice_id, currency) for invoice_id, number, currency in invoices}
    named = invoice_numbers_in(text, by_number)
    if not named:
        return None, None
    invoice_id, currency = by_number[named[0]]
    amounts = amounts_in(text, currency)
    impact = MoneyInput(str(amounts[0]), currency) if len(amounts) == 1 else None
    return invoice_id, impact


async def create_from_mail(
    uow: UnitOfWork,
    *,
    inbound: InboundMailRow,
    customer_id: int,
    requester: ContactRow | None,
    author: Author,
    follow_up_of: str | None = None,
    known: Known | None = None,
) -> MailEffect:
    """A new request from a stored mail (EMAIL.md 3): the mailbox's type, else GENERAL_INQUIRY + a note.

    `known`: the mailbox and invoices the intake read already (None: read them here), for a
    contact of `customer_id`.
    """
    if known is not None:
        mailbox = known.mailbox
    elif inbound.mailbox_id is not None:
        mailbox = await mailbox_by_id(uow.session, mailbox_id=inbound.mailbox_id)
    else:
        mailbox = None
    subject = (inbound.subject or NO_SUBJECT)[:SUBJECT_MAX]
    description = inbound.text_body.strip() or subject
    if follow_up_of is not None:
        description = f"Follow-up to {follow_up_of}.\n\n{description}"
    description = description[:DESCRIPTION_MAX]
    invoice_id, impact = await _detect(
        uow, customer_id=customer_id, text=f"{inbound.subject}\n{inbound.text_body}", known=known
    )
    wanted = RequestType(mailbox.default_type) if mailbox is not None else RequestType.GENERAL_INQUIRY
    spec = CreateSpec(
        customer_id=customer_id,
        type=wanted,
        channel=Channel.EMAIL,
        subject=subject,
        description=description,
        priority=None,
        invoice_id=invoice_id,
        payment_id=None,
        financial_impact=impact,
        requester_contact_id=None if requester is None else requester.id,
        mailbox_id=None if mailbox is None else mailbox.id,
    )
    refusal: DomainError | None = None
    try:
        created = await create_request(uow, spec=spec, author=author)
    except DomainError as error:
        if wanted is RequestType.GENERAL_INQUIRY or error.code is UserErrorCode.NOT_FOUND:
            raise
        # Validation runs before any write: the same transaction can try again as an inquiry.
        refusal = error
        fallback = replace(spec, type=RequestType.GENERAL_INQUIRY, financial_impact=None)
        created = await create_request(uow, spec=fallback, author=author)
    row = created.row
    if refusal is not None:
        note = (
            f"Received by mail for {wanted.value}, created as GENERAL_INQUIRY for triage: "
            f"{refusal.message} ({'.'.join(refusal.field or ())})."
        )
        row, _ = await add_comment(
            uow,
            request_id=row.id,
            body=note,
            visibility=CommentVisibility.INTERNAL,
            author=intake_author(),
            channel=Channel.EMAIL,
        )
    await _processed(uow, inbound, row.id, None, requester)
    return MailEffect("created", row)


async def reply_by_mail(
    uow: UnitOfWork,
    *,
    inbound: InboundMailRow,
    request_id: int,
    contact: ContactRow,
    reply_text: str,
    known: Known | None = None,
) -> MailEffect:
    """A contact's reply on a request (EMAIL.md 2): comment, PROVIDE_INFO, REOPEN, or a follow-up request."""
    author = contact_author(contact, uow=uow)
    row = await lock_request(uow.session, request_id=request_id, scope=author.scope)
    if row is None:
        raise not_found("service request", "id")
    body = (reply_text.strip() or inbound.subject or NO_SUBJECT)[:DESCRIPTION_MAX]
    status = RequestStatus(row.status)
    action = {
        RequestStatus.WAITING_ON_CUSTOMER: TransitionAction.PROVIDE_CUSTOMER_INFO,
        RequestStatus.RESOLVED: TransitionAction.REOPEN,
    }.get(status)
    if status in (RequestStatus.CLOSED, RequestStatus.CANCELLED):
        return await create_from_mail(
            uow,
            inbound=inbound,
            customer_id=row.customer_id,
            requester=contact,
            author=author,
            follow_up_of=row.number,
            known=known,
        )
    if action is not None:
        spec = TransitionSpec(action=action, expected_version=None, message=body, channel=Channel.EMAIL)
        try:
            written, comment_ids = await perform_transition(
                uow, request_id=row.id, spec=spec, author=author, locked=row
            )
        except DomainError:
            if action is not TransitionAction.REOPEN:
                raise
            # Past the reopen window: the answer starts a new request naming the old one.
            return await create_from_mail(
                uow,
                inbound=inbound,
                customer_id=row.customer_id,
                requester=contact,
                author=author,
                follow_up_of=row.number,
                known=known,
            )
        comment_id = comment_ids[0] if comment_ids else None
    else:
        written, comment_id = await add_comment(
            uow,
            request_id=row.id,
            body=body,
            visibility=CommentVisibility.PUBLIC,
            author=author,
            channel=Channel.EMAIL,
            locked=row,
        )
    await _processed(uow, inbound, written.id, comment_id, contact)
    return MailEffect("commented", written, comment_id)


async def _processed(
    uow: UnitOfWork,
    inbound: InboundMailRow,
    request_id: int,
    comment_id: int | None,
    contact: ContactRow | None,
) -> None:
    await processed_inbound(
        uow.session,
        inbound_id=inbound.id,
        request_id=request_id,
        comment_id=comment_id,
        contact_id=None if contact is None else contact.id,
    )
