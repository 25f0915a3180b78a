"""The reference agent console at `/console`: development only.

A static page (server/static/console, built from frontend-sdk/console with the SDK) plus
two helpers for picking a development identity:

- `GET /console/dev-identities`: the active staff members (email, name, role, teams);
- `POST /console/dev-token` `{"subject": EMAIL}`: a token for that staff member, minted by
  the built-in issuer exactly like `casegraph token --subject EMAIL`.

Minting a token over HTTP is an authentication bypass by design, so besides being absent in
production (`console_routes` returns no route at all) the helpers answer loopback clients
addressing the server by a loopback name only: a page of another site that rebinds its DNS
name to 127.0.0.1 still sends its own Host header and is refused. From anywhere else paste
a token from `casegraph token` into the page instead.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from auth.devtoken import DEFAULT_DEV_TOKEN_TTL, mint_dev_token
from db.models import Staff, Team, TeamMember
from server.authn import key_vault
from server.settings import Settings

__all__ = ["STATIC_DIR", "console_routes"]

STATIC_DIR = Path(__file__).resolve().parent / "static" / "console"

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_LOOPBACK_ONLY = "the development token helper answers on loopback only: paste a token from `casegraph token`"
# The page is rebuilt often while developing: always revalidate.
_NO_CACHE = {"Cache-Control": "no-cache"}


def console_routes(settings: Settings) -> list[BaseRoute]:
    """The console's routes; none in production (the page and its token helper do not exist there)."""
    if settings.is_production:
        return []
    return [
        Route("/console", _page, methods=["GET"]),
        Route("/console/dev-identities", _identities, methods=["GET"]),
        Route("/console/dev-token", _dev_token, methods=["POST"]),
        Mount(
            "/console/assets", app=StaticFiles(directory=STATIC_DIR, check_dir=False), name="console-assets"
        ),
    ]


async def _page(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=_NO_CACHE)


def _is_loopback_host(name: str) -> bool:
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _local_only(request: Request) -> Response | None:
    """A 403 unless a loopback client asked for a loopback host name (see the module docstring)."""
    client = request.client.host if request.client else ""
    host = request.url.hostname or ""
    if _is_loopback_host(client) and _is_loopback_host(host):
        return None
    return JSONResponse({"error": _LOOPBACK_ONLY}, status_code=403)


async def _identities(request: Request) -> Response:
    if (refused := _local_only(request)) is not None:
        return refused
    teams = func.array_remove(func.array_agg(Team.name.distinct()), None)
    query = (
        select(Staff.email, Staff.name, Staff.role, teams)
        .outerjoin(TeamMember, TeamMember.staff_id == Staff.id)
        .outerjoin(Team, Team.id == TeamMember.team_id)
        .where(Staff.active.is_(True))
        .group_by(Staff.id)
        .order_by(Staff.role, Staff.name)
    )
    async with request.app.state.services.sessionmaker() as session:
        rows = (await session.execute(query)).all()
    identities = [
        {"subject": email, "name": name, "role": role, "teams": sorted(team_names or [])}
        for email, name, role, team_names in rows
    ]
    return JSONResponse({"identities": identities}, headers=_NO_CACHE)


async def _dev_token(request: Request) -> Response:
    if (refused := _local_only(request)) is not None:
        return refused
    # JSON only: a cross-site form post cannot send it without a CORS preflight, which we never grant.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return JSONResponse({"error": 'send application/json: {"subject": EMAIL}'}, status_code=415)
    try:
        body = await request.json()
    except ValueError:
        body = None
    subject = body.get("subject") if isinstance(body, dict) else None
    if not isinstance(subject, str) or not subject.strip():
        return JSONResponse({"error": "`subject` (a staff email) is required"}, status_code=400)
    subject = subject.strip().lower()
    settings: Settings = request.app.state.settings
    async with request.app.state.services.sessionmaker() as session, session.begin():
        known = await session.scalar(select(Staff.id).where(Staff.email == subject, Staff.active.is_(True)))
        if known is None:
            return JSONResponse({"error": f"no active staff member {subject}"}, status_code=404)
        # No roles: the server takes them from the staff row, and the token gets every scope.
        token = await mint_dev_token(
            session,
            issuer=settings.oauth_issuer,
            audience=settings.oauth_audience,
            subject=subject,
            vault=key_vault(settings),
        )
    return JSONResponse(
        {"accessToken": token, "tokenType": "Bearer", "expiresIn": DEFAULT_DEV_TOKEN_TTL},
        headers={"Cache-Control": "no-store"},
    )
