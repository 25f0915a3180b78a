"""What one request did, filled in by whichever code path serves it; read once by the request log.

The HTTP middleware (server.request_log) opens a `RequestRecord` per request and
per WebSocket connection; anything running inside it reports through the
functions below: the GraphQL extension or any other executor (operation name,
type, error codes), authentication (the principal), the SQLAlchemy engine
(every statement). Outside a request they do nothing, so background workers
may call them freely. The record is one mutable object shared by every task the
request starts (sibling resolvers run in tasks copying the context), so their
reports add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

__all__ = [
    "RequestRecord",
    "begin_request",
    "count_statement",
    "current_request",
    "end_request",
    "note_error_codes",
    "note_operation",
    "note_principal",
]


@dataclass(slots=True)
class RequestRecord:
    """One HTTP request or WebSocket connection, as the request log reports it."""

    request_id: str
    principal: str | None = None
    client_id: str | None = None
    operation_name: str | None = None
    operation_type: str | None = None
    # A WebSocket connection runs several operations: every (name, type) it ran, in order.
    operations: list[tuple[str | None, str | None]] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    sql_statements: int = 0


_current: ContextVar[RequestRecord | None] = ContextVar("casegraph_request_record", default=None)


def begin_request(record: RequestRecord) -> Token[RequestRecord | None]:
    """Make `record` the current request's (for the caller's context and every task it starts)."""
    return _current.set(record)


def end_request(token: Token[RequestRecord | None]) -> None:
    _current.reset(token)


def current_request() -> RequestRecord | None:
    return _current.get()


def note_principal(subject: str, *, client_id: str | None = None) -> None:
    """Who is calling: the token's subject, and the OAuth client for partner tokens."""
    record = _current.get()
    if record is not None:
        record.principal = subject
        record.client_id = client_id


def note_operation(name: str | None, operation_type: str | None) -> None:
    """The GraphQL operation being run: `operation_type` query, mutation or subscription, None when
    the document did not parse or validate (the name is still what the client sent)."""
    record = _current.get()
    if record is not None:
        record.operation_name = name
        record.operation_type = operation_type
        record.operations.append((name, operation_type))


def note_error_codes(codes: Iterable[str]) -> None:
    """The `extensions.code` of every error the response carries."""
    record = _current.get()
    if record is not None:
        record.error_codes.extend(codes)


def count_statement() -> None:
    """One SQL statement sent to the database on behalf of the current request."""
    record = _current.get()
    if record is not None:
        record.sql_statements += 1
