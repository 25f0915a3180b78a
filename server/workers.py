"""Background workers started by the app lifespan (real-time pump, SLA engine, auto-close)."""

from __future__ import annotations

import contextlib

from schema.context import AppServices
from server.settings import Settings

__all__ = ["start_workers"]


async def start_workers(stack: contextlib.AsyncExitStack, settings: Settings, services: AppServices) -> None:
    """Start what this process runs in the background; `stack` stops them on shutdown."""
    return None
