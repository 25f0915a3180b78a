"""Background workers started by the app lifespan: the real-time event hub and the SLA engine.

The hub runs in every process (subscriptions need it); the SLA engine, which
also auto-closes resolved requests, only where CASEGRAPH_WORKERS is on. Both
are published in `services.extras` ("event_hub", "sla_engine").
"""

from __future__ import annotations

import contextlib

from schema.context import AppServices
from server.broadcast_pg import make_broadcast
from server.event_hub import EventHub
from server.settings import Settings
from server.sla_engine import SlaEngine

__all__ = ["start_event_hub", "start_workers"]


async def start_event_hub(
    stack: contextlib.AsyncExitStack, settings: Settings, services: AppServices
) -> EventHub:
    """The process's EventHub (one broadcast subscription) in `services.extras["event_hub"]`.

    Subscriptions (resolvers.subscriptions) read it from there. Idempotent: a hub
    already published (e.g. by a test) is kept. `stack` stops it on shutdown.
    """
    existing = services.extras.get("event_hub")
    if isinstance(existing, EventHub):
        return existing
    url = settings.broadcast_url or settings.database_url
    if url is None:
        raise RuntimeError("neither BROADCAST_URL nor DATABASE_URL is set")
    broadcast = await stack.enter_async_context(make_broadcast(url))
    hub = await stack.enter_async_context(EventHub(services.sessionmaker, broadcast))
    services.extras["broadcast"] = broadcast
    services.extras["event_hub"] = hub
    return hub


async def start_workers(stack: contextlib.AsyncExitStack, settings: Settings, services: AppServices) -> None:
    """Start what this process runs in the background; `stack` stops them on shutdown."""
    hub = await start_event_hub(stack, settings, services)
    if settings.workers_enabled:
        engine = await stack.enter_async_context(
            SlaEngine(services.sessionmaker, clock=services.clock, hub=hub)
        )
        services.extras["sla_engine"] = engine
