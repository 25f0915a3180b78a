"""The email channel's rows: mailboxes, contacts, inbound and outbound mail, attachments (keyword-only).

Nothing here commits; every function runs in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.tables import (
    ATTACHMENTS,
    CONTACTS,
    INBOUND_MAILS,
    INVOICES,
    MAIL_CURSORS,
    MAILBOXES,
    OUTBOUND_MAILS,
    REQUESTS,
    columns,
)
from domain.enums import OutboundMailStatus
from records.events import Cursor
from records.mail import ContactRow, InboundMailRow, MailboxRow, OutboundMailRow

__all__ = [
    "Received",
    "active_mailbox",
    "claim_due_mails",
    "contact_by_email",
    "contact_by_id",
    "customer_invoices",
    "earliest_pending",
    "insert_attachments",
    "insert_contact",
    "insert_inbound",
    "insert_outbound",
    "link_attachments",
    "lock_inbound",
    "lock_mail_cursor",
    "mailbox_by_id",
    "mark_bouncing",
    "processed_inbound",
    "receive_inbound",
    "record_attempt",
    "request_by_number",
    "request_customer_id",
    "request_mail_facts",
    "request_of_thread",
    "requester_by_subject",
    "save_mail_cursor",
    "set_requester",
    "thread_message_ids",
    "update_inbound",
]

_OUTBOUND_CURSOR = "outbound"


async def active_mailbox(session: AsyncSession, *, addresses: Sequence[str]) -> MailboxRow | None:
    """The first of `addresses` (lower-cased) that is an active mailbox."""
    if not addresses:
        return None
    stmt = select(*columns(MAILBOXES, MailboxRow)).where(
        MAILBOXES.c.address.in_(list(addresses)), MAILBOXES.c.active
    )
    found = {row.address: MailboxRow.of(row._mapping) for row in (await session.execute(stmt)).all()}
    return next((found[a] for a in addresses if a in found), None)


async def mailbox_by_id(session: AsyncSession, *, mailbox_id: int) -> MailboxRow | None:
    stmt = select(*columns(MAILBOXES, MailboxRow)).where(MAILBOXES.c.id == mailbox_id)
    row = (await session.execute(stmt)).mappings().one_or_none()
    return None if row is None else MailboxRow.of(row)


async def contact_by_email(session: AsyncSession, *, email: str) -> ContactRow | None:
    stmt = select(*columns(CONTACTS, ContactRow)).where(CONTACTS.c.email == email.lower())
    row = (await session.execute(stmt)).mappings().one_or_none()
    return None if row is None else ContactRow.of(row)


async def contact_by_id(session: AsyncSession, *, contact_id: int) -> ContactRow | None:
    stmt = select(*columns(CONTACTS, ContactRow)).where(CONTACTS.c.id == contact_id)
    row = (await session.execute(stmt)).mappings().one_or_none()
    return None if row is None else ContactRow.of(row)


async def insert_contact(
    session: AsyncSession, *, email: str, name: str | None, customer_id: int, active: bool
) -> ContactRow:
    """A new contact, or the stored one of that address made `active` for `customer_id`."""
    values = pg_insert(CONTACTS).values(
        email=email.lower(), name=name, customer_id=customer_id, active=active
    )
    stmt = values.on_conflict_do_update(
        index_elements=["email"],
        set_={"active": values.excluded.active, "customer_id": values.excluded.customer_id},
    ).returning(*columns(CONTACTS, ContactRow))
    return ContactRow.of((await session.execute(stmt)).mappings().one())


async def mark_bouncing(session: AsyncSession, *, message_ids: Sequence[str]) -> list[str]:
    """Contacts whose mail from us (by Message-ID) bounced become `bouncing`; their addresses."""
    if not message_ids:
        return []
    recipients = select(OUTBOUND_MAILS.c.recipient).where(OUTBOUND_MAILS.c.message_id.in_(list(message_ids)))
    stmt = (
        update(CONTACTS)
        .where(CONTACTS.c.email.in_(recipients.scalar_subquery()))
        .values(bouncing=True)
        .returning(CONTACTS.c.email)
    )
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True, slots=True)
class Received:
    """What storing a received message found out in the same round trip (`receive_inbound`)."""

    inbound_id: int | None  # None: a message with this Message-ID is stored already
    mailbox: MailboxRow | None  # the first recipient that is an active mailbox
    contact: ContactRow | None  # the contact of the sender's address, active or not
    request_id: int | None  # the request the message names (subject tag, else its thread)
    request_customer_id: int | None
    # (id, number, currency) of the contact's customer's invoices whose number the text contains
    invoices: list[tuple[int, str, str]]


_RECEIVE = text(
    """
    WITH mb AS (
        SELECT id, address, name, team_id, default_type, active FROM mailboxes
        WHERE address = ANY(CAST(:addresses AS text[])) AND active
        ORDER BY array_position(CAST(:addresses AS text[]), address::text) LIMIT 1
    ),
    ins AS (
        INSERT INTO inbound_mails (message_id, mailbox_id, from_address, to_addresses, subject,
                                   received_at, status, reason, text_body, raw)
        VALUES (:message_id, (SELECT id FROM mb), :from_address, CAST(:addresses AS text[]), :subject,
                :received_at, :status, :reason, :text_body, :raw)
        ON CONFLICT (message_id) DO NOTHING
        RETURNING id
    ),
    att AS (
        INSERT INTO attachments (inbound_mail_id, filename, content_type, size, data, created_at)
        SELECT ins.id, u.filename, u.content_type, octet_length(u.data), u.data, :received_at
        FROM ins, unnest(CAST(:filenames AS text[]), CAST(:content_types AS text[]), CAST(:datas AS bytea[]))
             WITH ORDINALITY AS u(filename, content_type, data, ord)
        ORDER BY u.ord
        RETURNING 1
    ),
    ct AS (SELECT id, email, name, customer_id, active, bouncing FROM contacts WHERE email = :sender),
    req AS (
        SELECT r.id, r.customer_id FROM service_requests r
        WHERE r.id = coalesce(
            (SELECT t.id FROM service_requests t WHERE t.number = :number),
            (SELECT m.request_id FROM (
                SELECT request_id, message_id FROM outbound_mails WHERE message_id = ANY(CAST(:ids AS text[]))
                UNION ALL
                SELECT request_id, message_id FROM inbound_mails
                WHERE message_id = ANY(CAST(:ids AS text[])) AND request_id IS NOT NULL
             ) m ORDER BY array_position(CAST(:ids AS text[]), m.message_id) DESC LIMIT 1)
        )
    )
    SELECT (SELECT id FROM ins) AS inbound_id, (SELECT count(*) FROM att) AS attached,
           (SELECT row_to_json(mb) FROM mb) AS mailbox, (SELECT row_to_json(ct) FROM ct) AS contact,
           (SELECT id FROM req) AS request_id, (SELECT customer_id FROM req) AS request_customer_id,
           (SELECT json_agg(json_build_array(i.id, i.number, i.currency) ORDER BY i.id) FROM invoices i
            WHERE i.customer_id = (SELECT customer_id FROM ct)
              AND strpos(lower(:subject || E'\n' || :text_body), lower(i.number)) > 0) AS invoices
    """
)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def receive_inbound(
    session: AsyncSession,
    *,
    values: Mapping[str, Any],
    addresses: Sequence[str],
    files: Sequence[tuple[str, str, bytes]],
    sender: str,
    request_number: str | None,
    thread_ids: Sequence[str],
) -> Received:
    """Store a received message (as `values`, `addresses` its recipients, lower-cased) with its
    attachments, unless its Message-ID is stored already, and read what the rules ask of it: the
    mailbox, the sender's contact, the request it names (`request_number` first, then the latest of
    `thread_ids`, the Message-IDs it answers, oldest first) and the invoices its text names. One
    round trip; a concurrent delivery of the same message waits on the unique index until the first
    transaction ends, then finds the conflict: one effect per Message-ID.
    """
    latest_first = list(dict.fromkeys(reversed(thread_ids)))  # a repeated id counts where it is last
    params = {
        **values,
        "addresses": list(addresses),
        "filenames": [f[0] for f in files],
        "content_types": [f[1] for f in files],
        "datas": [f[2] for f in files],
        "sender": sender.lower(),
        "number": request_number,
        "ids": list(reversed(latest_first)),
    }
    row = (await session.execute(_RECEIVE, params)).mappings().one()
    mailbox, contact = _json(row["mailbox"]), _json(row["contact"])
    return Received(
        inbound_id=None if row["inbound_id"] is None else int(row["inbound_id"]),
        mailbox=None if mailbox is None else MailboxRow.of(mailbox),
        contact=None if contact is None else ContactRow.of(contact),
        request_id=None if row["request_id"] is None else int(row["request_id"]),
        request_customer_id=None if row["request_customer_id"] is None else int(row["request_customer_id"]),
        invoices=[(int(i), str(n), str(c)) for i, n, c in _json(row["invoices"]) or ()],
    )


async def processed_inbound(
    session: AsyncSession,
    *,
    inbound_id: int,
    request_id: int,
    comment_id: int | None,
    contact_id: int | None,
) -> None:
    """A mail that created or commented a request: PROCESSED, linked, and its attachments the
    request's (and the comment's, for a reply); one statement."""
    params = {"inbound_id": inbound_id, "request_id": request_id, "comment_id": comment_id}
    await session.execute(_PROCESSED, {**params, "contact_id": contact_id})


_PROCESSED = text(
    """
    WITH linked AS (
        UPDATE attachments SET request_id = :request_id, comment_id = :comment_id
        WHERE inbound_mail_id = :inbound_id RETURNING 1
    )
    UPDATE inbound_mails SET status = 'PROCESSED', reason = NULL, request_id = :request_id,
           comment_id = :comment_id, contact_id = :contact_id
    WHERE id = :inbound_id
    """
).bindparams(
    bindparam("inbound_id", type_=BigInteger),
    bindparam("request_id", type_=BigInteger),
    bindparam("comment_id", type_=BigInteger),
    bindparam("contact_id", type_=BigInteger),
)


async def insert_inbound(session: AsyncSession, *, values: Mapping[str, Any]) -> int | None:
    """Store a received message; None when a message with its Message-ID is stored already.

    A concurrent delivery of the same message waits on the unique index until the first
    transaction ends, then finds the conflict: one effect per Message-ID.
    """
    stmt = (
        pg_insert(INBOUND_MAILS)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(INBOUND_MAILS.c.id)
    )
    value = (await session.execute(stmt)).scalar_one_or_none()
    return None if value is None else int(value)


async def lock_inbound(session: AsyncSession, *, inbound_id: int) -> InboundMailRow | None:
    stmt = (
        select(*columns(INBOUND_MAILS, InboundMailRow))
        .where(INBOUND_MAILS.c.id == inbound_id)
        .with_for_update()
    )
    row = (await session.execute(stmt)).mappings().one_or_none()
    return None if row is None else InboundMailRow.of(row)


async def update_inbound(session: AsyncSession, *, inbound_id: int, **values: Any) -> None:
    await session.execute(update(INBOUND_MAILS).where(INBOUND_MAILS.c.id == inbound_id).values(**values))


async def insert_attachments(
    session: AsyncSession, *, inbound_id: int, files: Iterable[tuple[str, str, bytes]], now: datetime
) -> None:
    rows = [
        {
            "inbound_mail_id": inbound_id,
            "filename": name,
            "content_type": content_type,
            "size": len(data),
            "data": data,
            "created_at": now,
        }
        for name, content_type, data in files
    ]
    if rows:
        await session.execute(insert(ATTACHMENTS), rows)


async def link_attachments(
    session: AsyncSession, *, inbound_id: int, request_id: int, comment_id: int | None
) -> None:
    """The attachments of a processed mail belong to its request (and to its comment, for a reply)."""
    await session.execute(
        update(ATTACHMENTS)
        .where(ATTACHMENTS.c.inbound_mail_id == inbound_id)
        .values(request_id=request_id, comment_id=comment_id)
    )


async def request_by_number(session: AsyncSession, *, number: str) -> int | None:
    value = (await session.execute(select(REQUESTS.c.id).where(REQUESTS.c.number == number))).scalar()
    return None if value is None else int(value)


async def request_customer_id(session: AsyncSession, *, request_id: int) -> int | None:
    stmt = select(REQUESTS.c.customer_id).where(REQUESTS.c.id == request_id)
    value = (await session.execute(stmt)).scalar()
    return None if value is None else int(value)


async def request_of_thread(session: AsyncSession, *, message_ids: Sequence[str]) -> int | None:
    """The request a mail we sent, or a mail we received, with one of these Message-IDs belongs to.

    The latest named id wins (References lists the thread oldest first).
    """
    if not message_ids:
        return None
    sql = text(
        "SELECT request_id, message_id FROM outbound_mails WHERE message_id = ANY(:ids) "
        "UNION ALL SELECT request_id, message_id FROM inbound_mails "
        "WHERE message_id = ANY(:ids) AND request_id IS NOT NULL"
    )
    found = {m: r for r, m in (await session.execute(sql, {"ids": list(message_ids)})).all()}
    for message_id in reversed(message_ids):
        if message_id in found:
            return int(found[message_id])
    return None


async def thread_message_ids(session: AsyncSession, *, request_id: int) -> list[str]:
    """The Message-IDs of a request's mail thread so far (received and sent), oldest first."""
    sql = text(
        "SELECT message_id FROM ("
        " SELECT message_id, received_at AS at, id FROM inbound_mails"
        "  WHERE request_id = :r AND status = 'PROCESSED'"
        " UNION ALL SELECT message_id, created_at, id FROM outbound_mails WHERE request_id = :r"
        ") t ORDER BY at, id"
    )
    return list((await session.execute(sql, {"r": request_id})).scalars())


