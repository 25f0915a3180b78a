"""Rate-limit counters, subscription leases and the trusted-documents registry (LIMITS.md).

- `rate_limit_windows`: one row per rate-limit key holding the sliding-window counter of
  the `limits` library's sliding-window strategy (current and previous window), changed
  only through `rate_limit_acquire`, which takes the row lock, rolls the windows and
  adds the amount only when it fits, in one statement.
- `subscription_leases`: one row per live subscription, renewed by its server process
  while the subscription lives, so a crashed process's subscriptions expire by
  themselves; `subscription_lease_acquire` counts and inserts under a per-principal
  advisory lock.
- `trusted_documents`: the registry loaded by `casegraph documents register`.
- business rule set `rate_limits`: per-role budgets overriding RATE_LIMIT_POINTS (none).

Both functions read the database's clock: every process and replica then agrees on
where a window starts, as they would on a Redis server's clock.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RATE_LIMIT_RULES: dict[str, dict[str, int]] = {"points_per_minute_by_role": {}}

_ACQUIRE_WINDOW = """
CREATE FUNCTION rate_limit_acquire(p_key text, p_limit bigint, p_expiry double precision, p_amount bigint)
RETURNS TABLE (acquired boolean, previous_count bigint, previous_ttl double precision,
               current_count bigint, current_ttl double precision)
LANGUAGE plpgsql AS $$
DECLARE
    now_ts timestamptz := clock_timestamp();
    w rate_limit_windows%ROWTYPE;
    elapsed double precision;
BEGIN
    INSERT INTO rate_limit_windows (key, window_start, current_count, previous_count, expires_at)
    VALUES (p_key, now_ts, 0, 0, now_ts + make_interval(secs => 2 * p_expiry))
    ON CONFLICT (key) DO NOTHING;
    SELECT * INTO w FROM rate_limit_windows r WHERE r.key = p_key FOR UPDATE;
    elapsed := extract(epoch FROM now_ts - w.window_start);
    IF elapsed >= 2 * p_expiry THEN
        -- Both windows are over: start afresh.
        w.window_start := now_ts; w.previous_count := 0; w.current_count := 0; elapsed := 0;
    ELSIF elapsed >= p_expiry THEN
        -- The current window becomes the previous one.
        w.window_start := w.window_start + make_interval(secs => p_expiry);
        w.previous_count := w.current_count; w.current_count := 0; elapsed := elapsed - p_expiry;
    END IF;
    previous_ttl := p_expiry - elapsed;
    current_ttl := 2 * p_expiry - elapsed;
    acquired := p_amount <= p_limit
        AND floor(w.previous_count * previous_ttl / p_expiry) + w.current_count + p_amount <= p_limit;
    IF acquired THEN
        w.current_count := w.current_count + p_amount;
    END IF;
    UPDATE rate_limit_windows r
       SET window_start = w.window_start, current_count = w.current_count,
           previous_count = w.previous_count,
           expires_at = w.window_start + make_interval(secs => 2 * p_expiry)
     WHERE r.key = p_key;
    previous_count := w.previous_count;
    current_count := w.current_count;
    RETURN NEXT;
END $$
"""

_ACQUIRE_LEASE = """
CREATE FUNCTION subscription_lease_acquire(p_principal text, p_lease text, p_limit integer,
                                           p_ttl double precision)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    now_ts timestamptz := clock_timestamp();
    live integer;
BEGIN
    -- Serializes the count-then-insert of one principal across every connection and process.
    PERFORM pg_advisory_xact_lock(hashtextextended('subscription_lease:' || p_principal, 0));
    DELETE FROM subscription_leases WHERE principal = p_principal AND expires_at <= now_ts;
    SELECT count(*) INTO live FROM subscription_leases WHERE principal = p_principal;
    IF live >= p_limit THEN
        RETURN false;
    END IF;
    INSERT INTO subscription_leases (lease, principal, expires_at)
    VALUES (p_lease, p_principal, now_ts + make_interval(secs => p_ttl));
    RETURN true;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_count", sa.BigInteger(), nullable=False),
        sa.Column("previous_count", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_windows")),
    )
    op.create_index(op.f("ix_rate_limit_windows_expires_at"), "rate_limit_windows", ["expires_at"])
    op.create_table(
        "subscription_leases",
        sa.Column("lease", sa.Text(), nullable=False),
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lease", name=op.f("pk_subscription_leases")),
    )
    op.create_index(op.f("ix_subscription_leases_principal"), "subscription_leases", ["principal"])
    op.create_table(
        "trusted_documents",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column(
            "registered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_trusted_documents_sha256_hex")),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_trusted_documents")),
    )
    op.execute(_ACQUIRE_WINDOW)
    op.execute(_ACQUIRE_LEASE)
    op.execute(
        sa.text(
            "INSERT INTO business_rules (name, rules) VALUES ('rate_limits', CAST(:rules AS jsonb))"
        ).bindparams(rules=json.dumps(RATE_LIMIT_RULES))
    )


def downgrade() -> None:
    op.execute("DELETE FROM business_rules WHERE name = 'rate_limits'")
    op.execute("DROP FUNCTION subscription_lease_acquire(text, text, integer, double precision)")
    op.execute("DROP FUNCTION rate_limit_acquire(text, bigint, double precision, bigint)")
    op.drop_table("trusted_documents")
    op.drop_index("ix_subscription_leases_principal", table_name="subscription_leases")
    op.drop_table("subscription_leases")
    op.drop_index("ix_rate_limit_windows_expires_at", table_name="rate_limit_windows")
    op.drop_table("rate_limit_windows")
