"""Metrics: covering indexes, daily rollups kept by triggers, duration histograms.

`metrics` (db/metrics.py) must answer within 300 ms over 1,000,000 requests.
It reads whole UTC days of a window from three rollup tables and only the
partial days at the window's edges from service_requests (index-only scans
of the covering indexes below):

- metrics_request_daily: per creation day x team x type, for each status:
  counts, recorded breaches, resolutions, reopens, duration sums; for each
  channel and each priority: counts.
- metrics_duration_daily: per creation day x team x type, a histogram of the
  first-response ('F') and resolution ('R') times in logarithmic buckets
  (metrics_bucket: 8 per doubling). Exact percentiles read the histogram to
  find the bucket holding the wanted rank, then only that bucket's raw
  values (ix_service_requests_metrics_fr_bucket / _res_bucket).
- metrics_sla_daily: per resolution-due day x team x type, the resolutions
  whose SLA outcome no longer depends on the clock (resolved, or a recorded
  resolution breach) and how many met it.

The rollups are maintained by statement-level triggers on service_requests
(transition tables: one set-based upsert per statement, also for COPY),
in the transaction of the change, so they are never stale. They are ENABLE
ALWAYS: a bulk load under session_replication_role = replica keeps them.
Upserts lock rollup rows in key order (no deadlock between two writers);
two transactions changing requests of the same day and key wait for each
other's commit on that rollup row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the conditions of db/metrics.py at the time of writing (a migration is history).
OPEN = "status IN ('IN_PROGRESS', 'NEW', 'PENDING_APPROVAL', 'TRIAGED', 'WAITING_ON_CUSTOMER')"
RESOLVED = "status IN ('RESOLVED', 'CLOSED')"
BREACH_RECORDED = (
    "(first_response_breached_at IS NOT NULL OR resolution_breached_at IS NOT NULL"
    " OR coalesce(first_responded_at > first_response_due_at, false)"
    f" OR ({RESOLVED} AND coalesce(resolved_at > resolution_due_at, false)))"
)
SLA_SETTLED = f"status <> 'CANCELLED' AND ({RESOLVED} OR resolution_breached_at IS NOT NULL)"
FR_BUCKET = "metrics_bucket(metrics_seconds(first_responded_at, created_at))"
RES_BUCKET = "metrics_bucket(metrics_seconds(resolved_at, created_at))"

CREATED_AT_INCLUDE = [
    "status",
    "type",
    "channel",
    "priority",
    "team_id",
    "customer_id",
    "first_responded_at",
    "first_response_due_at",
    "resolution_due_at",
    "resolved_at",
    "first_response_breached_at",
    "resolution_breached_at",
    "reopened_count",
]
OPEN_INCLUDE = [
    "status",
    "type",
    "team_id",
    "customer_id",
    "paused_at",
    "first_responded_at",
    "first_response_due_at",
    "resolution_due_at",
    "resolved_at",
    "first_response_breached_at",
    "resolution_breached_at",
    "financial_impact_amount",
    "financial_impact_currency",
]
RESOLUTION_DUE_AT_INCLUDE = [
    "status",
    "type",
    "team_id",
    "customer_id",
    "resolved_at",
    "paused_at",
    "first_responded_at",
    "first_response_due_at",
    "first_response_breached_at",
    "resolution_breached_at",
]

FUNCTIONS = [
    """CREATE FUNCTION metrics_seconds(later timestamptz, earlier timestamptz) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT date_part('epoch', later - earlier) $$""",
    # 8 buckets per doubling of (1 + seconds): bucket b holds [2^(b/8) - 1, 2^((b+1)/8) - 1).
    """CREATE FUNCTION metrics_bucket(seconds float8) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CAST(floor(ln(1 + greatest(seconds, 0)) * 11.541560327111707) AS smallint) $$""",
]

# The contribution of a set of rows `c` (columns of service_requests plus `sign`: +1 / -1) to
# each rollup. The triggers feed it the transition tables; the backfill the whole table.
# One row per (day, team, type, dimension, key): dimension 'status' carries every measure, the
# 'channel' and 'priority' rows only their counts (three narrow marginals instead of one wide cube).
_DAY = "CAST(created_at AT TIME ZONE 'UTC' AS date)"
_REQUEST_DAILY = f"""
INSERT INTO metrics_request_daily AS t (day, team_key, type, dimension, key, n, breach_recorded,
    ever_resolved, reopened, fr_count, fr_seconds, res_count, res_seconds)