async def set_requester(
    session: AsyncSession, *, request_id: int, contact_id: int | None, mailbox_id: int | None
) -> None:
    await session.execute(
        update(REQUESTS)
        .where(REQUESTS.c.id == request_id)
        .values(requester_contact_id=contact_id, mailbox_id=mailbox_id)
    )


async def requester_by_subject(
    session: AsyncSession, *, request_id: int, customer_id: int, subject: str
) -> int | None:
    """A CUSTOMER caller whose token subject is a contact of the request's customer is its requester."""
    contact = (
        select(CONTACTS.c.id)
        .where(CONTACTS.c.email == subject.lower(), CONTACTS.c.customer_id == customer_id)
        .scalar_subquery()
    )
    stmt = (
        update(REQUESTS)
        .where(REQUESTS.c.id == request_id, contact.is_not(None))
        .values(requester_contact_id=contact)
        .returning(REQUESTS.c.requester_contact_id)
    )
    value = (await session.execute(stmt)).scalar_one_or_none()
    return None if value is None else int(value)


async def customer_invoices(
    session: AsyncSession, *, customer_id: int, mentioned_in: str
) -> list[tuple[int, str, str]]:
    """(id, number, currency) of a customer's invoices whose number `mentioned_in` contains
    (ignoring case; whether it stands there as a word is domain.mail's rule)."""
    stmt = select(INVOICES.c.id, INVOICES.c.number, INVOICES.c.currency).where(
        INVOICES.c.customer_id == customer_id,
        func.strpos(func.lower(mentioned_in), func.lower(INVOICES.c.number)) > 0,
    )
    return [(int(i), str(n), str(c)) for i, n, c in (await session.execute(stmt)).all()]


