"""One log line and the Prometheus figures per HTTP request and per WebSocket connection.

The request id comes from the client's `X-Request-ID` (when it looks like one)
or is made here, and is echoed in the response. What the line says about the
GraphQL side (operation, principal, error codes, SQL statements) is what the
code serving the request reported into its telemetry.request_record.

Never logged: headers (tokens), query strings and bodies (variables carry
comments and mail text), secrets of any kind.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry.request_record import RequestRecord, begin_request, end_request

__all__ = ["OPERATION_DURATION", "OPERATION_ERRORS", "OperationLabels", "RequestLog"]

log = logging.getLogger("casegraph.request")

OPERATION_DURATION = Histogram(
    "casegraph_graphql_operation_seconds",
    "GraphQL operation duration over HTTP, by operation name and type",
    ["operation_name", "operation_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OPERATION_ERRORS = Counter(
    "casegraph_graphql_errors_total",
    "GraphQL errors by operation name and extensions.code",
    ["operation_name", "code"],
)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
ANONYMOUS, OTHER, INVALID = "_anonymous", "_other", "_invalid"


class OperationLabels:
    """Bounded `operation_name` label values: the first `limit` valid names, then `_other`.

    Clients choose operation names; a label per name sent would let one client
    grow the metrics without bound. Operations that did not validate are `_invalid`.
    """

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self._known: set[str] = set()

    def label(self, name: str | None, *, valid: bool) -> str:
        if not valid:
            return INVALID
        if not name:
            return ANONYMOUS
        if name in self._known:
            return name
        if len(self._known) >= self.limit or not _OPERATION_NAME.fullmatch(name):
            return OTHER
        self._known.add(name)
        return name


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestLog:
    """Pure ASGI middleware: request id, one `casegraph.request` line, the per-operation metrics."""

    def __init__(self, app: ASGIApp, *, labels: OperationLabels | None = None) -> None:
        self.app = app
        self.labels = labels or OperationLabels()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        record = RequestRecord(request_id=_request_id(scope))
        rid = record.request_id.encode()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
                MutableHeaders(scope=message).raw.append((b"x-request-id", rid))
            elif kind == "websocket.accept":
                status = 101
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid)]
            elif kind == "websocket.close" and status == 0:
                status = 403  # closed before accepting: the server answers the handshake with 403
            await send(message)

        token = begin_request(record)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = status or 500
            raise
        finally:
            end_request(token)
            self._report(scope, record, status, time.perf_counter() - started)

    def _report(self, scope: Scope, record: RequestRecord, status: int, seconds: float) -> None:
        valid = record.operation_type is not None
        codes = [code if _CODE.fullmatch(code) else "OTHER" for code in record.error_codes]
        if record.operations or codes:
            label = self.labels.label(record.operation_name, valid=valid or not record.operations)
            if valid and scope["type"] == "http":
                OPERATION_DURATION.labels(label, record.operation_type).observe(seconds)
            for code in codes:
                OPERATION_ERRORS.labels(label, code).inc()
        method = scope.get("method", "WS") if scope["type"] == "http" else "WS"
        duration_ms = round(seconds * 1000, 2)
        fields = {
            "request_id": record.request_id,
            "method": method,
            "path": scope["path"],
            "status": status,
            "duration_ms": duration_ms,
            "principal": record.principal,
            "client_id": record.client_id,
            "operation_name": record.operation_name,
            "operation_type": record.operation_type,
            "sql_statements": record.sql_statements,
            "error_codes": codes,
        }
        if scope["type"] == "websocket":
            fields["operations"] = [name or ANONYMOUS for name, _ in record.operations]
        operation = (
            f" {record.operation_name or ANONYMOUS}({record.operation_type})" if record.operations else ""
        )
        log.info(
            "%s %s %s %.1fms%s sql=%d%s id=%s",
            method,
            scope["path"],
            status,
            duration_ms,
            operation,
            record.sql_statements,
            f" errors={','.join(codes)}" if codes else "",
            record.request_id,
            extra=fields,
        )
