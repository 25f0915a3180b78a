"""The HTTP answer to a refused operation (LIMITS.md), for every path that serves GraphQL over HTTP."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from server.limits.errors import Refusal

__all__ = ["GRAPHQL_RESPONSE_JSON", "refusal_response"]

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def refusal_response(refusal: Refusal, accept: str) -> Response:
    """The refusal's status (a validation error's per the Accept header, as GraphQL over HTTP
    says: 400 for application/graphql-response+json, 200 for application/json), its errors
    and `extensions.cost`, and Retry-After when it has one."""
    wants_graphql_response = GRAPHQL_RESPONSE_JSON in accept
    status = refusal.status or (400 if wants_graphql_response else 200)
    headers = {} if refusal.retry_after is None else {"Retry-After": str(refusal.retry_after)}
    response = JSONResponse(refusal.body(), status_code=status, headers=headers)
    if wants_graphql_response:
        response.headers["content-type"] = GRAPHQL_RESPONSE_JSON + "; charset=utf-8"
    return response
