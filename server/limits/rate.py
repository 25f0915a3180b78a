"""Budgets of query-cost points per principal and minute (LIMITS.md), shared by every process.

The counting is the `limits` library's sliding-window counter, kept in Redis (its own
storage) or PostgreSQL (server.limits.pg_storage). A round trip to that store for
every operation would cost more than a small operation itself, so each process takes
points for a principal a little ahead: an operation the process cannot pay from what
it holds takes its cost plus 1 % of the budget (1,000 points at most) from the shared
window in one acquisition, and the next cheap operations spend the rest locally. Held
points are dropped after a few seconds (they were counted in the window they were
taken in), so at most 1 % of a budget per process is held where another process
cannot use it.
When the top-up does not fit, the exact cost is tried alone, so a budget is spent to
its last point. A refused operation takes nothing.

A busy principal does not wait for the store at all: once its held points fall under
half of what was last taken ahead, the next lease is taken in the background (up to
the same size, so no more is held than before) while its operations go on spending
what is left. Only an operation the held points cannot cover waits, behind the lock
of that principal's account.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.storage.base import SlidingWindowCounterSupport
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from auth.principal import Principal
from server.limits.errors import instant

__all__ = ["BudgetState", "Budgets", "RateLimited", "principal_key", "seconds_until_available"]

log = logging.getLogger("casegraph.limits")

LEASE_FRACTION = 100  # a process holds at most 1 % of a budget ahead ...
LEASE_MIN_POINTS = 1_000  # ... takes at least this much (when the 1 % allows) ...
LEASE_DEMAND_SECONDS = 1.0  # ... or what the principal spent here in this long, if more
LEASE_SECONDS = 5.0
REFILL_BELOW = 2  # a background top-up starts under 1/REFILL_BELOW of the last lease
STATS_SECONDS = 1.0  # how stale the reported remaining points may be
MAX_ACCOUNTS = 10_000  # principals remembered before idle ones are dropped


def principal_key(principal: Principal) -> str:
    """Whose budget: staff and CUSTOMER callers by `sub`, partners by client (their partner row)."""
    if principal.partner_id is not None:
        return f"partner:{principal.partner_id}"
    if principal.is_customer:
        return f"customer:{principal.subject}"
    return f"staff:{principal.subject}"


@dataclass(slots=True)
class BudgetState:
    """What a response reports: points left in the current minute, and when all spent ones are back."""

    remaining: int
    reset_at: str  # ISO 8601, UTC


class RateLimited(Exception):
    """The operation would exceed its principal's budget; nothing was taken."""

    def __init__(self, *, retry_after: int, state: BudgetState) -> None:
        super().__init__(f"rate limit exceeded: retry in {retry_after} s")
        self.retry_after = retry_after
        self.state = state


Window = tuple[int, float, int, float]  # previous count, previous TTL, current count, current TTL


def seconds_until_available(window: Window, *, expiry: float, limit: int, amount: int) -> float:
    """How long until `amount` more points fit in a sliding-window counter (no other hits assumed)."""
    previous, previous_ttl, current, current_ttl = window
    if amount > limit:
        return 2 * expiry  # never fits: the longest a window can take to forget
    room = limit - amount - current
    if room >= 0:
        # Only the previous window's weight, which shrinks linearly, stands in the way.
        return 0.0 if previous == 0 else max(previous_ttl - room * expiry / previous, 0.0)
    # Wait for the current window to become the previous one, then for its weight to shrink.
    return max(current_ttl - expiry, 0.0) + max(expiry - (limit - amount) * expiry / current, 0.0)


@dataclass(slots=True)
class _Account:
    """One principal's points held by this process."""

    lock: asyncio.Lock
    points: int = 0  # the budget they were taken from
    balance: int = 0
    remaining: int = 0  # as reported: left in the shared window, plus the balance
    reset_at: str | None = None
    expires: float = 0.0  # time.monotonic()
    read_at: float = -math.inf  # when the shared window was last read
    spent: int = 0  # paid since `since`, to size the next lease
    since: float = -math.inf  # time.monotonic() of the last acquisition
    key: str = ""
    lease: int = 0  # points last taken ahead (0: none, or the budget could not spare them)
    refilling: bool = False  # a background top-up is under way

    def covers(self, points: int, cost: int, now: float) -> bool:
        return self.points == points and self.expires > now and self.balance >= cost


