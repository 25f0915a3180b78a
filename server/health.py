"""Liveness, readiness and Prometheus metrics endpoints."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.migrate import is_current

__all__ = ["healthz", "metrics", "readyz"]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    services = request.app.state.services
    try:
        async with asyncio.timeout(2):
            async with services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                current = await is_current(
                    conn, str(services.engine.url.render_as_string(hide_password=False))
                )
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        return JSONResponse({"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"}, 503)
    if not current:
        return JSONResponse({"status": "unavailable", "database": "ok", "migrations": "pending"}, 503)
    body = {"status": "ready", "database": "ok", "migrations": "current", "broadcast": "ok"}
    # A degraded broadcaster leaves the process ready: events are read from the outbox meanwhile.
    degraded = getattr(services.event_hub, "broadcast_degraded", None)
    if degraded:
        body.update(status="degraded", broadcast=f"degraded: {degraded}; polling the outbox")
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
