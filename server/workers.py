"""Background workers started by the app lifespan: the real-time event hub, the SLA engine, outbound
mail and the webhook sender.

The hub runs in every process (subscriptions need it) and is published as
`services.event_hub`; the SLA engine, which also auto-closes resolved
requests, and the webhook sender only run where CASEGRAPH_WORKERS is on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from broadcaster import Broadcast

from domain.webhooks import RETRY_SCHEDULE
from mail.sender import MailWorker, parse_smtp_url
from resolvers.context import AppServices
from server.broadcast_pg import make_broadcast
from server.event_hub import EventHub
from server.settings import Settings
from server.sla_engine import SlaEngine
from server.webhook_sender import WebhookSender
from services.mail.outbound import MailSettings

__all__ = ["Workers", "mail_worker_for", "start_event_hub", "start_workers"]

# The hub's watch on a broadcaster outside the database (Redis; server.event_hub): a heartbeat every
# 2 s, degraded after 6 s without any message or at the first failed publish; meanwhile the hub reads
# the outbox every second. LISTEN/NOTIFY needs no watch: it is the database (down together) and
# its backend reconnects and reports gaps itself.
HEARTBEAT_INTERVAL = 2.0
FALLBACK_POLL_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class Workers:
    """What runs in the background of this process (the app keeps it as `app.state.workers`)."""

    event_hub: EventHub
    broadcast: Broadcast | None  # None: the hub was started elsewhere (e.g. by a test)
    sla_engine: SlaEngine | None  # None where CASEGRAPH_WORKERS is off
    mail_worker: MailWorker | None = None  # outbound mail (EMAIL.md), where CASEGRAPH_WORKERS is on
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
    in_database = getattr(getattr(broadcast, "_backend", None), "transactional_notify", False)
    hub = await stack.enter_async_context(
        EventHub(
            services.sessionmaker,
            broadcast,
            heartbeat_interval=None if in_database else HEARTBEAT_INTERVAL,
            fallback_poll_interval=FALLBACK_POLL_INTERVAL,
        )
    )
    services.event_hub = hub
    return hub, broadcast


async def start_workers(
    stack: contextlib.AsyncExitStack, settings: Settings, services: AppServices
) -> Workers:
    """Start what this process runs in the background; `stack` stops them on shutdown."""
    hub, broadcast = await start_event_hub(stack, settings, services)
    engine = None
    mail_worker = None
    sender = None
    if settings.workers_enabled:
        engine = await stack.enter_async_context(
            SlaEngine(services.sessionmaker, clock=services.clock, hub=hub)
        )
        mail_worker = await stack.enter_async_context(mail_worker_for(settings, services, hub=hub))
        sender = await stack.enter_async_context(
            WebhookSender(
                services.sessionmaker,
                config=services.webhooks,
                clock=services.clock,
                timeout=settings.webhook_timeout,
                concurrency=settings.webhook_concurrency,
                per_endpoint=settings.webhook_per_endpoint,
                schedule=settings.webhook_schedule or RETRY_SCHEDULE,
                hub=hub,
            )
        )
        services.webhook_wakeups.append(sender.wake)
    return Workers(
        event_hub=hub, broadcast=broadcast, sla_engine=engine, mail_worker=mail_worker, webhook_sender=sender
    )


def mail_worker_for(
    settings: Settings, services: AppServices, *, interval: float = 1.0, hub: EventHub | None = None
) -> MailWorker:
    """The outbound mail worker of these settings (SMTP_URL unset: mails are recorded as SKIPPED)."""
    smtp_url = settings.smtp_url.get_secret_value() if settings.smtp_url is not None else None
    return MailWorker(
        services.sessionmaker,
        clock=services.clock,
        settings=MailSettings(
            mail_from=settings.mail_from, mail_domain=settings.mail_domain, deliver=smtp_url is not None
        ),
        smtp=parse_smtp_url(smtp_url) if smtp_url else None,
        interval=interval,
        hub=hub,
    )
