"""The SQL of reporting/metrics.py: one statement, built from fixed fragments (values are always bound).

Where the numbers come from (tables and indexes of migration 0005):

- whole UTC days [lo_day, hi_day) of the window: the rollups
  metrics_request_daily, metrics_duration_daily, metrics_sla_daily (kept by
  triggers in the transaction of every change);
- the partial days [start, lo) and [hi, end): service_requests through the
  covering index ix_service_requests_metrics_created_at (index-only);
- exact percentiles: the histogram (rollup + edges) locates the bucket of
  each wanted rank; only that bucket's raw values are read and sorted
  (ix_service_requests_metrics_fr_bucket / _res_bucket);
- everything that depends on `now` (live breaches, at risk, aging, open
  disputes): the window's OPEN requests (partial index _metrics_open);
- adjustments by posted_at, approvals by decided_at.

A customer filter or a customer scope reads no rollup (they have no
customer key): the caller then passes lo = hi = end, so the "edges" are the
whole window, which those filters keep small.
"""

from __future__ import annotations

from domain.enums import OPEN_STATUSES, AdjustmentKind, RequestStatus, RequestType

__all__ = ["DIMENSIONS", "IS_OPEN", "metrics_statement"]

# Constants rendered from the domain vocabulary. The open and resolved conditions are spelled
# exactly like the predicates of the partial indexes of migration 0005, so the planner uses them.
_OPEN = "(" + ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES)) + ")"
_NOW = "CAST(:now AS timestamptz)"
RESOLVED = "(r.status IN ('RESOLVED', 'CLOSED'))"
IS_OPEN = f"(r.status IN {_OPEN})"
# Breached whatever `now` is: a stamp of the SLA engine, or a target completed after its due time.
# Never NULL (it is negated). Migration 0005 keeps a frozen copy for the rollups.
_BREACH_RECORDED = f"""(
    r.first_response_breached_at IS NOT NULL
    OR r.resolution_breached_at IS NOT NULL
    OR coalesce(r.first_responded_at > r.first_response_due_at, false)
    OR ({RESOLVED} AND coalesce(r.resolved_at > r.resolution_due_at, false))
)"""
# An open request breached at :now: recorded, or not paused with an unmet target past due.
_OPEN_BREACHED = f"""(
    {_BREACH_RECORDED}
    OR (r.paused_at IS NULL
        AND (r.resolution_due_at <= {_NOW}
             OR (r.first_responded_at IS NULL AND r.first_response_due_at <= {_NOW})))
)"""
# >= 80% of a running target elapsed, in wall time (reporting/metrics.py docstring).
_NEARING = f"""(
    ({_NOW} - r.created_at) >= (r.resolution_due_at - r.created_at) * 0.8
    OR (r.first_responded_at IS NULL
        AND ({_NOW} - r.created_at) >= (r.first_response_due_at - r.created_at) * 0.8)
)"""
# A resolution SLA whose outcome no longer depends on the clock (as metrics_sla_daily counts it).
_SLA_SETTLED = (
    f"r.status <> '{RequestStatus.CANCELLED.value}' AND ({RESOLVED} OR r.resolution_breached_at IS NOT NULL)"
)
_SIGNED_ADJUSTMENT = f"CASE a.kind WHEN '{AdjustmentKind.DEBIT_MEMO.value}' THEN -a.amount ELSE a.amount END"
# Durations: the same functions as the histogram and its indexes (migration 0005).
_FR_SECONDS = "metrics_seconds(r.first_responded_at, r.created_at)"
_RES_SECONDS = "metrics_seconds(r.resolved_at, r.created_at)"
DIMENSIONS = ("status", "type", "channel", "priority")
# On the 'status' rows of `grouped`, the key is the status.
_G_OPEN = IS_OPEN.replace("r.status", "g.key")
_G_RESOLVED = RESOLVED.replace("r.status", "g.key")
# (output dimension, grouped rows' dimension, the column holding the value)
_KEYED = " UNION ALL ".join(
    f"SELECT '{out}' AS dimension, g.{column} AS key, sum(g.n) AS n FROM grouped AS g"
    f" WHERE g.dimension = '{source}' GROUP BY g.{column} HAVING sum(g.n) > 0"
    for out, source, column in (
        ("status", "status", "key"),
        ("type", "status", "type"),
        ("channel", "channel", "key"),
        ("priority", "priority", "key"),
    )
)
_MONEY_JSON = "coalesce(json_agg(json_build_array(currency, CAST(amount AS text)) ORDER BY currency), '[]')"
# percentile_cont's ranks (0-based): rownum = fraction * (N - 1) in float8, then floor and ceil.
_FRACTIONS = "(VALUES (CAST(0.5 AS float8)), (CAST(0.9 AS float8)))"