async def request_mail_facts(session: AsyncSession, *, request_id: int) -> dict[str, Any] | None:
    """What an outbound mail of a request needs: number, subject, channel, requester, mailbox."""
    sql = text(
        "SELECT r.number, r.subject, r.channel, c.email, c.name AS contact_name, c.active, c.bouncing,"
        " m.address AS mailbox, m.name AS mailbox_name"
        " FROM service_requests r LEFT JOIN contacts c ON c.id = r.requester_contact_id"
        " LEFT JOIN mailboxes m ON m.id = r.mailbox_id WHERE r.id = :r"
    )
    row = (await session.execute(sql, {"r": request_id})).mappings().one_or_none()
    return None if row is None else dict(row)


async def lock_mail_cursor(session: AsyncSession) -> Cursor:
    """The planner's position, locked: one planner at a time across processes."""
    stmt = (
        select(MAIL_CURSORS.c.txid, MAIL_CURSORS.c.event_id)
        .where(MAIL_CURSORS.c.name == _OUTBOUND_CURSOR)
        .with_for_update()
    )
    txid, event_id = (await session.execute(stmt)).one()
    return Cursor(int(txid), int(event_id))


async def save_mail_cursor(session: AsyncSession, *, cursor: Cursor) -> None:
    await session.execute(
        update(MAIL_CURSORS)
        .where(MAIL_CURSORS.c.name == _OUTBOUND_CURSOR)
        .values(txid=cursor.txid, event_id=cursor.id)
    )


