"""Concurrent changes stop queueing behind each other on two hot rows.

1. Metrics rollups: two transactions changing requests of the same day, team
   and type upserted the same rollup row, so the second waited for the
   first's commit from its UPDATE of service_requests on (32 agents of one
   team serialised behind a single row). Every rollup row now carries a
   `shard` (the writing backend's pid modulo 16, a column default the
   triggers leave to PostgreSQL); the key includes it, so concurrent writers
   on different connections touch different rows. Readers already sum over
   rows, so they need no change; a key's rows per shard add up to its total.

2. The audit chain: appenders locked `audit_head` with SELECT … FOR UPDATE
   and held it across three more round trips to the client (insert the
   entries, update the head, commit), while an event loop busy with other
   requests decided when those round trips happened. Now a change inserts its
   entries into `audit_pending` (with the canonical text of each entry up to
   its sequence number, computed by db.audit), and a deferred constraint
   trigger chains them at COMMIT, inside PostgreSQL: it locks the head,
   numbers the entries, hashes them (SHA-256 hex of previous hash + canonical
   text, the same bytes db.audit.verify_chain recomputes), moves them to
   audit_entries and advances the head. The head is held for microseconds,
   never across a network round trip, and chain order is commit order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 16
SHARD_DEFAULT = f"(pg_backend_pid() % {SHARDS})"

# (table, key columns as in 0005)
ROLLUP_KEYS = {
    "metrics_request_daily": ("day", "team_key", "type", "dimension", "key"),
    "metrics_duration_daily": ("day", "team_key", "type", "metric", "bucket"),
    "metrics_sla_daily": ("day", "team_key", "type"),
}


def _metrics_migration() -> Any:
    """The rollup statements of 0005 (frozen history), to re-target their upserts."""
    path = Path(__file__).with_name("0005_metrics_indexes.py")
    spec = importlib.util.spec_from_file_location("casegraph_migration_0005", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sharded(statement: str) -> str:
    """A 0005 rollup upsert whose conflict target includes the shard (filled by the column default)."""
    for columns in ROLLUP_KEYS.values():
        old = f"ON CONFLICT ({', '.join(columns)})"
        statement = statement.replace(old, f"ON CONFLICT ({', '.join((*columns, 'shard'))})")
    return statement


def rollup_statements(source: str) -> list[str]:
    """The rollup upserts for the rows of `source` (columns of service_requests plus `sign`)."""
    return [sharded(statement) for statement in _metrics_migration()._apply(source)]


def _trigger_functions(shard_targets: bool) -> list[str]:
    m = _metrics_migration()
    functions = []
    for event in m.TRIGGERS:
        body = m._trigger_function(event).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
        functions.append(sharded(body) if shard_targets else body)
    return functions


AUDIT_CHAIN_FUNCTION = """
CREATE FUNCTION audit_chain_pending() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    head_sequence bigint;
    head_hash text;
    entry record;
    digest text;
    moved bigint[] := '{}';
BEGIN
    -- Fires once per pending row at COMMIT; the first firing of a transaction chains them all.
    PERFORM 1 FROM audit_pending LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT sequence, hash INTO head_sequence, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;
    FOR entry IN SELECT * FROM audit_pending ORDER BY id LOOP
        head_sequence := head_sequence + 1;
        digest := encode(sha256(convert_to(
            head_hash || entry.canonical_prefix || head_sequence::text || '}', 'UTF8')), 'hex');
        INSERT INTO audit_entries (sequence, occurred_at, actor_subject, action, entity_type, entity_id,
                                   before, after, previous_hash, hash)
        VALUES (head_sequence, entry.occurred_at, entry.actor_subject, entry.action, entry.entity_type,
                entry.entity_id, entry.before, entry.after, head_hash, digest);
        head_hash := digest;
        moved := moved || entry.id;
    END LOOP;
    DELETE FROM audit_pending WHERE id = ANY (moved);
    UPDATE audit_head SET sequence = head_sequence, hash = head_hash WHERE id = 1;
    RETURN NULL;
END
$fn$
"""


def upgrade() -> None:
    for table, columns in ROLLUP_KEYS.items():
        op.add_column(
            table, sa.Column("shard", sa.SmallInteger(), server_default=sa.text("0"), nullable=False)
        )
        op.alter_column(table, "shard", server_default=sa.text(SHARD_DEFAULT))
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, [*columns, "shard"])
    for function in _trigger_functions(shard_targets=True):
        op.execute(function)

    op.create_table(
        "audit_pending",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_subject", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("before", sa.dialects.postgresql.JSONB(), nullable=True),
        sa.Column("after", sa.dialects.postgresql.JSONB(), nullable=True),
        sa.Column("canonical_prefix", sa.Text(), nullable=False),
    )
    op.execute(AUDIT_CHAIN_FUNCTION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER audit_chain_at_commit AFTER INSERT ON audit_pending "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain_pending()"
    )
    op.execute("ALTER TABLE audit_pending ENABLE ALWAYS TRIGGER audit_chain_at_commit")


def downgrade() -> None:
    op.execute("DROP TABLE audit_pending")
    op.execute("DROP FUNCTION audit_chain_pending()")
    for function in _trigger_functions(shard_targets=False):
        op.execute(function)
    for table, columns in ROLLUP_KEYS.items():
        # Fold the shards back into one row per key before the narrower key returns.
        keys = ", ".join(columns)
        measures = _measures(table)
        sums = ", ".join(f"sum({c}) AS {c}" for c in measures)
        op.execute(f"CREATE TEMP TABLE folded AS SELECT {keys}, {sums} FROM {table} GROUP BY {keys}")
        op.execute(f"DELETE FROM {table}")
        op.execute(f"INSERT INTO {table} ({keys}, {', '.join(measures)}) SELECT * FROM folded")
        op.execute("DROP TABLE folded")
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.drop_column(table, "shard")
        op.create_primary_key(f"pk_{table}", table, list(columns))


def _measures(table: str) -> list[str]:
    return {
        "metrics_request_daily": [
            "n", "breach_recorded", "ever_resolved", "reopened", "fr_count", "fr_seconds", "res_count",
            "res_seconds",
        ],
        "metrics_duration_daily": ["n"],
        "metrics_sla_daily": ["due", "met"],
    }[table]  # fmt: skip
