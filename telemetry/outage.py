"""One log line per database outage, not one per request that it fails.

Every request that finds the database unreachable reports it (`failed`); the first report
of an outage is logged, the rest are counted. The first database round trip that succeeds
afterwards (`recovered`) logs the end of the outage with how long it lasted and how many
requests it refused.
"""

from __future__ import annotations

import logging
import time

__all__ = ["DatabaseOutage"]

log = logging.getLogger("casegraph.outage")


class DatabaseOutage:
    """The process's view of whether the database is reachable (for logging, not for decisions)."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._refused = 0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        """A request found the database unreachable."""
        self._refused += 1
        if self._since is None:
            self._since = time.monotonic()
            log.error(
                "database unavailable (%s: %s): answering 503 until it is back", type(exc).__name__, exc
            )

    def recovered(self) -> None:
        """A database round trip succeeded."""
        if self._since is None:
            return
        lasted = time.monotonic() - self._since
        log.warning("database available again after %.1f s (%d requests refused)", lasted, self._refused)
        self._since, self._refused = None, 0
