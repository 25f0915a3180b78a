"""Service and financial metrics (the contract's ServiceMetrics) as ONE set-based SQL statement.

No request row ever reaches Python: one statement (reporting/metrics_sql.py) reads
whole days of the window from rollups kept by triggers, the partial days
and everything that depends on `now` through covering indexes (migration
0005), and answers every count, exact percentile, ratio and money total;
Python only reshapes the single result row. The read planner (planner.metrics)
embeds the same statement (`metrics_sql`, `metrics_params`) and writes its
row as JSON itself.

Definitions (where the contract leaves room, this is what the numbers mean):

- The *window set*: requests with ``created_at`` in [start, end) matching the
  filter (team = the request's current team, customer, types, and the
  caller's visible customers). createdCount, resolvedCount, openCount, the
  by-key counts, the duration stats, breachedCount, atRiskCount,
  backlogAging, disputedAmountOpen and reopenRate are over this set.
- *resolved*: status RESOLVED or CLOSED (resolved_at is then set). A request
  reopened after a resolution is not resolved (it is open again).
- *open*: status NEW, TRIAGED, IN_PROGRESS, WAITING_ON_CUSTOMER or
  PENDING_APPROVAL. *paused*: WAITING_ON_CUSTOMER (paused_at set).
- *breached* (a request whose SLA state is BREACHED at ``now``): a breach was
  stamped by the SLA engine (first_response_breached_at or
  resolution_breached_at), or a target was completed after its due time
  (first_responded_at > first_response_due_at; resolved with resolved_at >
  resolution_due_at), or the request is open, not paused, and an unmet
  target's due time has passed at ``now`` (the engine has not stamped it yet).
  Paused requests are exempt from the last rule because their stored due
  times move forward by the paused time on resume.
- *at risk*: open, not paused, not breached, and for a running target
  (first response while not responded; resolution) at least 80% of the
  target has elapsed. The elapsed fraction is approximated in WALL time as
  (now - created_at) / (due - created_at): business-hour calendars, pauses
  and a reopen's restarted resolution clock make this an approximation of
  the SLA engine's own state, which is good enough for a dashboard count.
- firstResponseTime: first_responded_at - created_at over the window set's
  requests that have a first response; resolutionTime: resolved_at -
  created_at over its resolved requests. Percentiles are percentile_cont
  (linear interpolation), in seconds.
- slaCompliance: over the requests (matching the filter, created whenever)
  whose resolution due time lies in [start, end), not CANCELLED, and whose
  resolution is decided: resolved, or breached (stamped, or open, not paused
  and due <= now). MET = resolved and not breached (see above: in time and
  no breach of any target ever); the ratio is MET / all of them, null when
  there are none.
- backlogAging: open requests of the window set by age at ``now``:
  [0, 1d), [1d, 3d), [3d, 7d), [7d, ...).
- disputedAmountOpen: financial impact of the window set's open
  BILLING_DISPUTE requests, summed per currency.
- adjustmentsPosted: adjustments with posted_at in [start, end) on requests
  matching the filter (created whenever): CREDIT_MEMO and WRITE_OFF count
  positive, DEBIT_MEMO negative, per currency.
- approvalTurnaround: decided_at - requested_at of approvals APPROVED or
  REJECTED with decided_at in [start, end) on requests matching the filter
  (CANCELLED approvals were never decided).
- reopenRate: among the window set's requests ever resolved (resolved_at
  set, including reopened ones now in progress), the share with
  reopened_count > 0; null when none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.money import Money, quantize_cents
from reporting.metrics_sql import DIMENSIONS, metrics_statement

__all__ = [
    "AGING_COLUMNS",
    "AGING_LABELS",
    "DEFAULT_WINDOW",
    "AgingRow",
    "CountRow",
    "DurationRow",
    "MetricsRow",
    "metrics_params",
    "metrics_sql",
    "metrics_window",
    "service_metrics",
]

AGING_LABELS: tuple[str, ...] = ("0-1d", "1-3d", "3-7d", "7d+")
# The statement's columns of those buckets, in the same order.
AGING_COLUMNS: tuple[str, ...] = ("age_0_1", "age_1_3", "age_3_7", "age_7")
# Without `from`, the window is the 30 days before `to` (itself defaulting to now).
DEFAULT_WINDOW = timedelta(days=30)
# Age at `now` [0, 1d), [1d, 3d), [3d, 7d), [7d, ...) as bounds on created_at, computed once in Python
# rather than as interval arithmetic on every row.
_AGING_BOUNDS = {"aged_1d": timedelta(days=1), "aged_3d": timedelta(days=3), "aged_7d": timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class DurationRow:
    """Count, mean and percentiles of a duration in seconds; the statistics are None when count is 0."""

    count: int
    average_seconds: float | None
    p50_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True, slots=True)
class CountRow:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class AgingRow:
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class MetricsRow:
    """Every field of the contract's ServiceMetrics (snake_case), computed by `service_metrics`."""

    start: datetime
    end: datetime
    created_count: int
    resolved_count: int
    open_count: int
    by_status: list[CountRow]
    by_type: list[CountRow]
    by_channel: list[CountRow]
    by_priority: list[CountRow]
    first_response_time: DurationRow
    resolution_time: DurationRow
    sla_compliance: float | None
    breached_count: int
    at_risk_count: int
    backlog_aging: list[AgingRow]
    disputed_amount_open: list[Money]
    adjustments_posted: list[Money]
    approval_turnaround: DurationRow
    reopen_rate: float | None


def _request_filter(*, team: bool, customer: bool, types: bool, scoped: bool) -> str:
    """AND-clauses on `r` (service_requests) for the filter; only fixed SQL, values are bound."""
    clauses = []
    if team:
        clauses.append("AND r.team_id = :team_id")
    if customer:
        clauses.append("AND r.customer_id = :customer_id")
    if types:
        clauses.append("AND r.type = ANY(:types)")
    if scoped:
        clauses.append("AND r.customer_id = ANY(:customer_ids)")
    return " ".join(clauses)


