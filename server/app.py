"""The ASGI application: routes, lifespan-owned resources, no module globals."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from auth.key_vault import KeyVault
from db.engine import make_engine, make_sessionmaker
from planner import ReadPlanner, open_pool
from resolvers.context import AppServices
from server import health
from server.attachments import attachment_endpoint
from server.authn import build_authentication
from server.clock import server_clock
from server.console import console_routes
from server.graphql_view import CasegraphGraphQL
from server.http_security import SecurityHeaders, graphql_cors
from server.limits import open_limits
from server.limits.oauth import guard_token_endpoint
from server.request_log import RequestLog
from server.schema import MAX_TOKENS, build_schema, validation_rules
from server.settings import Settings, asyncpg_url, sqlalchemy_url
from server.socket_frames import CaptureSocketProtocol
from server.tracing import instrumented, tracer_provider_from_env
from services.webhooks.config import WebhookConfig

__all__ = ["create_app"]

log = logging.getLogger("casegraph")

# gc thresholds while serving (generation 0 allocations, then collections per older generation).
GC_THRESHOLDS = (20_000, 20, 20)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """Build the app; DATABASE_URL must point at a migrated database (the CLI sees to that).

    `clock` is the app's "now" (default: server.clock, real time or CASEGRAPH_CLOCK).
    Traces go to `tracer_provider`, else where the OTEL_* variables say (server.tracing), else nowhere.
    """
    settings = settings or Settings()
    if clock is None:
        clock = server_clock(settings.clock_start, production=settings.is_production)
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (run through `casegraph serve`, which provides one)")
    schema = build_schema()
    tracer_provider = tracer_provider or tracer_provider_from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        assert settings.database_url is not None
        engine = make_engine(sqlalchemy_url(settings.database_url), pool_size=settings.db_pool_size)
        services = AppServices(
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            clock=clock,
            webhooks=webhook_config(settings),
        )
        app.state.services = services
        try:
            async with (
                build_authentication(settings, services) as auth,
                open_limits(settings, services, schema) as limits,
                contextlib.AsyncExitStack() as resources,
            ):
                planner = None
                if settings.read_planner == "on":
                    pool = await open_pool(asyncpg_url(settings.database_url), size=settings.db_pool_size)
                    resources.push_async_callback(pool.close)
                    planner = ReadPlanner(
                        schema._schema, pool, clock, rules=validation_rules(), max_tokens=MAX_TOKENS
                    )
                    planner.start()
                    resources.push_async_callback(planner.stop)
                view = CasegraphGraphQL(
                    schema,
                    services=services,
                    authenticate=auth.authenticate,
                    graphiql=not settings.is_production,
                    limits=limits,
                    allowed_origins=settings.allowed_origins,
                    planner=planner,
                )
                app.state.graphql.app = view
                resources.push_async_callback(view.audiences.close)
                resources.callback(view.expiries.close)
                app.state.attachments.app = attachment_endpoint(services, auth.authenticate)
                app.state.oauth_token.app = guard_token_endpoint(
                    auth.token_endpoint, limits.client_authentications
                )
                app.state.jwks.app = auth.jwks_endpoint
                async with contextlib.AsyncExitStack() as workers:
                    from server.workers import start_workers

                    workers.enter_context(instrumented(tracer_provider))
                    app.state.workers = await start_workers(workers, settings, services)
                    # What exists now lives as long as the app (schema, engine, modules): keep it
                    # out of the collector's full scans. Under load (a nested page at 32
                    # connections) those scans took half of the server's CPU.
                    gc.collect()
                    gc.freeze()
                    # Young collections every 700 allocations (the default) promoted the objects of
                    # every event being fanned out, and scanning them took a fifth of the CPU with
                    # 2,000 subscribers: collect the young generation less often instead.
                    thresholds = gc.get_threshold()
                    gc.set_threshold(*GC_THRESHOLDS)
                    try:
                        yield
                    finally:
                        gc.set_threshold(*thresholds)
                        gc.unfreeze()  # collectable again once the app stops (tests start many)
        finally:
            await engine.dispose()

    graphql = _Late()
    oauth_token = _Late()
    jwks = _Late()
    attachments = _Late()
    # Outermost first: the trace's server span, the request log (request id), the security headers.
    middleware = [
        Middleware(RequestLog),
        Middleware(SecurityHeaders, hsts_max_age=settings.hsts_max_age),
    ]
    if tracer_provider is not None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        middleware.insert(0, Middleware(OpenTelemetryMiddleware, tracer_provider=tracer_provider))
    # Outermost of all: the server's WebSocket connection, for frames pushed to it directly.
    middleware.insert(0, Middleware(CaptureSocketProtocol))
    cors = graphql_cors(graphql, origins=settings.allowed_origins, max_age=settings.cors_max_age)
    app = Starlette(
        routes=[
            Route("/graphql", cors, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
            WebSocketRoute("/graphql", graphql),
            Route("/oauth/token", oauth_token, methods=["POST"]),
            Route("/.well-known/jwks.json", jwks, methods=["GET"]),
            Route("/attachments/{attachment_id}", attachments, methods=["GET"]),
            Route("/healthz", health.healthz),
            Route("/readyz", health.readyz),
            Route("/metrics", health.metrics),
            # The reference agent console; development only (no routes in production).
            *console_routes(settings),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.graphql = graphql
    app.state.oauth_token = oauth_token
    app.state.jwks = jwks
    app.state.attachments = attachments
    app.state.settings = settings
    return app


def webhook_config(settings: Settings) -> WebhookConfig:
    """WEBHOOK_ALLOW_PRIVATE (never in production) and the vault sealing webhook secrets."""
    if settings.webhook_allow_private and settings.is_production:
        log.warning("WEBHOOK_ALLOW_PRIVATE is ignored in production")
    key = settings.oauth_key_encryption_key
    return WebhookConfig(
        allow_private=settings.webhook_allow_private and not settings.is_production,
        vault=KeyVault.from_setting(None if key is None else key.get_secret_value()),
    )


class _Late:
    """An ASGI endpoint whose implementation is provided by the lifespan (it needs its resources)."""

    def __init__(self) -> None:
        self.app: Callable[..., Awaitable[None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("application not started (lifespan not run)")
        await self.app(scope, receive, send)