SELECT * FROM (
    SELECT {_DAY} AS day, coalesce(team_id, 0) AS team_key, type, 'status' AS dimension, status AS key,
           sum(sign) AS n,
           coalesce(sum(sign) FILTER (WHERE {BREACH_RECORDED}), 0) AS breach_recorded,
           coalesce(sum(sign) FILTER (WHERE resolved_at IS NOT NULL), 0) AS ever_resolved,
           coalesce(sum(sign) FILTER (WHERE resolved_at IS NOT NULL AND reopened_count > 0), 0) AS reopened,
           coalesce(sum(sign) FILTER (WHERE first_responded_at IS NOT NULL), 0) AS fr_count,
           coalesce(sum(sign * extract(epoch FROM first_responded_at - created_at)), 0) AS fr_seconds,
           coalesce(sum(sign) FILTER (WHERE resolved_at IS NOT NULL), 0) AS res_count,
           coalesce(sum(sign * extract(epoch FROM resolved_at - created_at)), 0) AS res_seconds
    FROM c GROUP BY 1, 2, 3, 5
    UNION ALL
    SELECT {_DAY}, coalesce(team_id, 0), type, 'channel', channel, sum(sign), 0, 0, 0, 0, 0, 0, 0
    FROM c GROUP BY 1, 2, 3, 5
    UNION ALL
    SELECT {_DAY}, coalesce(team_id, 0), type, 'priority', priority, sum(sign), 0, 0, 0, 0, 0, 0, 0
    FROM c GROUP BY 1, 2, 3, 5
) AS d
WHERE (n, breach_recorded, ever_resolved, reopened, fr_count, fr_seconds, res_count, res_seconds)
    <> (0, 0, 0, 0, 0, 0, 0, 0)
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (day, team_key, type, dimension, key) DO UPDATE SET
    n = t.n + EXCLUDED.n,
    breach_recorded = t.breach_recorded + EXCLUDED.breach_recorded,
    ever_resolved = t.ever_resolved + EXCLUDED.ever_resolved,
    reopened = t.reopened + EXCLUDED.reopened,
    fr_count = t.fr_count + EXCLUDED.fr_count,
    fr_seconds = t.fr_seconds + EXCLUDED.fr_seconds,
    res_count = t.res_count + EXCLUDED.res_count,
    res_seconds = t.res_seconds + EXCLUDED.res_seconds
