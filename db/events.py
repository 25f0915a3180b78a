"""The event stream: reads after a position (records.events.Cursor), and the commit-time wake-up.

Events are rows of `request_events`, written in the transaction of the change
they report (transactional outbox). Sequence values commit out of order, so
the stream is ordered by (txid, id) and a read only ever returns events whose
transaction is older than every transaction still running
(`pg_snapshot_xmin`): whatever commits later sorts after every position
already handed out, so a consumer resuming from a cursor never skips an event.
Within one request the writers lock the request row first, which makes
(txid, id) order the commit order for that request.

Announcements (`pg_notify` inside the writing transaction, or a broadcast
after commit for Redis) are only wake-ups; consumers always re-read the table.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import BigInteger, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.types import DateTime

from records.events import STREAM_START, Cursor, EventRow

__all__ = [
    "EVENTS_CHANNEL",
    "EventBatch",
    "EventFilter",
    "Publisher",
    "current_head",
    "event_payload",
    "fetch_after",
    "fetch_filtered",
    "notify_events",
    "publish_after_commit",
    "write_outbox",
]

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "casegraph_events"
# A NOTIFY payload must stay under 8,000 bytes; the ids are hints only, so cap them.
_MAX_NOTIFIED_IDS = 200


class EventBatch(list[EventRow]):
    """The rows of one read, in stream order, plus whether later rows are held back.

    `held_back` is true when committed events after the position exist but
    are not deliverable yet because an older transaction is still running;
    the reader should look again shortly (that transaction may never notify).
    """

    held_back: bool

    def __init__(self, rows: Sequence[EventRow] = (), *, held_back: bool = False) -> None:
        super().__init__(rows)
        self.held_back = held_back


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a reader wants; None means any. Applied in SQL and in memory alike."""

    kinds: frozenset[str] | None = None
    request_id: int | None = None
    customer_ids: frozenset[int] | None = None
    team_id: int | None = None

    def matches(self, row: EventRow) -> bool:
        """The in-memory twin of the SQL predicate of `fetch_after`."""
        return (
            (self.kinds is None or row.kind in self.kinds)
            and (self.request_id is None or row.request_id == self.request_id)
            and (self.customer_ids is None or row.customer_id in self.customer_ids)
            and (self.team_id is None or row.team_id == self.team_id)
        )


_COLUMNS = (
    "id, txid, request_id, kind, occurred_at, actor_subject, actor_name, from_status, to_status, "
    "comment_id, approval_id, sla_target, due_at, customer_id, team_id, details"
)
_FIELDS = tuple(c.strip() for c in _COLUMNS.split(","))


def _predicate(alias: str, shape: tuple[bool, bool, bool, bool]) -> str:
    # Fixed fragments only; every value travels as a bound parameter.
    fragments = (
        "kind = ANY(:kinds)",
        "request_id = :request_id",
        "customer_id = ANY(:customer_ids)",
        "team_id = :team_id",
    )
    return "".join(f" AND {alias}.{frag}" for used, frag in zip(shape, fragments, strict=True) if used)


@functools.lru_cache(maxsize=16)
def _fetch_sql(shape: tuple[bool, bool, bool, bool]) -> Any:
    """The read statement for one combination of filters (kinds, request, customers, team)."""
    cols = ", ".join(f"p.{c}" for c in _FIELDS)
    # One statement, so xmin and the rows come from the same snapshot: an xmin
    # taken after the rows could pass over a transaction that committed in between.
    sql = f"""
        WITH snap AS MATERIALIZED (
            SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin
        ),
        held AS MATERIALIZED (
            SELECT EXISTS (
                SELECT 1 FROM request_events h, snap
                WHERE h.txid >= snap.xmin AND (h.txid, h.id) > (:after_txid, :after_id)
                {_predicate("h", shape)}
            ) AS held_back
        )
        SELECT held.held_back, {cols}
        FROM snap CROSS JOIN held
        LEFT JOIN LATERAL (
            SELECT {_COLUMNS} FROM request_events e
            WHERE e.txid < snap.xmin AND (e.txid, e.id) > (:after_txid, :after_id)
            {_predicate("e", shape)}
            ORDER BY e.txid, e.id
            LIMIT :limit
        ) p ON true
        ORDER BY p.txid, p.id
    """
    stmt = text(sql)
    if shape[0]:
        stmt = stmt.bindparams(bindparam("kinds", type_=ARRAY(String)))
    if shape[2]:
        stmt = stmt.bindparams(bindparam("customer_ids", type_=ARRAY(BigInteger)))
    return stmt.columns(occurred_at=DateTime(timezone=True), due_at=DateTime(timezone=True), details=JSONB)


