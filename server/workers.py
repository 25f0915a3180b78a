"""Background workers started by the app lifespan: the real-time event hub, the SLA engine and the
webhook sender.

The hub runs in every process (subscriptions need it) and is published as
`services.event_hub`; the SLA engine, which also auto-closes resolved
requests, and the webhook sender only run where CASEGRAPH_WORKERS is on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from broadcaster import Broadcast

from domain.webhooks import RETRY_SCHEDULE
from resolvers.context import AppServices
from server.broadcast_pg import make_broadcast
from server.event_hub import EventHub
from server.settings import Settings
from server.sla_engine import SlaEngine
from server.webhook_sender import WebhookSender

__all__ = ["Workers", "start_event_hub", "start_workers"]


@dataclass(frozen=True, slots=True)
class Workers:
    """What runs in the background of this process (the app keeps it as `app.state.workers`)."""

    event_hub: EventHub
    broadcast: Broadcast | None  # None: the hub was started elsewhere (e.g. by a test)
    sla_engine: SlaEngine | None  # None where CASEGRAPH_WORKERS is off
    webhook_sender: WebhookSender | None = None  # None where CASEGRAPH_WORKERS is off


async def start_event_hub(
    stack: contextlib.AsyncExitStack, settings: Settings, services: AppServices
) -> tuple[EventHub, Broadcast | None]:
    """The process's EventHub (one broadcast subscription), published as `services.event_hub`.

    Subscriptions (resolvers.subscriptions) read it from there. Idempotent: a hub
    already published (e.g. by a test) is kept. `stack` stops it on shutdown.
    """
    existing = services.event_hub
    if isinstance(existing, EventHub):
        return existing, None
    url = settings.broadcast_url or settings.database_url
    if url is None:
        raise RuntimeError("neither BROADCAST_URL nor DATABASE_URL is set")
    broadcast = await stack.enter_async_context(make_broadcast(url))
    hub = await stack.enter_async_context(EventHub(services.sessionmaker, broadcast))
    services.event_hub = hub
    return hub, broadcast


async def start_workers(
    stack: contextlib.AsyncExitStack, settings: Settings, services: AppServices
) -> Workers:
    """Start what this process runs in the background; `stack` stops them on shutdown."""
    hub, broadcast = await start_event_hub(stack, settings, services)
    engine = None
    if settings.workers_enabled:
        engine = await stack.enter_async_context(
            SlaEngine(services.sessionmaker, clock=services.clock, hub=hub)
        )
    sender = None
    if settings.workers_enabled:
        sender = await stack.enter_async_context(
            WebhookSender(
                services.sessionmaker,
                config=services.webhooks,
                clock=services.clock,
                timeout=settings.webhook_timeout,
                concurrency=settings.webhook_concurrency,
                per_endpoint=settings.webhook_per_endpoint,
                schedule=settings.webhook_schedule or RETRY_SCHEDULE,
            )
        )
    return Workers(event_hub=hub, broadcast=broadcast, sla_engine=engine, webhook_sender=sender)