def _rollup_filter(*, team: bool, types: bool) -> str:
    """The same on `d` (a rollup row; team_key 0 = no team, never a filter value)."""
    clauses = []
    if team:
        clauses.append("AND d.team_key = :team_id")
    if types:
        clauses.append("AND d.type = ANY(:types)")
    return " ".join(clauses)


def _whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[lo, hi): the whole UTC days inside [start, end); lo = hi = end when there is none."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    lo = datetime.combine(start.date(), time(), UTC)
    if lo < start:
        lo += timedelta(days=1)
    hi = datetime.combine(end.date(), time(), UTC)
    return (lo, hi) if lo < hi else (end, end)


def _duration(count: int, average: float | None, p50: float | None, p90: float | None) -> DurationRow:
    if count == 0:
        return DurationRow(count=0, average_seconds=None, p50_seconds=None, p90_seconds=None)
    return DurationRow(count=count, average_seconds=average, p50_seconds=p50, p90_seconds=p90)


def _json(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


def _money(raw: Any) -> list[Money]:
    # Amounts travel as JSON strings so that no float ever touches money.
    return [
        Money(amount=quantize_cents(Decimal(amount)), currency=currency) for currency, amount in _json(raw)
    ]


def metrics_window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """The window [start, end) of a filter: `end` defaults to now, `start` to DEFAULT_WINDOW before
    `end`; None when it is empty (the caller refuses it)."""
    end = end or now
    start = start or end - DEFAULT_WINDOW
    return None if start >= end else (start, end)


def metrics_sql(*, team: bool, customer: bool, types: bool, scoped: bool) -> str:
    """The statement for a filter of this shape (which values are given), with named parameters
    (`:start`, ...) whose values `metrics_params` gives."""
    match = _request_filter(team=team, customer=customer, types=types, scoped=scoped)
    # The rollups have no customer key: a customer filter or scope reads the window's rows instead.
    rollups = not customer and not scoped
    return metrics_statement(match, _rollup_filter(team=team, types=types), exact_from_rollups=rollups)


def metrics_params(
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    team_id: int | None,
    customer_id: int | None,
    types: list[str] | None,
    customer_ids: frozenset[int] | None,
) -> dict[str, Any]:
    """The values of the statement's parameters (those of its shape: `metrics_sql`)."""
    rollups = customer_id is None and customer_ids is None
    lo, hi = _whole_days(start, end) if rollups else (end, end)
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "now": now,
        "lo": lo,
        "hi": hi,
        "lo_day": lo.date(),
        "hi_day": hi.date(),
    }
    params.update({name: now - age for name, age in _AGING_BOUNDS.items()})
    if team_id is not None:
        params["team_id"] = team_id
    if customer_id is not None:
        params["customer_id"] = customer_id
    if types is not None:
        params["types"] = list(types)
    if customer_ids is not None:
        params["customer_ids"] = sorted(customer_ids)
    return params


async def service_metrics(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    team_id: int | None,
    customer_id: int | None,
    types: list[str] | None,
    customer_ids: frozenset[int] | None,
) -> MetricsRow:
    """ServiceMetrics over requests created in [start, end) that match the filter (module docstring).

    `types` None means every type; `customer_ids` None means every customer
    (staff), otherwise only those customers' requests are counted.
    """
    sql = metrics_sql(
        team=team_id is not None,
        customer=customer_id is not None,
        types=types is not None,
        scoped=customer_ids is not None,
    )
    statement = text(sql)
    if types is not None:
        statement = statement.bindparams(bindparam("types", type_=ARRAY(String)))
    if customer_ids is not None:
        statement = statement.bindparams(bindparam("customer_ids", type_=ARRAY(BigInteger)))
    params = metrics_params(
        start=start,
        end=end,
        now=now,
        team_id=team_id,
        customer_id=customer_id,
        types=types,
        customer_ids=customer_ids,
    )
    # The statement's cost estimate invites JIT compilation, which alone costs more (~150 ms) than
    # running it; the sorts of the percentiles want more than the default 4 MB. Both only for
    # the caller's current transaction.
    await conn.execute(text("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"))
    row = (await conn.execute(statement, params)).mappings().one()

    keyed: dict[str, list[CountRow]] = {dimension: [] for dimension in DIMENSIONS}
    for dimension, key, n in _json(row["keyed"]):
        keyed[dimension].append(CountRow(key=key, count=n))
    return MetricsRow(
        start=start,
        end=end,
        created_count=int(row["created"]),
        resolved_count=int(row["resolved"]),
        open_count=int(row["open"]),
        by_status=keyed["status"],
        by_type=keyed["type"],
        by_channel=keyed["channel"],
        by_priority=keyed["priority"],
        first_response_time=_duration(int(row["fr_count"]), row["fr_avg"], row["fr_p50"], row["fr_p90"]),
        resolution_time=_duration(int(row["res_count"]), row["res_avg"], row["res_p50"], row["res_p90"]),
        sla_compliance=row["sla_compliance"],
        breached_count=row["breached"],
        at_risk_count=row["at_risk"],
        backlog_aging=[
            AgingRow(label=label, count=row[column])
            for label, column in zip(AGING_LABELS, AGING_COLUMNS, strict=True)
        ],
        disputed_amount_open=_money(row["disputed"]),
        adjustments_posted=_money(row["posted"]),
        approval_turnaround=_duration(row["appr_count"], row["appr_avg"], row["appr_p50"], row["appr_p90"]),
        reopen_rate=row["reopen_rate"],
    )