async def insert_outbound(session: AsyncSession, *, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert planned mails; a (event, recipient) pair planned before is left alone. The count written."""
    if not rows:
        return 0
    stmt = (
        pg_insert(OUTBOUND_MAILS)
        .values(list(rows))
        .on_conflict_do_nothing(constraint="uq_outbound_mails_event_recipient")
        .returning(OUTBOUND_MAILS.c.id)
    )
    return len((await session.execute(stmt)).all())


async def claim_due_mails(session: AsyncSession, *, now: datetime, limit: int) -> list[OutboundMailRow]:
    """PENDING mails due now, locked; rows another process holds are skipped (SKIP LOCKED)."""
    stmt = (
        select(*columns(OUTBOUND_MAILS, OutboundMailRow))
        .where(
            OUTBOUND_MAILS.c.status == OutboundMailStatus.PENDING.value,
            OUTBOUND_MAILS.c.next_attempt_at <= now,
        )
        .order_by(OUTBOUND_MAILS.c.next_attempt_at, OUTBOUND_MAILS.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [OutboundMailRow.of(row) for row in (await session.execute(stmt)).mappings().all()]


async def earliest_pending(session: AsyncSession) -> datetime | None:
    """When the next PENDING mail is due (None: none is)."""
    stmt = select(func.min(OUTBOUND_MAILS.c.next_attempt_at)).where(
        OUTBOUND_MAILS.c.status == OutboundMailStatus.PENDING.value
    )
    value = (await session.execute(stmt)).scalar()
    return value if isinstance(value, datetime) else None


async def record_attempt(
    session: AsyncSession,
    *,
    mail_id: int,
    status: OutboundMailStatus,
    error: str | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> None:
    """The result of one send attempt (attempts + 1)."""
    values: dict[str, Any] = {
        "status": status.value,
        "attempts": OUTBOUND_MAILS.c.attempts + 1,
        "last_error": error,
    }
    if status is OutboundMailStatus.SENT:
        values["sent_at"] = now
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    await session.execute(update(OUTBOUND_MAILS).where(OUTBOUND_MAILS.c.id == mail_id).values(**values))
