"""Positions in the event stream and the event record every reader of `request_events` gets.

A position is (txid, id) (db.events explains why); its string form is the
opaque cursor the API hands out (`RequestEvent.cursor`, `after` arguments).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from records.rows import Row

__all__ = ["STREAM_START", "Cursor", "EventRow", "decode_cursor", "encode_cursor"]

_MAX_BIGINT = 2**63 - 1
_CURSOR_VERSION = "v1"
_CURSOR_TEXT = re.compile(r"v1:(0|[1-9][0-9]{0,18}):(0|[1-9][0-9]{0,18})")


@dataclass(frozen=True, order=True, slots=True)
class Cursor:
    """A position in the event stream: ordered by (txid, id)."""

    txid: int
    id: int


# Before every event: `after=STREAM_START` replays the whole stream.
STREAM_START = Cursor(0, 0)


def encode_cursor(cursor: Cursor) -> str:
    """The opaque string form of a cursor (urlsafe base64, no padding)."""
    raw = f"{_CURSOR_VERSION}:{cursor.txid}:{cursor.id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(value: str) -> Cursor:
    """Parse a string made by `encode_cursor`; anything else raises ValueError."""
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise ValueError("invalid cursor")
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        match = _CURSOR_TEXT.fullmatch(raw.decode("ascii"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("invalid cursor") from exc
    if match is None:
        raise ValueError("invalid cursor")
    txid, event_id = int(match[1]), int(match[2])
    cursor = Cursor(txid, event_id)
    # Exactly one spelling per position (no padding, no alternative base64 forms).
    if txid > _MAX_BIGINT or event_id > _MAX_BIGINT or encode_cursor(cursor) != value:
        raise ValueError("invalid cursor")
    return cursor


@dataclass(frozen=True, slots=True)
class EventRow(Row):
    """One committed row of `request_events`, with its stream position: the timeline, the
    subscriptions and the SLA engine's wake-ups all read this one shape."""

    id: int
    txid: int
    request_id: int
    kind: str
    occurred_at: datetime
    actor_subject: str
    actor_name: str
    from_status: str | None
    to_status: str | None
    comment_id: int | None
    approval_id: int | None
    sla_target: str | None
    due_at: datetime | None
    customer_id: int
    team_id: int | None
    details: Mapping[str, Any] = field(compare=False, hash=False)

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.txid, self.id)

    @property
    def cursor_token(self) -> str:
        """`encode_cursor(self.cursor)`: what the API hands out."""
        return encode_cursor(self.cursor)
