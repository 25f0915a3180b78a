"""`GET /attachments/{id}`: an attachment's bytes for a bearer token that may read it (EMAIL.md).

Whoever may read the request may read its attachments (those of INTERNAL
comments: staff only); held mail's attachments: staff with requests:read.
Anything else, or an unknown id, is 404 as if it did not exist. Served as a
download (`Content-Disposition: attachment`; `X-Content-Type-Options: nosniff`
comes with every answer from server.http_security), so a browser never
renders mailed content in our origin.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import request_response
from starlette.types import ASGIApp

from auth.permissions import Capability, has
from db.queries.mail import attachment_download
from resolvers.context import AppServices
from schema import ids
from schema.errors import BadUserInput
from server.graphql_view import Authenticator, InvalidCredentials

__all__ = ["attachment_endpoint"]


def _bearer(value: str | None) -> str | None:
    scheme, _, token = (value or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _not_found() -> Response:
    return JSONResponse({"error": "not found"}, status_code=404)


def attachment_endpoint(services: AppServices, authenticate: Authenticator) -> ASGIApp:
    """The ASGI endpoint of attachment downloads."""

    async def download(request: Request) -> Response:
        token = _bearer(request.headers.get("authorization"))
        if token is None:
            return JSONResponse(
                {"error": "a bearer access token is required"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="casegraph"'},
            )
        try:
            principal = await authenticate(token)
        except InvalidCredentials:
            return JSONResponse(
                {"error": "invalid token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="casegraph", error="invalid_token"'},
            )
        if not has(principal, Capability.READ_REQUESTS):
            return _not_found()
        try:
            pk = ids.decode_as(request.path_params["attachment_id"], "Attachment")
        except BadUserInput:
            return _not_found()
        if pk is None:
            return _not_found()
        async with services.engine.connect() as conn:
            found = await attachment_download(
                conn,
                attachment_id=pk,
                scope=principal.customer_ids,
                internal=has(principal, Capability.READ_INTERNAL_COMMENTS),
                held_mail=has(principal, Capability.READ_MAIL),
            )
        if found is None:
            return _not_found()
        filename, content_type, data = found
        ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
        disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
        return Response(
            data,
            media_type=content_type if "/" in content_type else "application/octet-stream",
            headers={
                "Content-Disposition": disposition,
                "Cache-Control": "private, no-store",
            },
        )

    return request_response(download)
