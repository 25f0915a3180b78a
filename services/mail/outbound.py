"""What is mailed for which event (EMAIL.md "Sending"): the rules, as rows for the outbox of mail.

Per (request, transaction) the events are read together: a status change the
customer is told about (WAITING_ON_CUSTOMER, RESOLVED, CLOSED) carries the
PUBLIC message written with it, so one change sends one mail. The recipient is
the request's requester contact, never a bouncing or inactive one; INTERNAL
comments and the customer's own comments are never mailed. Each row's
Message-ID is derived from (event, recipient): the same plan always yields
the same mail, and the outbox's unique (event, recipient) makes it one row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr
from itertools import groupby
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.mail import request_mail_facts, thread_message_ids
from db.tables import COMMENTS
from domain.enums import Channel, CommentVisibility, OutboundMailStatus, RequestEventKind, RequestStatus, Role
from domain.mail import thread_subject
from records.events import EventRow
from services.mail.templates import render

__all__ = ["MailSettings", "plan_mails"]

_STATUS_MAILS = {
    RequestStatus.WAITING_ON_CUSTOMER.value: "WAITING_ON_CUSTOMER",
    RequestStatus.RESOLVED.value: "RESOLVED",
    RequestStatus.CLOSED.value: "CLOSED",
}
_REFERENCES_MAX = 20


@dataclass(frozen=True, slots=True)
class MailSettings:
    mail_from: str
    mail_domain: str
    deliver: bool  # False (SMTP_URL unset): rows are recorded as SKIPPED


async def _comments(session: AsyncSession, ids: Sequence[int]) -> dict[int, Any]:
    if not ids:
        return {}
    stmt = select(COMMENTS.c.id, COMMENTS.c.body, COMMENTS.c.visibility, COMMENTS.c.author_role).where(
        COMMENTS.c.id.in_(list(ids))
    )
    return {row.id: row for row in (await session.execute(stmt)).all()}


def _is_staff_public(comment: Any) -> bool:
    return bool(
        comment is not None
        and comment.visibility == CommentVisibility.PUBLIC.value
        and comment.author_role != Role.CUSTOMER.value
    )


def _message_id(event_id: int, recipient: str, domain: str) -> str:
    digest = hashlib.sha256(f"{event_id}:{recipient}".encode()).hexdigest()[:16]
    return f"cg.{event_id}.{digest}@{domain}"


async def plan_mails(
    session: AsyncSession, *, events: Sequence[EventRow], settings: MailSettings, now: datetime
) -> list[dict[str, Any]]:
    """The outbound_mails rows these events call for (none for events nobody is mailed about)."""
    comment_ids = [e.comment_id for e in events if e.comment_id is not None]
    comments = await _comments(session, comment_ids)
    rows: list[dict[str, Any]] = []
    facts_cache: dict[int, dict[str, Any] | None] = {}
    for (request_id, _txid), grouped in groupby(events, key=lambda e: (e.request_id, e.txid)):
        group = list(grouped)
        wanted = _wanted(group, comments)
        if not wanted:
            continue
        if request_id not in facts_cache:
            facts_cache[request_id] = await request_mail_facts(session, request_id=request_id)
        facts = facts_cache[request_id]
        if facts is None or facts["email"] is None or not facts["active"] or facts["bouncing"]:
            continue
        thread = await thread_message_ids(session, request_id=request_id)
        thread += [r["message_id"] for r in rows if r["request_id"] == request_id]
        for event, kind, body in wanted:
            if kind == "ACKNOWLEDGEMENT" and facts["channel"] != Channel.EMAIL.value:
                continue
            rows.append(_row(event, kind, body, facts, thread, settings, now))
            thread.append(rows[-1]["message_id"])
    return rows


def _wanted(group: list[EventRow], comments: dict[int, Any]) -> list[tuple[EventRow, str, str]]:
    """(event, kind, body) of the mails one transaction's events of one request call for."""
    public = [
        comments[e.comment_id]
        for e in group
        if e.kind == RequestEventKind.COMMENTED.value and e.comment_id is not None
    ]
    staff_texts = [c.body for c in public if _is_staff_public(c)]
    wanted: list[tuple[EventRow, str, str]] = []
    status_mail = False
    for event in group:
        if event.kind == RequestEventKind.CREATED.value:
            wanted.append((event, "ACKNOWLEDGEMENT", ""))
        elif event.kind == RequestEventKind.STATUS_CHANGED.value and event.to_status in _STATUS_MAILS:
            wanted.append((event, _STATUS_MAILS[event.to_status], "\n\n".join(staff_texts)))
            status_mail = True
    if not status_mail:
        for event in group:
            comment = comments.get(event.comment_id) if event.comment_id is not None else None
            if (
                event.kind == RequestEventKind.COMMENTED.value
                and comment is not None
                and _is_staff_public(comment)
            ):
                wanted.append((event, "COMMENT", str(comment.body)))
    return wanted


def _row(
    event: EventRow,
    kind: str,
    body: str,
    facts: dict[str, Any],
    thread: list[str],
    settings: MailSettings,
    now: datetime,
) -> dict[str, Any]:
    recipient = str(facts["email"])
    sender = (
        formataddr((facts["mailbox_name"] or "", facts["mailbox"]))
        if facts["mailbox"]
        else settings.mail_from
    )
    signature = facts["mailbox_name"] or "casegraph"
    rendered = render(
        kind,
        name=facts["contact_name"] or recipient,
        number=facts["number"],
        subject=facts["subject"],
        body=body,
        signature=signature,
    )
    references = thread[-_REFERENCES_MAX:]
    return {
        "event_id": event.id,
        "request_id": event.request_id,
        "kind": kind,
        "recipient": recipient,
        "from_address": sender,
        "subject": thread_subject(facts["number"], facts["subject"]),
        "message_id": _message_id(event.id, recipient, settings.mail_domain),
        "in_reply_to": f"<{references[-1]}>" if references else None,
        "references": " ".join(f"<{m}>" for m in references) or None,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "status": (OutboundMailStatus.PENDING if settings.deliver else OutboundMailStatus.SKIPPED).value,
        "next_attempt_at": now,
        "created_at": now,
    }
