"""Reads of the email channel: the inbound and outbound mail lists (newest first), requesters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries import keyset
from db.queries.keyset import KeyPart, Ordering, Page, PageRequest
from db.queries.nodes import attachment_visible
from db.queries.scope import CustomerScope
from db.tables import ATTACHMENTS, COMMENTS, CONTACTS, INBOUND_MAILS, OUTBOUND_MAILS, REQUESTS, columns
from records.mail import ContactRow, InboundMailRow, OutboundMailRow

__all__ = [
    "INBOUND_ORDER",
    "OUTBOUND_ORDER",
    "attachment_download",
    "count_inbound",
    "count_outbound",
    "fetch_inbound_page",
    "fetch_outbound_page",
    "requesters",
]

INBOUND_ORDER = Ordering("InboundMail:ID:DESC", (KeyPart(INBOUND_MAILS.c.id, "int"),), descending=True)
OUTBOUND_ORDER = Ordering("OutboundMail:ID:DESC", (KeyPart(OUTBOUND_MAILS.c.id, "int"),), descending=True)


def _inbound(cols: Any, statuses: Sequence[str] | None) -> Select[Any]:
    cond: ColumnElement[bool] = true() if not statuses else INBOUND_MAILS.c.status.in_(list(statuses))
    return select(*cols).where(cond)


async def fetch_inbound_page(
    conn: AsyncConnection, *, statuses: Sequence[str] | None, page: PageRequest
) -> tuple[Page, list[InboundMailRow]]:
    stmt = _inbound(columns(INBOUND_MAILS, InboundMailRow), statuses)
    result = await keyset.fetch_page(conn, stmt, INBOUND_ORDER, page)
    return result, [InboundMailRow.of(r) for r in result.rows]


async def count_inbound(conn: AsyncConnection, *, statuses: Sequence[str] | None) -> int:
    return await keyset.count(conn, _inbound([INBOUND_MAILS.c.id], statuses))


def _outbound(cols: Any, statuses: Sequence[str] | None, request_id: int | None) -> Select[Any]:
    conds: list[ColumnElement[bool]] = [true()]
    if statuses:
        conds.append(OUTBOUND_MAILS.c.status.in_(list(statuses)))
    if request_id is not None:
        conds.append(OUTBOUND_MAILS.c.request_id == request_id)
    return select(*cols).where(and_(*conds))


async def fetch_outbound_page(
    conn: AsyncConnection, *, statuses: Sequence[str] | None, request_id: int | None, page: PageRequest
) -> tuple[Page, list[OutboundMailRow]]:
    stmt = _outbound(columns(OUTBOUND_MAILS, OutboundMailRow), statuses, request_id)
    result = await keyset.fetch_page(conn, stmt, OUTBOUND_ORDER, page)
    return result, [OutboundMailRow.of(r) for r in result.rows]


async def count_outbound(
    conn: AsyncConnection, *, statuses: Sequence[str] | None, request_id: int | None
) -> int:
    return await keyset.count(conn, _outbound([OUTBOUND_MAILS.c.id], statuses, request_id))


async def requesters(conn: AsyncConnection, request_ids: Sequence[int]) -> dict[int, list[ContactRow]]:
    """The requester contact of each request that has one (a one-element list)."""
    stmt = (
        select(*columns(CONTACTS, ContactRow), REQUESTS.c.id.label("_request"))
        .join(REQUESTS, REQUESTS.c.requester_contact_id == CONTACTS.c.id)
        .where(REQUESTS.c.id.in_(list(request_ids)))
    )
    found: dict[int, list[ContactRow]] = defaultdict(list)
    for r in (await conn.execute(stmt)).mappings():
        found[r["_request"]].append(ContactRow.of(r))
    return found


async def attachment_download(
    conn: AsyncConnection,
    *,
    attachment_id: int,
    scope: CustomerScope,
    internal: bool,
    held_mail: bool,
) -> tuple[str, str, bytes] | None:
    """(filename, content type, bytes) of an attachment the caller may read, else None.

    Readable: one of a request in the caller's customers (an INTERNAL comment's only with
    `internal`), or one of held mail not linked to a request (only with `held_mail`, staff).
    """
    stmt = (
        select(ATTACHMENTS.c.filename, ATTACHMENTS.c.content_type, ATTACHMENTS.c.data)
        .select_from(
            ATTACHMENTS.outerjoin(REQUESTS, REQUESTS.c.id == ATTACHMENTS.c.request_id).outerjoin(
                COMMENTS, COMMENTS.c.id == ATTACHMENTS.c.comment_id
            )
        )
        .where(
            ATTACHMENTS.c.id == attachment_id,
            attachment_visible(scope, internal=internal, held_mail=held_mail),
        )
    )
    row = (await conn.execute(stmt)).one_or_none()
    return None if row is None else (str(row[0]), str(row[1]), bytes(row[2]))
