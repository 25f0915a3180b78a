"""Every error the caller sees carries a code; the caller's mistakes say which argument.

`classify` decides, for each error of a result, what the caller is told:

- our coded errors (schema.errors) and errors already carrying a code: as they are;
- the database unreachable (db.transient.database_unavailable): SERVICE_UNAVAILABLE, reported
  to the process's DatabaseOutage (one log line per outage), and the HTTP answer becomes 503
  with Retry-After (`unavailable_status`);
- a value PostgreSQL refused (SQLSTATE class 22): BAD_USER_INPUT;
- request errors (no path): a variable or literal that does not coerce is BAD_USER_INPUT naming
  the argument; a syntax error GRAPHQL_PARSE_FAILED; any other validation failure
  GRAPHQL_VALIDATION_FAILED;
- anything else: masked as "Internal server error." with INTERNAL_SERVER_ERROR, and logged
  with its traceback once (`CodingSchema.process_errors`, which sees errors before masking).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError, GraphQLSyntaxError, Node, Visitor, parse, visit
from graphql.language import ArgumentNode, FieldNode, ObjectFieldNode
from starlette.responses import JSONResponse, Response
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from db.transient import data_exception, database_unavailable
from schema.errors import BadUserInput, CodedError
from telemetry.outage import DatabaseOutage
from telemetry.request_record import note_error_codes

__all__ = [
    "RETRY_AFTER_SECONDS",
    "CodedErrors",
    "CodingSchema",
    "ServiceUnavailable",
    "argument_path",
    "classify",
    "malformed_body",
    "unavailable_response",
    "unavailable_status",
]

log = logging.getLogger("casegraph.graphql")

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "SERVICE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = "the service is temporarily unavailable (database unreachable); retry later"
INTERNAL_MESSAGE = "Internal server error."

# graphql-core's messages for a variable or literal that does not coerce to its type.
_VALUE_ERROR = re.compile(
    r"^(Variable '\$\w+' (has invalid value|got invalid value|of non-null type|of required type)"
    r"|Expected value of type|Expected type|\w+ cannot represent|Field '[\w.]+' of required type"
    r"|Value '.*' does not exist in|Field '\w+' is not defined by type)"
)


class ServiceUnavailable(CodedError):
    """The database cannot be reached: nothing was done; the same request may succeed later."""

    code = UNAVAILABLE


def _outage_of(context: object) -> DatabaseOutage | None:
    outage = getattr(getattr(context, "services", None), "outage", None)
    return outage if isinstance(outage, DatabaseOutage) else None


def _coded(error: GraphQLError, code: str, message: str | None = None) -> GraphQLError:
    return GraphQLError(
        message=error.message if message is None else message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), "code": code},
    )


def _field_of(error: GraphQLError) -> str:
    return ".".join(str(p) for p in error.path or ()) or "the operation"


def classify(error: GraphQLError, outage: DatabaseOutage | None = None) -> GraphQLError:
    """The error as the caller is to see it (see the module's docstring)."""
    original = error.original_error
    if isinstance(original, CodedError) or (error.extensions or {}).get("code"):
        return error
    if original is not None and database_unavailable(original):
        if outage is not None:
            outage.failed(original)
        return _coded(error, UNAVAILABLE, UNAVAILABLE_MESSAGE)
    if original is not None:
        refused = data_exception(original)
        if refused is not None:
            message = f"{_field_of(error)}: an argument's value was refused by the database ({refused})"
            return _coded(error, BadUserInput.code, message)
    if not error.path:
        if isinstance(original, GraphQLSyntaxError) or isinstance(error, GraphQLSyntaxError):
            return _coded(error, "GRAPHQL_PARSE_FAILED")
        if _VALUE_ERROR.match(error.message):
            return _coded(error, BadUserInput.code, _naming_the_argument(error))
        if original is None:
            return _coded(error, "GRAPHQL_VALIDATION_FAILED")
    if original is None:  # GraphQL's own, on a field (a null where the schema promised a value)
        return _coded(error, "INTERNAL_SERVER_ERROR")
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


def _naming_the_argument(error: GraphQLError) -> str:
    """A literal's coercion error names the value, not where it was given: add the argument."""
    if error.message.startswith("Variable '$") or not error.nodes or error.source is None:
        return error.message
    where = argument_path(error.source.body, error.nodes[0])
    return error.message if where is None else f"invalid value for argument {where}: {error.message}"


def argument_path(document: str, node: Node) -> str | None:
    """'field(arg.member)' of the argument holding `node` (a value of the parsed `document`)."""
    if node.loc is None:
        return None
    start, kind = node.loc.start, node.kind
    found: list[str] = []

    class _Find(Visitor):
        def enter(self, current: Node, key: Any, parent: Any, path: Any, ancestors: Sequence[Any]) -> Any:
            if found or current.loc is None or current.loc.start != start or current.kind != kind:
                return None
            found.append(_describe([*ancestors, parent, current]))
            return self.BREAK

    try:
        visit(parse(document), _Find())
    except GraphQLError:
        return None
    return found[0] if found else None


def _describe(chain: Sequence[Any]) -> str:
    field = next((n.name.value for n in reversed(chain) if isinstance(n, FieldNode)), "")
    names = [n.name.value for n in chain if isinstance(n, ArgumentNode | ObjectFieldNode)]
    return f"{field}({'.'.join(names)})" if field else ".".join(names)


class CodedErrors(MaskErrors):
    """MaskErrors that codes every error (`classify`) instead of masking some and leaving others.

    It also skips MaskErrors' per-result `isinstance` against a runtime-checkable Protocol,
    which walks the protocol's members on every call; a subscription runs it for every event
    and subscriber (a few percent of the CPU of a fan-out to thousands of sockets).
    """

    def __init__(self) -> None:
        super().__init__(error_message=INTERNAL_MESSAGE)

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            outage = _outage_of(self.execution_context.context)
            result.errors = [classify(e, outage) for e in errors]  # type: ignore[attr-defined]


class CodingSchema(strawberry.Schema):
    """A Schema that logs only the errors `classify` answers INTERNAL_SERVER_ERROR: a caller's
    mistake or an outage is not a server error, and one traceback per request during an outage
    drowned the log."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if _unexpected(error):
                cause = error.original_error
                log.error("unexpected error in %s: %s", error.path, error.message, exc_info=cause)


def _unexpected(error: GraphQLError) -> bool:
    """An error `classify` answers INTERNAL_SERVER_ERROR: a bug, to be logged with its traceback."""
    original = error.original_error
    if isinstance(original, CodedError) or (error.extensions or {}).get("code"):
        return False
    if original is None:
        return bool(error.path)
    if database_unavailable(original) or data_exception(original) is not None:
        return False
    return bool(error.path) or not _VALUE_ERROR.match(error.message)


def unavailable_status(response: Response, response_data: object) -> None:
    """503 with Retry-After for a GraphQL response with a SERVICE_UNAVAILABLE error."""
    errors = response_data.get("errors") if isinstance(response_data, Mapping) else None
    if errors and any((e.get("extensions") or {}).get("code") == UNAVAILABLE for e in errors):
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)


def unavailable_response(outage: DatabaseOutage | None, exc: BaseException) -> Response:
    """503 with Retry-After and a SERVICE_UNAVAILABLE error, for a request refused before it ran."""
    if outage is not None:
        outage.failed(exc)
    note_error_codes([UNAVAILABLE])
    body = {"errors": [{"message": UNAVAILABLE_MESSAGE, "extensions": {"code": UNAVAILABLE}}]}
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def malformed_body(body: bytes, content_type: str | None) -> Response | None:
    """400 BAD_REQUEST for a JSON POST body that is not a JSON object in UTF-8, else None.

    strawberry answered a JSON string or a body with invalid UTF-8 with a 500 (text/plain).
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _bad_request("the request body is not valid JSON in UTF-8")
    if not isinstance(parsed, dict):
        return _bad_request("the request body must be a JSON object (query, variables, operationName)")
    return None


def _bad_request(message: str) -> Response:
    note_error_codes(["BAD_REQUEST"])
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}, 400)