def _edges(columns: str, match: str, column: str = "created_at") -> str:
    """Rows of the partial days [start, lo) and [hi, end) (two index range scans, not an OR)."""
    return (
        f"(SELECT {columns} FROM service_requests AS r"
        f" WHERE r.{column} >= :start AND r.{column} < :lo {match}"
        f" UNION ALL SELECT {columns} FROM service_requests AS r"
        f" WHERE r.{column} >= :hi AND r.{column} < :end {match})"
    )


def _requests_of(alias: str, match: str) -> str:
    """The join to the rows' requests, needed only to filter them."""
    return f"JOIN service_requests AS r ON r.id = {alias}.request_id" if match else ""


def _bucket_values(metric: str, seconds: str, condition: str, match: str) -> str:
    return f"""
        SELECT {seconds} AS s FROM service_requests AS r
        WHERE b.metric = '{metric}' AND {condition} AND metrics_bucket({seconds}) = b.bucket
          AND r.created_at >= :start AND r.created_at < :end {match}"""


def _exact_percentiles(match: str, rollup_match: str) -> str:
    """Percentiles from the histogram (rollup + edges) and the raw values of the buckets holding the ranks."""
    return f"""
histogram AS (
    SELECT metric, bucket, sum(n) AS n
    FROM (
        SELECT d.metric, d.bucket, d.n
        FROM metrics_duration_daily AS d WHERE d.day >= :lo_day AND d.day < :hi_day {rollup_match}
        UNION ALL
        SELECT 'F', metrics_bucket({_FR_SECONDS}), 1 FROM edges AS r WHERE r.first_responded_at IS NOT NULL
        UNION ALL
        SELECT 'R', metrics_bucket({_RES_SECONDS}), 1 FROM edges AS r WHERE {RESOLVED}
    ) AS parts
    GROUP BY metric, bucket
    HAVING sum(n) > 0
),
cumulative AS (
    SELECT metric, bucket, n, sum(n) OVER (PARTITION BY metric ORDER BY bucket) - n AS below,
           sum(n) OVER (PARTITION BY metric) AS total
    FROM histogram
),
wanted AS (
    SELECT DISTINCT t.metric, f.fraction, f.fraction * CAST(t.total - 1 AS float8) AS rownum, k.rank
    FROM (SELECT DISTINCT metric, total FROM cumulative) AS t
    CROSS JOIN {_FRACTIONS} AS f(fraction)
    CROSS JOIN LATERAL (VALUES (floor(f.fraction * CAST(t.total - 1 AS float8))),
                               (ceil(f.fraction * CAST(t.total - 1 AS float8)))) AS k(rank)
),
located AS (
    SELECT w.metric, w.fraction, w.rownum, w.rank, c.bucket, CAST(w.rank - c.below AS int) + 1 AS position
    FROM wanted AS w
    JOIN cumulative AS c ON c.metric = w.metric AND w.rank >= c.below AND w.rank < c.below + c.n
),
bucket_values AS MATERIALIZED (
    SELECT b.metric, b.bucket, v.sorted
    FROM (SELECT DISTINCT metric, bucket FROM located) AS b
    CROSS JOIN LATERAL (
        SELECT array_agg(x.s ORDER BY x.s) AS sorted FROM (
            {_bucket_values("F", _FR_SECONDS, "r.first_responded_at IS NOT NULL", match)}
            UNION ALL
            {_bucket_values("R", _RES_SECONDS, RESOLVED, match)}
        ) AS x
    ) AS v
),
ranked AS (
    SELECT l.metric, l.fraction, l.rownum, l.rank, bv.sorted[l.position] AS value
    FROM located AS l JOIN bucket_values AS bv ON bv.metric = l.metric AND bv.bucket = l.bucket
),
"""


def _direct_percentiles(match: str) -> str:
    """percentile_cont over the window's rows themselves (a customer's: few), as `ranked` rows."""
    pick = "CROSS JOIN (VALUES (1, CAST(0.5 AS float8)), (2, CAST(0.9 AS float8))) AS p(i, fraction)"
    return f"""
direct AS (
    SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {_FR_SECONDS}) AS f,
           percentile_cont(ARRAY[0.5, 0.9])
               WITHIN GROUP (ORDER BY CASE WHEN {RESOLVED} THEN {_RES_SECONDS} END) AS r
    FROM service_requests AS r WHERE r.created_at >= :start AND r.created_at < :end {match}
),
ranked AS (
    SELECT 'F' AS metric, p.fraction, CAST(0 AS float8) AS rownum, CAST(0 AS float8) AS rank,
           d.f[p.i] AS value
    FROM direct AS d {pick} WHERE d.f IS NOT NULL
    UNION ALL
    SELECT 'R', p.fraction, 0, 0, d.r[p.i] FROM direct AS d {pick} WHERE d.r IS NOT NULL
),
"""