async def fetch_after(
    conn: AsyncConnection | AsyncSession,
    *,
    after: Cursor | None,
    limit: int,
    kinds: Sequence[str] | None = None,
    request_id: int | None = None,
    customer_ids: frozenset[int] | None = None,
    team_id: int | None = None,
) -> EventBatch:
    """Up to `limit` deliverable events after `after` (None: from the start), in stream order.

    Only events of transactions older than every running transaction are
    returned; `EventBatch.held_back` tells whether committed events after
    `after` are waiting for such a transaction to end.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    flt = EventFilter(
        kinds=frozenset(kinds) if kinds is not None else None,
        request_id=request_id,
        customer_ids=customer_ids,
        team_id=team_id,
    )
    return await fetch_filtered(conn, after=after, limit=limit, flt=flt)


async def fetch_filtered(
    conn: AsyncConnection | AsyncSession, *, after: Cursor | None, limit: int, flt: EventFilter
) -> EventBatch:
    """`fetch_after` taking an `EventFilter` (what EventHub uses)."""
    position = after or STREAM_START
    params: dict[str, Any] = {"after_txid": position.txid, "after_id": position.id, "limit": limit}
    if flt.kinds is not None:
        params["kinds"] = sorted(flt.kinds)
    if flt.request_id is not None:
        params["request_id"] = flt.request_id
    if flt.customer_ids is not None:
        params["customer_ids"] = sorted(flt.customer_ids)
    if flt.team_id is not None:
        params["team_id"] = flt.team_id
    shape = (
        flt.kinds is not None,
        flt.request_id is not None,
        flt.customer_ids is not None,
        flt.team_id is not None,
    )
    result = await conn.execute(_fetch_sql(shape), params)
    held_back = False
    rows: list[EventRow] = []
    for record in result.mappings():
        held_back = bool(record["held_back"])
        if record["id"] is not None:  # the LEFT JOIN's empty-page row
            rows.append(EventRow(**{f: record[f] for f in _FIELDS}))
    return EventBatch(rows, held_back=held_back)


async def current_head(conn: AsyncConnection | AsyncSession) -> Cursor:
    """The position "now": every later read returns only events after it.

    Events of transactions that started before every running transaction
    (txid < xmin) are the past; anything from xmin on may still appear.
    """
    result = await conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
    return Cursor(int(result.scalar_one()), 0)


def event_payload(
    *, request_ids: Sequence[int], kinds: Sequence[str], txid: int | None = None
) -> dict[str, Any]:
    """The small JSON wake-up announcing events (ids and kinds only, bounded size)."""
    ids = sorted(set(request_ids))
    payload: dict[str, Any] = {"v": 1, "requests": ids[:_MAX_NOTIFIED_IDS], "kinds": sorted(set(kinds))}
    if len(ids) > _MAX_NOTIFIED_IDS:
        payload["truncated"] = True
    if txid is not None:
        payload["txid"] = txid
    return payload


class _AsyncpgConnection(Protocol):
    async def execute(self, query: str, *args: Any) -> str: ...


async def notify_events(
    session_or_conn: AsyncSession | AsyncConnection | _AsyncpgConnection,
    *,
    request_ids: Sequence[int],
    kinds: Sequence[str],
) -> None:
    """Announce this transaction's events; call once per writing transaction, before commit.

    PostgreSQL delivers the NOTIFY only if and when the transaction commits,
    so nothing uncommitted is ever announced and nothing committed can miss
    its announcement. Accepts an SQLAlchemy session/connection or an asyncpg
    connection.
    """
    body = json.dumps(event_payload(request_ids=request_ids, kinds=kinds), separators=(",", ":"))
    # The writing transaction's id joins the payload server-side (diagnostics only).
    sql = "SELECT pg_notify({ch}, (CAST({body} AS jsonb) || jsonb_build_object('txid', {xid}))::text)"
    xid = "pg_current_xact_id()::text::bigint"
    if isinstance(session_or_conn, AsyncSession | AsyncConnection):
        stmt = text(sql.format(ch=":channel", body=":body", xid=xid))
        await session_or_conn.execute(stmt, {"channel": EVENTS_CHANNEL, "body": body})
    else:
        await session_or_conn.execute(sql.format(ch="$1", body="$2", xid=xid), EVENTS_CHANNEL, body)


class Publisher(Protocol):
    """Where committed events are announced after commit (the event hub, or a Broadcast)."""

    async def publish(self, channel: str, message: Any) -> None: ...


async def publish_after_commit(hub_or_broadcast: Publisher, payload: Mapping[str, Any] | str) -> None:
    """Announce committed events through the broadcast (for BROADCAST_URL=redis://…).

    Call after commit. A no-op when the target announces through PostgreSQL
    NOTIFY already (`transactional_notify`). Failures are logged, not raised:
    the change is committed and durable, and the next wake-up delivers it.
    """
    if getattr(hub_or_broadcast, "transactional_notify", False):
        return
    message = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    try:
        await hub_or_broadcast.publish(EVENTS_CHANNEL, message)
    except Exception:
        log.warning("publishing the events wake-up failed; delivery waits for the next one", exc_info=True)


# ------------------------------------------------------------------ the writer's side ----

_EVENT_ARRAYS = (
    ("request_id", "bigint"),
    ("customer_id", "bigint"),
    ("team_id", "bigint"),
    ("kind", "text"),
    ("from_status", "text"),
    ("to_status", "text"),
    ("comment_id", "bigint"),
    ("approval_id", "bigint"),
    ("sla_target", "text"),
    ("due_at", "timestamptz"),
    ("details", "jsonb"),
    ("occurred_at", "timestamptz"),
    ("actor_subject", "text"),
    ("actor_name", "text"),
)
_AUDIT_ARRAYS = (
    ("occurred_at", "timestamptz"),
    ("actor_subject", "text"),
    ("action", "text"),
    ("entity_type", "text"),
    ("entity_id", "text"),
    ("before", "jsonb"),
    ("after", "jsonb"),
)


def _unnest(prefix: str, arrays: tuple[tuple[str, str], ...]) -> str:
    # jsonb travels as text[] (asyncpg has no codec for jsonb[] by default) and is cast per row.
    args = ", ".join(
        f"CAST(:{prefix}_{name} AS {'text' if kind == 'jsonb' else kind}[])" for name, kind in arrays
    )
    cols = ", ".join(f"u.{name}::jsonb" if kind == "jsonb" else f"u.{name}" for name, kind in arrays)
    names = ", ".join(name for name, _ in arrays)
    return f"SELECT {cols} FROM unnest({args}) WITH ORDINALITY AS u({names}, ord) ORDER BY u.ord"


@functools.lru_cache(maxsize=2)
def _outbox_sql(with_audit: bool) -> Any:
    """Events, audit entries and the NOTIFY of one transaction in ONE statement (one round trip)."""
    names = ", ".join(name for name, _ in _EVENT_ARRAYS)
    audit_names = ", ".join(name for name, _ in _AUDIT_ARRAYS)
    audit = (
        f", au AS (INSERT INTO audit_pending ({audit_names}) {_unnest('a', _AUDIT_ARRAYS)} RETURNING 1)"
        if with_audit
        else ""
    )
    # Sequence values are drawn in the SELECT's order (ORDER BY ordinality): ascending ids are the
    # call order. The NOTIFY is delivered at commit only, like every pg_notify in a transaction.
    sql = f"""
        WITH ev AS (INSERT INTO request_events ({names}) {_unnest("e", _EVENT_ARRAYS)} RETURNING id){audit},
        n AS (
            SELECT pg_notify(
                :channel,
                (CAST(:body AS jsonb) || jsonb_build_object('txid', pg_current_xact_id()::text::bigint))::text
            )
        )
        SELECT (SELECT array_agg(id ORDER BY id) FROM ev) AS ids,
               {"(SELECT count(*) FROM au)" if with_audit else "0"} AS audited,
               (SELECT count(*) FROM n) AS notified
    """
    return text(sql)


def _jsonb(value: Any) -> str:
    return json.dumps(value)  # what SQLAlchemy's JSONB type sends (None -> JSON null)


async def write_outbox(
    session: AsyncSession | AsyncConnection,
    *,
    events: Sequence[Mapping[str, Any]],
    audit_rows: Sequence[Mapping[str, Any]],
) -> list[int]:
    """Insert `events` (request_events rows, in order) and `audit_rows` (db.audit.pending_rows), and
    announce the events with NOTIFY, in one statement; the new event ids in call order."""
    if not events:
        raise ValueError("write_outbox needs at least one event")
    params: dict[str, Any] = {"channel": EVENTS_CHANNEL}
    for name, kind in _EVENT_ARRAYS:
        values = [e.get(name) for e in events]
        params[f"e_{name}"] = [_jsonb(v) for v in values] if kind == "jsonb" else values
    for name, kind in _AUDIT_ARRAYS:
        values = [a.get(name) for a in audit_rows]
        params[f"a_{name}"] = [_jsonb(v) for v in values] if kind == "jsonb" else values
    request_ids = [int(e["request_id"]) for e in events]
    kinds = [str(e["kind"]) for e in events]
    params["body"] = json.dumps(event_payload(request_ids=request_ids, kinds=kinds), separators=(",", ":"))
    stmt = _outbox_sql(bool(audit_rows))
    if not audit_rows:
        params = {k: v for k, v in params.items() if not k.startswith("a_")}
    row = (await session.execute(stmt, params)).one()
    return [int(i) for i in row.ids]