class Budgets:
    """Charges operations to their principal's budget; one per process, shared by its requests."""

    def __init__(
        self,
        storage: Storage,
        *,
        points_for: Callable[[Principal], Awaitable[int]],
        clock: Callable[[], datetime],
        points_now: Callable[[Principal], int | None] | None = None,
        refill: bool = True,
    ) -> None:
        if not isinstance(storage, SlidingWindowCounterSupport):
            raise TypeError(f"{type(storage).__name__} has no sliding-window counter")
        self.storage = storage
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.points_for = points_for
        # `points_for` when it need not wait (None: it must), for `spend_now`.
        self.points_now = points_now
        self.clock = clock
        self._accounts: dict[str, _Account] = {}
        # The account of each principal object `spend` has seen (authentication hands out one
        # object per token for a while), by id: `spend_now` neither builds nor hashes its key.
        self._known: dict[int, tuple[Principal, _Account]] = {}
        # Top up held points in the background before they run out (False: only on demand).
        self.refill = refill
        self._refills: set[asyncio.Task[None]] = set()

    def spend_now(self, principal: Principal, cost: int) -> BudgetState | None:
        """Charge `cost` from the points this process holds for the principal, without waiting.

        None, and nothing taken, when they do not cover it (or the budget itself must be looked
        up): `spend` then asks the shared store.
        """
        known = self._known.get(id(principal))
        if known is None or known[0] is not principal or self.points_now is None:
            return None
        account = known[1]
        if account.balance < cost or account.points != self.points_now(principal):
            return None
        if account.expires <= time.monotonic():
            return None
        state = self._pay(account, cost)
        self._maybe_refill(account)
        return state

    async def spend(self, principal: Principal, cost: int) -> BudgetState | None:
        """Charge `cost` points; RateLimited when they do not fit (None: the store is unreachable)."""
        key = principal_key(principal)
        points = await self.points_for(principal)
        account = self._accounts.get(key)
        if account is None:
            if len(self._accounts) >= MAX_ACCOUNTS:
                self._forget_idle()
            account = self._accounts[key] = _Account(asyncio.Lock(), key=key)
        known = self._known.get(id(principal))
        if known is None or known[1] is not account:
            if len(self._known) >= MAX_ACCOUNTS:
                self._known.clear()
            self._known[id(principal)] = (principal, account)
        if account.covers(points, cost, time.monotonic()):
            state = self._pay(account, cost)
            self._maybe_refill(account)
            return state
        async with account.lock:
            if account.covers(points, cost, time.monotonic()):  # refilled while this one waited
                state = self._pay(account, cost)
                self._maybe_refill(account)
                return state
            try:
                return await self._take(account, key, points, cost)
            except StorageError:
                # The store being down must not take the API with it: let the operation through.
                log.warning("rate-limit store unreachable; %s not counted", key, exc_info=True)
                return None

    def _maybe_refill(self, account: _Account) -> None:
        """Start taking the next lease in the background once the held points run low."""
        if (
            self.refill
            and not account.refilling
            and account.lease
            and account.balance * REFILL_BELOW < account.lease
            and not account.lock.locked()
        ):
            account.refilling = True
            task = asyncio.get_running_loop().create_task(self._refill(account))
            self._refills.add(task)
            task.add_done_callback(self._refills.discard)

    async def _refill(self, account: _Account) -> None:
        try:
            async with account.lock:
                if account.expires > time.monotonic() and account.balance * REFILL_BELOW < account.lease:
                    await self._take(account, account.key, account.points, 0, refill=True)
        except StorageError:
            log.warning("rate-limit store unreachable; %s not topped up", account.key, exc_info=True)
        finally:
            account.refilling = False

    async def close(self) -> None:
        """Wait for the background top-ups under way (their points are counted either way)."""
        if self._refills:
            await asyncio.gather(*self._refills, return_exceptions=True)

    def _forget_idle(self) -> None:
        """Drop the accounts that hold nothing usable (their leases ran out) and nobody waits on."""
        now = time.monotonic()
        for key, account in list(self._accounts.items()):
            if account.expires <= now and not account.lock.locked():
                del self._accounts[key]

    @staticmethod
    def _pay(account: _Account, cost: int) -> BudgetState:
        account.balance -= cost
        account.spent += cost
        remaining = account.remaining - cost
        account.remaining = remaining = remaining if remaining > 0 else 0
        assert account.reset_at is not None
        return BudgetState(remaining, account.reset_at)

    @staticmethod
    def _lease(account: _Account, points: int, now: float) -> int:
        """Points to take ahead: the principal's recent demand here, 1,000 at least, 1 % at most."""
        elapsed = now - account.since
        demand = 0 if elapsed <= 0 else math.ceil(account.spent * LEASE_DEMAND_SECONDS / max(elapsed, 0.1))
        account.spent, account.since = 0, now
        return min(points // LEASE_FRACTION, max(LEASE_MIN_POINTS, demand))

    async def _take(
        self, account: _Account, key: str, points: int, cost: int, *, refill: bool = False
    ) -> BudgetState:
        item = RateLimitItemPerMinute(points)
        held = account.balance if account.points == points and account.expires > time.monotonic() else 0
        need = max(cost - held, 0)
        lease = self._lease(account, points, time.monotonic())
        # A background top-up brings the held points back to one lease, never beyond.
        top_up = max(lease - held, 0) if refill else lease
        taken = 0
        if top_up and await self.limiter.hit(item, key, cost=need + top_up):
            taken = need + top_up
            account.lease = lease
        elif need and await self.limiter.hit(item, key, cost=need):
            taken = need
            account.lease = 0  # the budget cannot spare a lease: no top-ups until one fits again
        else:
            account.lease = 0
        now = time.monotonic()
        fresh = account.points == points and now - account.read_at < STATS_SECONDS and taken == need + top_up
        if fresh and account.reset_at is not None:
            # What the response reports is read from the store at most once a second; in between,
            # this process's own takings are subtracted (other processes' show at the next read).
            account.balance = held + taken
            account.remaining = max(account.remaining - held - taken, 0) + account.balance
        else:
            window: Window = await self.storage.get_sliding_window(item.key_for(key), item.get_expiry())
            previous, previous_ttl, current, current_ttl = window
            used = math.floor(previous * previous_ttl / item.get_expiry()) + current
            forgotten_in = current_ttl if current else previous_ttl
            reset_at = instant(self.clock() + timedelta(seconds=math.ceil(forgotten_in)))
            if taken < need:
                wait = seconds_until_available(window, expiry=item.get_expiry(), limit=points, amount=need)
                left = BudgetState(max(points - used, 0) + held, reset_at)
                raise RateLimited(retry_after=max(math.ceil(wait), 1), state=left)
            account.balance = held + taken
            account.remaining = max(points - used, 0) + account.balance
            account.reset_at = reset_at
            account.read_at = now
        account.points = points
        account.expires = now + LEASE_SECONDS
        return self._pay(account, cost)
