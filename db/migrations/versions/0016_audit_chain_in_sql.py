"""The audit chain's canonical text and its verification, defined once, in SQL.

The hash of an entry covers a canonical JSON text of its content (LIFECYCLE.md §6). It was
written in Python (db.audit.canonical) when a change queued its entries, and recomputed in
Python by `verifyAuditChain`. Now one definition serves the chaining trigger and both read
paths (the resolvers and the read planner call `cg_audit_verify()`):

- `cg_json_canonical(jsonb)`: keys sorted by code point, no spaces, strings escaped as JSON
  requires and no more (non-ASCII written as is), numbers as stored: the text Python's
  `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` writes
  for the values the write path stores (strings, integers, booleans, null, decimals written
  without an exponent; amounts and instants are strings).
- `cg_audit_canonical(...)`: the entry's canonical text, `sequence` last.
- `audit_chain_pending()`: the COMMIT trigger (migration 0007) hashes that text; queued rows
  no longer carry a text made elsewhere (`audit_pending.canonical_prefix` is dropped).
- `cg_audit_verify()`: every entry recomputed in one statement (one snapshot): sequences
  contiguous from 1, each linked to the previous hash, each hash recomputable, and the head
  row not ahead of the table (a deleted tail).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64

# plpgsql: a recursive SQL-language function cannot be created (its body names itself).
JSON_CANONICAL = """
CREATE OR REPLACE FUNCTION cg_json_canonical(value jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
BEGIN
    CASE jsonb_typeof(value)
    WHEN 'object' THEN
        RETURN '{' || coalesce((
            SELECT string_agg(to_json(e.key)::text || ':' || cg_json_canonical(e.value), ','
                              ORDER BY e.key COLLATE "C")
            FROM jsonb_each(value) AS e), '') || '}';
    WHEN 'array' THEN
        RETURN '[' || coalesce((
            SELECT string_agg(cg_json_canonical(a.value), ',' ORDER BY a.i)
            FROM jsonb_array_elements(value) WITH ORDINALITY AS a(value, i)), '') || ']';
    ELSE
        RETURN value::text;  -- a string (JSON-escaped), a number as stored, true, false or null
    END CASE;
END
$fn$
"""

AUDIT_CANONICAL = """
CREATE OR REPLACE FUNCTION cg_audit_canonical(
    sequence bigint, occurred_at timestamptz, actor_subject text, action text,
    entity_type text, entity_id text, before jsonb, after jsonb
) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT '{"action":' || to_json(action)::text
        || ',"actorSubject":' || to_json(actor_subject)::text
        || ',"after":' || coalesce(cg_json_canonical(after), 'null')
        || ',"before":' || coalesce(cg_json_canonical(before), 'null')
        || ',"entityId":' || to_json(entity_id)::text
        || ',"entityType":' || to_json(entity_type)::text
        || ',"occurredAt":"' || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
        || '+00:00","sequence":' || sequence::text || '}'
$fn$
"""

AUDIT_HASH = """
CREATE OR REPLACE FUNCTION cg_audit_hash(previous_hash text, content text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
    SELECT encode(sha256(convert_to(previous_hash || content, 'UTF8')), 'hex')
$fn$
"""

CHAIN_TRIGGER = """
CREATE OR REPLACE FUNCTION audit_chain_pending() RETURNS trigger LANGUAGE plpgsql AS $fn$
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
        digest := cg_audit_hash(head_hash, cg_audit_canonical(
            head_sequence, entry.occurred_at, entry.actor_subject, entry.action, entry.entity_type,
            entry.entity_id, entry.before, entry.after));
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

VERIFY = f"""
CREATE OR REPLACE FUNCTION cg_audit_verify(
    OUT valid boolean, OUT checked_entries bigint, OUT first_invalid_sequence bigint
) LANGUAGE sql STABLE AS $fn$
    WITH chain AS (
        SELECT e.sequence, e.hash,
               row_number() OVER w AS position,
               coalesce(
                   e.sequence = row_number() OVER w
                   AND e.previous_hash = lag(e.hash, 1, '{GENESIS}') OVER w
                   AND e.hash = cg_audit_hash(lag(e.hash, 1, '{GENESIS}') OVER w, cg_audit_canonical(
                       e.sequence, e.occurred_at, e.actor_subject, e.action, e.entity_type,
                       e.entity_id, e.before, e.after)),
                   false) AS ok
        FROM audit_entries AS e
        WINDOW w AS (ORDER BY e.sequence)
    ),
    first_bad AS (SELECT position, sequence FROM chain WHERE NOT ok ORDER BY position LIMIT 1),
    tail AS (
        SELECT count(*) AS checked, coalesce(max(sequence), 0) AS last,
               (SELECT hash FROM chain ORDER BY position DESC LIMIT 1) AS last_hash
        FROM chain
    )
    SELECT CASE WHEN f.position IS NOT NULL THEN false
                -- Entries deleted from the tail: the head remembers more than the table holds.
                WHEN h.sequence <> t.last OR (t.last <> 0 AND h.hash <> t.last_hash) THEN false
                ELSE true END,
           coalesce(f.position, t.checked),
           CASE WHEN f.position IS NOT NULL THEN f.sequence
                WHEN h.sequence <> t.last OR (t.last <> 0 AND h.hash <> t.last_hash) THEN t.last + 1
           END
    FROM tail AS t
    CROSS JOIN (SELECT sequence, hash FROM audit_head WHERE id = 1) AS h
    LEFT JOIN first_bad AS f ON true
$fn$
"""

# Migration 0007's trigger: the canonical text made in Python, queued with the row.
OLD_CHAIN_TRIGGER = CHAIN_TRIGGER.replace(
    """digest := cg_audit_hash(head_hash, cg_audit_canonical(
            head_sequence, entry.occurred_at, entry.actor_subject, entry.action, entry.entity_type,
            entry.entity_id, entry.before, entry.after));""",
    """digest := encode(sha256(convert_to(
            head_hash || entry.canonical_prefix || head_sequence::text || '}', 'UTF8')), 'hex');""",
)


def upgrade() -> None:
    op.execute(JSON_CANONICAL)
    op.execute(AUDIT_CANONICAL)
    op.execute(AUDIT_HASH)
    op.execute(CHAIN_TRIGGER)
    op.execute(VERIFY)
    op.drop_column("audit_pending", "canonical_prefix")


def downgrade() -> None:
    # Pending rows exist only inside transactions: the column comes back empty and required.
    op.add_column("audit_pending", sa.Column("canonical_prefix", sa.Text(), nullable=False))
    op.execute(OLD_CHAIN_TRIGGER)
    op.execute("DROP FUNCTION cg_audit_verify()")
    op.execute("DROP FUNCTION cg_audit_hash(text, text)")
    op.execute("DROP FUNCTION cg_audit_canonical(bigint, timestamptz, text, text, text, text, jsonb, jsonb)")
    op.execute("DROP FUNCTION cg_json_canonical(jsonb)")
