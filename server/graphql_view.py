"""GraphQL over HTTP and WebSocket, per the GraphQL-over-HTTP spec and ACCESS.md.

strawberry's stock view answers everything with 200 application/json; this
subclass adds what clients and the graphql-http audit expect:
`application/graphql-response+json` when accepted (4xx without `data` for
parse and validation failures), 405 for mutations over GET, 401 with
`WWW-Authenticate` for a missing or bad token, and socket authentication in
`connection_init` with a close (4403) when the token expires. Every operation
passes `Limits.admit` first (server.limits: LIMITS.md) and its response carries
`extensions.cost`; bodies are bounded while they are read.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from auth.principal import Principal
from db.transient import database_unavailable
from planner import ReadPlanner
from resolvers.context import AppServices, Context
from server.audiences import Audiences
from server.error_mapping import malformed_body, unavailable_response, unavailable_status
from server.limits import Admission, Limits, OperationRequest, Refusal, bodies, refusal_response
from server.limits.websocket import LimitedTransportWSHandler
from server.socket_expiry import SocketExpiries
from server.socket_frames import forget_handshake
from server.socket_outage import OutageAwareWebSocket, refuse_socket_unavailable
from telemetry.request_record import note_error_codes, note_principal

__all__ = ["Authenticator", "CasegraphGraphQL", "InvalidCredentials"]

log = logging.getLogger("casegraph.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


class InvalidCredentials(Exception):
    """Raised by an Authenticator for a bad, expired or unknown token."""


Authenticator = Callable[[str], Awaitable[Principal]]


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _unauthorized(presented: bool, detail: str) -> Response:
    note_error_codes(["UNAUTHENTICATED"])
    challenge = 'Bearer realm="casegraph"'
    if presented:
        challenge += f', error="invalid_token", error_description="{detail}"'
    body = {"errors": [{"message": detail, "extensions": {"code": "UNAUTHENTICATED"}}]}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": challenge})


class CasegraphGraphQL(GraphQL[Context, None]):
    """The /graphql endpoint."""

    graphql_transport_ws_handler_class = LimitedTransportWSHandler
    websocket_adapter_class = OutageAwareWebSocket  # type: ignore[assignment]

    def __init__(
        self,
        schema: BaseSchema,
        *,
        services: AppServices,
        authenticate: Authenticator,
        graphiql: bool,
        limits: Limits,
        allowed_origins: Sequence[str] = (),
        planner: ReadPlanner | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            # The legacy `graphql-ws` protocol skipped connection_init checks (CVE-2026-35526): off.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=50,
            # Pages on these origins may open sockets (besides the server's own origin; CORS_ALLOWED_ORIGINS).
            allowed_origins=allowed_origins,
        )
        self.services = services
        self.authenticate = authenticate
        self.limits = limits
        # READ_PLANNER=on: query operations it can plan are answered by one SQL statement.
        self.planner = planner
        # Live subscriptions sharing one execution per event (server.audiences).
        self.audiences = Audiences(schema, services)
        # Sockets closed with 4403 at their token's expiry.
        self.expiries = SocketExpiries(_close_expired)

    # ------------------------------------------------------------------ HTTP

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            try:
                await super().__call__(scope, receive, send)
            finally:
                # The close-at-expiry timer holds the socket and its context: end it with the socket.
                expiry = scope.get("state", {}).get("expiry_task")
                if expiry is not None:
                    expiry.cancel()
            return
        request = Request(scope, receive)
        if request.method not in ("GET", "POST"):
            await Response(status_code=405, headers={"Allow": "GET, POST"})(scope, receive, send)
            return
        wants_ide = (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
            and "extensions" not in request.query_params  # a persisted query by hash
        )
        if not wants_ide:
            token = _bearer(request.headers.get("authorization"))
            if token is None:
                presented = "authorization" in request.headers
                await _unauthorized(presented, "a bearer access token is required")(scope, receive, send)
                return
            try:
                principal = await self.authenticate(token)
            except InvalidCredentials as exc:
                await _unauthorized(True, str(exc) or "invalid token")(scope, receive, send)
                return
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                await unavailable_response(self.services.outage, exc)(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = principal
            _note(principal)
        if request.method == "POST":
            if bodies.declared_too_large(request.headers):
                await bodies.too_large()(scope, receive, send)
                return
            try:
                body = await bodies.read_body(receive)
            except bodies.BodyTooLarge:
                await bodies.too_large()(scope, receive, send)
                return
            if bodies.is_batch(body):
                await bodies.batch_refused()(scope, receive, send)
                return
            malformed = malformed_body(body, request.headers.get("content-type"))
            if malformed is not None:
                await malformed(scope, receive, send)
                return
            receive = bodies.replay(body, receive)
        await super().__call__(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET carrying only a persisted-query hash is an operation, not a visit to GraphiQL.
        return super().should_render_graphql_ide(request) and "extensions" not in request.query_params

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        principal = request.scope.get("state", {}).get("principal")
        return Context(
            services=self.services, request=request, response=response, principal_or_none=principal
        )

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        request_data: GraphQLRequestData = kwargs["request_data"]
        request: Request = kwargs["request"]
        # Limits.admit, without a coroutine when nothing need be waited for.
        state = request.scope["state"]
        admission = self.limits.admit_now(
            OperationRequest(
                request_data.query,
                request_data.variables,
                request_data.operation_name,
                request_data.extensions,
            ),
            state["principal"],
            operation_types=_GET_TYPES if request.method == "GET" else _POST_TYPES,
        )
        if not isinstance(admission, Admission):
            admission = await admission
        if admission.query != request_data.query:
            kwargs["request_data"] = GraphQLRequestData(
                admission.query,
                request_data.variables,
                request_data.operation_name,
                request_data.extensions,
                request_data.protocol,
            )
        if self.planner is not None and admission.query is not None:
            data = await self.planner.answer(
                text=admission.query,
                operation_name=request_data.operation_name,
                variables=request_data.variables,
                principal=state["principal"],
                parsed=admission.document,
            )
            if data is not None:
                # PostgreSQL wrote the `data` JSON: it goes into the response as it is.
                return ExecutionResult(
                    data=orjson.Fragment(data),  # type: ignore[arg-type]
                    errors=None,
                    extensions=admission.extensions(),
                )
        try:
            result = await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if exc.status_code == 400 and "GET" in exc.reason and "mutation" in exc.reason.lower():
                raise HTTPException(405, exc.reason) from exc
            raise
        # The response's top-level extensions.cost, beside what the schema's extensions report.
        if admission.cost is not None:
            cost = admission.cost.as_dict()
            result.extensions = {**result.extensions, "cost": cost} if result.extensions else {"cost": cost}
        return result

    def encode_json(self, data: object) -> str:
        # A str, not bytes: WebSocket frames must be text for graphql-transport-ws clients.
        return orjson.dumps(data).decode()

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        request_accept = getattr(sub_response, "_casegraph_accept", "")
        if GRAPHQL_RESPONSE_JSON in request_accept:
            response.headers["content-type"] = GRAPHQL_RESPONSE_JSON + "; charset=utf-8"
            if isinstance(response_data, dict) and _is_request_error(response_data):
                response.status_code = 400
                response.body = orjson.dumps({k: v for k, v in response_data.items() if k != "data"})
                response.headers["content-length"] = str(len(response.body))
        unavailable_status(response, response_data)
        return response

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub = await super().get_sub_response(request)
        sub._casegraph_accept = request.headers.get("accept", "")  # type: ignore[attr-defined]
        return sub

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        try:
            return await super().run(
                request,
                context=UNSET if context is None else context,
                root_value=UNSET if root_value is None else root_value,
            )
        except Refusal as refusal:
            note_error_codes([refusal.code])
            return refusal_response(refusal, request.headers.get("accept", ""))
        except HTTPException as exc:
            # Refused before GraphQL runs (an operationName the document lacks, a mutation over
            # GET, no query): coded like every other error.
            code = _HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
            body = {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}
            note_error_codes([code])
            if exc.status_code == 405:
                return JSONResponse(body, status_code=405, headers={"Allow": "POST"})
            return JSONResponse(body, status_code=exc.status_code)

    # ------------------------------------------------------------- WebSocket

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params
        payload: Mapping[str, object] = params if isinstance(params, Mapping) else {}
        raw = payload.get("authorization") or payload.get("Authorization")
        token = _bearer(raw) if isinstance(raw, str) else None
        if token is None:
            raise ConnectionRejectionError({"message": "a bearer access token is required"})
        try:
            principal = await self.authenticate(token)
        except InvalidCredentials as exc:
            raise ConnectionRejectionError({"message": str(exc) or "invalid token"}) from exc
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            refuse_socket_unavailable(context.request, self.services.outage, exc)
            raise ConnectionRejectionError({"message": "database unavailable"}) from exc
        context.principal_or_none = principal
        # The bearer token is not kept for the connection's life: the principal is what counts.
        context.connection_params = None
        forget_handshake(context.request.scope)
        _note(principal)
        self._close_at_expiry(context, principal)
        return UNSET

    def _close_at_expiry(self, context: Context, principal: Principal) -> None:
        websocket: WebSocket = context.request
        # A token's exp is on the real clock (JOSE's), whatever the app's clock says (server.clock).
        delay = (principal.expires_at - datetime.now(UTC)).total_seconds()
        # One heap entry, not a timer of its own: thousands of idle sockets each hold one until
        # expiry. It dies with the socket: cancelled when the connection ends.
        websocket.scope.setdefault("state", {})["expiry_task"] = self.expiries.add(delay, websocket)


# The operations each method may run (a mutation over GET: 405).
_GET_TYPES = ("query",)
_POST_TYPES = ("query", "mutation")

_HTTP_CODES = {400: "BAD_REQUEST", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}


async def _close_expired(websocket: WebSocket) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code=4403, reason="token expired")


def _note(principal: Principal) -> None:
    """The caller, for the request log (a partner's subject is its OAuth client id)."""
    note_principal(principal.subject, client_id=principal.subject if principal.is_partner else None)


def _is_request_error(data: Mapping[str, Any]) -> bool:
    """Parse and validation failures: no data, and no error points into a result path."""
    errors = data.get("errors") or []
    return data.get("data") is None and bool(errors) and all(not e.get("path") for e in errors)