"""
_DURATION_DAILY = f"""
INSERT INTO metrics_duration_daily AS t (day, team_key, type, metric, bucket, n)
SELECT * FROM (
    SELECT day, team_key, type, metric, bucket, sum(sign) AS n
    FROM (
        SELECT CAST(created_at AT TIME ZONE 'UTC' AS date) AS day, coalesce(team_id, 0) AS team_key, type,
               'F' AS metric, {FR_BUCKET} AS bucket, sign
        FROM c WHERE first_responded_at IS NOT NULL
        UNION ALL
        SELECT CAST(created_at AT TIME ZONE 'UTC' AS date), coalesce(team_id, 0), type, 'R', {RES_BUCKET},
               sign
        FROM c WHERE {RESOLVED}
    ) AS durations
    GROUP BY 1, 2, 3, 4, 5
) AS d
WHERE n <> 0
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (day, team_key, type, metric, bucket) DO UPDATE SET n = t.n + EXCLUDED.n
"""
_SLA_DAILY = f"""
INSERT INTO metrics_sla_daily AS t (day, team_key, type, due, met)
SELECT * FROM (
    SELECT CAST(resolution_due_at AT TIME ZONE 'UTC' AS date) AS day, coalesce(team_id, 0) AS team_key, type,
           sum(sign) AS due,
           coalesce(sum(sign) FILTER (WHERE {RESOLVED} AND NOT {BREACH_RECORDED}), 0) AS met
    FROM c WHERE {SLA_SETTLED}
    GROUP BY 1, 2, 3
) AS d
WHERE (due, met) <> (0, 0)
ORDER BY 1, 2, 3
ON CONFLICT (day, team_key, type) DO UPDATE SET due = t.due + EXCLUDED.due, met = t.met + EXCLUDED.met
"""
_COLUMNS = (
    "created_at, team_id, type, status, channel, priority, first_responded_at, first_response_due_at,"
    " resolution_due_at, resolved_at, first_response_breached_at, resolution_breached_at, reopened_count"
)
_SOURCES = {
    "insert": f"SELECT {_COLUMNS}, 1 AS sign FROM new_rows",
    "delete": f"SELECT {_COLUMNS}, -1 AS sign FROM old_rows",
    "update": f"SELECT {_COLUMNS}, 1 AS sign FROM new_rows UNION ALL SELECT {_COLUMNS}, -1 FROM old_rows",
}
_ROLLUPS = (_REQUEST_DAILY, _DURATION_DAILY, _SLA_DAILY)


def _apply(source: str) -> list[str]:
    # Same table order everywhere (request, duration, sla) and key order inside: no deadlocks.
    return [f"WITH c AS ({source}) {rollup}" for rollup in _ROLLUPS]


def _trigger_function(event: str) -> str:
    return f"""