def metrics_statement(match: str, rollup_match: str, *, exact_from_rollups: bool) -> str:
    """The statement for these filter clauses on `r` (requests) and on `d` (rollup rows).

    `exact_from_rollups`: percentiles through the histogram (large windows); otherwise
    percentile_cont over the window's rows (customer filters: the rollups do not apply).
    """
    percentiles = (
        _exact_percentiles(match, rollup_match) if exact_from_rollups else _direct_percentiles(match)
    )
    edge_columns = (
        "r.status, r.type, r.channel, r.priority, r.created_at, r.first_responded_at, r.resolved_at,"
        f" r.reopened_count, {_BREACH_RECORDED} AS breach_recorded"
    )
    counts = "0, 0, 0, 0, 0, 0, 0"
    return f"""
WITH edges AS MATERIALIZED {_edges(edge_columns, match)},
grouped AS MATERIALIZED (
    -- Per (dimension, key, type): the counts; the measures on the 'status' rows only.
    SELECT dimension, key, type, sum(n) AS n, sum(breach_recorded) AS breach_recorded,
           sum(ever_resolved) AS ever_resolved, sum(reopened) AS reopened,
           sum(fr_count) AS fr_count, sum(fr_seconds) AS fr_seconds,
           sum(res_count) AS res_count, sum(res_seconds) AS res_seconds
    FROM (
        SELECT d.dimension, d.key, d.type, d.n, d.breach_recorded, d.ever_resolved, d.reopened,
               d.fr_count, d.fr_seconds, d.res_count, d.res_seconds
        FROM metrics_request_daily AS d WHERE d.day >= :lo_day AND d.day < :hi_day {rollup_match}
        UNION ALL
        SELECT 'status', e.status, e.type, count(*), count(*) FILTER (WHERE e.breach_recorded),
               count(e.resolved_at), count(e.resolved_at) FILTER (WHERE e.reopened_count > 0),
               count(e.first_responded_at), CAST(sum({_FR_SECONDS.replace("r.", "e.")}) AS numeric),
               count(e.resolved_at), CAST(sum({_RES_SECONDS.replace("r.", "e.")}) AS numeric)
        FROM edges AS e GROUP BY e.status, e.type
        UNION ALL
        SELECT 'channel', e.channel, e.type, count(*), {counts} FROM edges AS e GROUP BY e.channel, e.type
        UNION ALL
        SELECT 'priority', e.priority, e.type, count(*), {counts} FROM edges AS e GROUP BY e.priority, e.type
    ) AS parts
    GROUP BY dimension, key, type
),
totals AS (
    SELECT coalesce(sum(g.n), 0) AS created,
           coalesce(sum(g.n) FILTER (WHERE {_G_RESOLVED}), 0) AS resolved,
           coalesce(sum(g.n) FILTER (WHERE {_G_OPEN}), 0) AS open,
           coalesce(sum(g.breach_recorded) FILTER (WHERE NOT {_G_OPEN}), 0) AS closed_breached,
           coalesce(sum(g.ever_resolved), 0) AS ever_resolved, coalesce(sum(g.reopened), 0) AS reopened,
           coalesce(sum(g.fr_count), 0) AS fr_count,
           CAST(sum(g.fr_seconds) / nullif(sum(g.fr_count), 0) AS float8) AS fr_avg,
           -- resolved_at of a reopened request is a past resolution: only RESOLVED / CLOSED count.
           coalesce(sum(g.res_count) FILTER (WHERE {_G_RESOLVED}), 0) AS res_count,
           CAST(sum(g.res_seconds) FILTER (WHERE {_G_RESOLVED})
                / nullif(sum(g.res_count) FILTER (WHERE {_G_RESOLVED}), 0) AS float8) AS res_avg
    FROM grouped AS g WHERE g.dimension = 'status'
),
keyed AS ({_KEYED}),
{percentiles}interpolated AS (
    -- percentile_cont between the values at the two ranks around rownum (one row when they meet).
    SELECT lo.metric, lo.fraction,
           CAST(lo.value AS float8)
               + CAST(hi.value - lo.value AS float8) * (lo.rownum - floor(lo.rownum)) AS value
    FROM ranked AS lo
    JOIN ranked AS hi ON hi.metric = lo.metric AND hi.fraction = lo.fraction AND hi.rank = ceil(lo.rownum)
    WHERE lo.rank = floor(lo.rownum)
),
live AS (
    -- The window's OPEN requests (partial index): whatever depends on `now`. OFFSET 0 keeps the
    -- subquery whole, so the breach test runs once per request; _NEARING only for running ones.
    SELECT count(*) FILTER (WHERE r.breached) AS open_breached,
           count(*) FILTER (WHERE NOT r.breached AND r.paused_at IS NULL AND {_NEARING}) AS at_risk,
           count(*) FILTER (WHERE r.created_at > :aged_1d) AS age_0_1,
           count(*) FILTER (WHERE r.created_at <= :aged_1d AND r.created_at > :aged_3d) AS age_1_3,
           count(*) FILTER (WHERE r.created_at <= :aged_3d AND r.created_at > :aged_7d) AS age_3_7,
           count(*) FILTER (WHERE r.created_at <= :aged_7d) AS age_7
    FROM (
        SELECT r.created_at, r.paused_at, r.first_responded_at, r.first_response_due_at, r.resolution_due_at,
               {_OPEN_BREACHED} AS breached
        FROM service_requests AS r WHERE {IS_OPEN} AND r.created_at >= :start AND r.created_at < :end {match}
        OFFSET 0
    ) AS r
),
disputed AS (
    SELECT r.financial_impact_currency AS currency, sum(r.financial_impact_amount) AS amount
    FROM service_requests AS r
    WHERE {IS_OPEN} AND r.type = '{
        RequestType.BILLING_DISPUTE.value
    }' AND r.financial_impact_currency IS NOT NULL
      AND r.created_at >= :start AND r.created_at < :end {match}
    GROUP BY r.financial_impact_currency
),
sla AS (
    SELECT coalesce(sum(due), 0) AS due, coalesce(sum(met), 0) AS met
    FROM (
        SELECT d.due, d.met FROM metrics_sla_daily AS d WHERE d.day >= :lo_day AND d.day < :hi_day {
        rollup_match
    }
        UNION ALL
        SELECT 1, CASE WHEN {RESOLVED} AND NOT breach_recorded THEN 1 ELSE 0 END
        FROM {
        _edges(
            f"r.status, {_BREACH_RECORDED} AS breach_recorded",
            f"AND {_SLA_SETTLED} {match}",
            "resolution_due_at",
        )
    } AS r
        UNION ALL
        -- Not settled yet but due: open, running (not paused), due time passed, nothing recorded.
        SELECT 1, 0 FROM service_requests AS r
        WHERE {IS_OPEN} AND r.paused_at IS NULL AND r.resolution_breached_at IS NULL
          AND r.resolution_due_at >= :start AND r.resolution_due_at < :end
          AND r.resolution_due_at <= {_NOW} {match}
    ) AS parts
),
posted AS (
    SELECT a.currency, sum({_SIGNED_ADJUSTMENT}) AS amount
    FROM adjustments AS a {_requests_of("a", match)}
    WHERE a.posted_at >= :start AND a.posted_at < :end {match}
    GROUP BY a.currency
),
turnaround AS (
    SELECT count(s) AS n, avg(s) AS average,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY s) AS p
    FROM (
        SELECT metrics_seconds(ap.decided_at, ap.requested_at) AS s
        FROM approvals AS ap {_requests_of("ap", match)}
        WHERE ap.decided_at >= :start AND ap.decided_at < :end
          AND ap.status IN ('APPROVED', 'REJECTED') {match}
    ) AS decided
)
SELECT totals.created, totals.resolved, totals.open, totals.fr_count, totals.fr_avg,
       {_percentile("F", "0.5")} AS fr_p50, {_percentile("F", "0.9")} AS fr_p90,
       totals.res_count, totals.res_avg,
       {_percentile("R", "0.5")} AS res_p50, {_percentile("R", "0.9")} AS res_p90,
       CASE WHEN sla.due = 0 THEN NULL ELSE CAST(sla.met AS float8) / CAST(sla.due AS float8) END
           AS sla_compliance,
       CAST(totals.closed_breached + live.open_breached AS bigint) AS breached, live.at_risk,
       live.age_0_1, live.age_1_3, live.age_3_7, live.age_7,
       turnaround.n AS appr_count, turnaround.average AS appr_avg,
       turnaround.p[1] AS appr_p50, turnaround.p[2] AS appr_p90,
       CASE WHEN totals.ever_resolved = 0 THEN NULL
            ELSE CAST(totals.reopened AS float8) / CAST(totals.ever_resolved AS float8) END AS reopen_rate,
       (SELECT {_MONEY_JSON} FROM disputed) AS disputed,
       (SELECT {_MONEY_JSON} FROM posted) AS posted,
       (SELECT coalesce(json_agg(json_build_array(dimension, key, n) ORDER BY dimension, key), '[]')
        FROM keyed) AS keyed
FROM totals, live, sla, turnaround
"""


def _percentile(metric: str, fraction: str) -> str:
    return (
        f"(SELECT i.value FROM interpolated AS i WHERE i.metric = '{metric}'"
        f" AND i.fraction = CAST({fraction} AS float8))"
    )