CREATE FUNCTION metrics_rollup_{event}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
{";".join(_apply(_SOURCES[event]))};
RETURN NULL;
END
$fn$;
"""


TRIGGERS = {
    "insert": "AFTER INSERT ON service_requests REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON service_requests REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON service_requests REFERENCING OLD TABLE AS old_rows",
}


def _rollup_tables() -> None:
    def key() -> list[sa.Column[object]]:
        return [
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("team_key", sa.BigInteger(), nullable=False),
            sa.Column("type", sa.String(32), nullable=False),
        ]

    count = [sa.Integer(), sa.text("0")]
    op.create_table(
        "metrics_request_daily",
        *key(),
        sa.Column("dimension", sa.String(8), nullable=False),
        sa.Column("key", sa.String(24), nullable=False),
        *[
            sa.Column(name, count[0], server_default=count[1], nullable=False)  # type: ignore[arg-type]
            for name in ("n", "breach_recorded", "ever_resolved", "reopened", "fr_count", "res_count")
        ],
        sa.Column("fr_seconds", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.Column("res_seconds", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "team_key", "type", "dimension", "key", name="pk_metrics_request_daily"
        ),
    )
    op.create_table(
        "metrics_duration_daily",
        *key(),
        sa.Column("metric", sa.String(1), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "team_key", "type", "metric", "bucket", name="pk_metrics_duration_daily"
        ),
    )
    # The histogram of a window's days by an index-only scan (rows are narrow, the table is large).
    op.create_index(
        "ix_metrics_duration_daily_day",
        "metrics_duration_daily",
        ["day"],
        postgresql_include=["team_key", "type", "metric", "bucket", "n"],
    )
    op.create_table(
        "metrics_sla_daily",
        *key(),
        sa.Column("due", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("met", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("day", "team_key", "type", name="pk_metrics_sla_daily"),
    )


def upgrade() -> None:
    for function in FUNCTIONS:
        op.execute(function)
    _rollup_tables()
    for event, timing in TRIGGERS.items():
        op.execute(_trigger_function(event))
        op.execute(
            f"CREATE TRIGGER metrics_rollup_{event} {timing} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION metrics_rollup_{event}()"
        )
        op.execute(f"ALTER TABLE service_requests ENABLE ALWAYS TRIGGER metrics_rollup_{event}")
    op.execute(
        "CREATE FUNCTION metrics_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN "
        "TRUNCATE metrics_request_daily, metrics_duration_daily, metrics_sla_daily; RETURN NULL; END $fn$"
    )
    op.execute(
        "CREATE TRIGGER metrics_rollup_truncate AFTER TRUNCATE ON service_requests "
        "FOR EACH STATEMENT EXECUTE FUNCTION metrics_rollup_truncate()"
    )
    # Requests that exist already (the table is locked against writers for the rest of this
    # transaction by the trigger creation above, so nothing is counted twice or missed).
    for statement in _apply(f"SELECT {_COLUMNS}, 1 AS sign FROM service_requests"):
        op.execute(statement)

    op.create_index(
        "ix_service_requests_metrics_created_at",
        "service_requests",
        ["created_at"],
        postgresql_include=CREATED_AT_INCLUDE,
    )
    op.create_index(
        "ix_service_requests_metrics_open",
        "service_requests",
        ["created_at"],
        postgresql_include=OPEN_INCLUDE,
        postgresql_where=sa.text(OPEN),
    )
    # A customer filter reads no rollup (they have no customer key): its window through these.
    op.create_index(
        "ix_service_requests_metrics_customer_created_at",
        "service_requests",
        ["customer_id", "created_at"],
        postgresql_include=[c for c in CREATED_AT_INCLUDE if c != "customer_id"],
    )
    op.create_index(
        "ix_service_requests_metrics_customer_resolution_due_at",
        "service_requests",
        ["customer_id", "resolution_due_at"],
        postgresql_include=[c for c in RESOLUTION_DUE_AT_INCLUDE if c != "customer_id"],
    )
    op.create_index(
        "ix_service_requests_metrics_open_due",
        "service_requests",
        ["resolution_due_at"],
        postgresql_include=["paused_at", "resolution_breached_at", "team_id", "type", "customer_id"],
        postgresql_where=sa.text(OPEN),
    )
    op.create_index(
        "ix_service_requests_metrics_resolution_due_at",
        "service_requests",
        ["resolution_due_at"],
        postgresql_include=RESOLUTION_DUE_AT_INCLUDE,
    )
    op.create_index(
        "ix_service_requests_metrics_fr_bucket",
        "service_requests",
        [sa.text(FR_BUCKET), "created_at"],
        postgresql_include=["first_responded_at", "team_id", "type", "customer_id"],
        postgresql_where=sa.text("first_responded_at IS NOT NULL"),
    )
    op.create_index(
        "ix_service_requests_metrics_res_bucket",
        "service_requests",
        [sa.text(RES_BUCKET), "created_at"],
        postgresql_include=["resolved_at", "team_id", "type", "customer_id"],
        postgresql_where=sa.text(RESOLVED),
    )
    op.create_index(
        "ix_approvals_decided_at",
        "approvals",
        ["decided_at"],
        postgresql_include=["status", "requested_at", "request_id"],
        postgresql_where=sa.text("decided_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_approvals_decided_at", table_name="approvals")
    for name in (
        "res_bucket",
        "fr_bucket",
        "resolution_due_at",
        "open_due",
        "customer_resolution_due_at",
        "customer_created_at",
        "open",
        "created_at",
    ):
        op.drop_index(f"ix_service_requests_metrics_{name}", table_name="service_requests")
    for event in (*TRIGGERS, "truncate"):
        op.execute(f"DROP TRIGGER metrics_rollup_{event} ON service_requests")
        op.execute(f"DROP FUNCTION metrics_rollup_{event}()")
    for table in ("metrics_sla_daily", "metrics_duration_daily", "metrics_request_daily"):
        op.drop_table(table)
    op.execute("DROP FUNCTION metrics_bucket(float8)")
    op.execute("DROP FUNCTION metrics_seconds(timestamptz, timestamptz)")
