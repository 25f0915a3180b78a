"""SQL functions shared by the read planner and the resolver path.

The read planner (planner/) has PostgreSQL build a whole response as JSON text;
these functions are that text's vocabulary, defined once: a JSON string, the
contract's DateTime and Date, a global ID, a connection cursor (the same bytes
as db.queries.keyset.Ordering.encode), and the invoice status rule of
domain.invoices.invoice_status. They are plain SQL functions (inlined by the
planner of PostgreSQL). tests/planner/test_read_functions.py pins each against
its Python definition.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = {
    # A JSON string (or null), escaped as orjson escapes it (control characters as \u00xx).
    "cg_json_text(value text)": """
        SELECT coalesce(to_json(value)::text, 'null')
    """,
    # The contract's DateTime (schema.scalars): UTC with "Z", microseconds only when not zero.
    "cg_json_datetime(value timestamptz)": """
        SELECT CASE WHEN value IS NULL THEN 'null' ELSE
            '"' || to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
            || CASE WHEN extract(microseconds FROM value AT TIME ZONE 'UTC')::bigint % 1000000 <> 0
                    THEN to_char(value AT TIME ZONE 'UTC', '.US') ELSE '' END
            || 'Z"' END
    """,
    # Python's datetime.isoformat() of an instant read by asyncpg (UTC): the cursors' form.
    "cg_isoformat(value timestamptz)": """
        SELECT to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
            || CASE WHEN extract(microseconds FROM value AT TIME ZONE 'UTC')::bigint % 1000000 <> 0
                    THEN to_char(value AT TIME ZONE 'UTC', '.US') ELSE '' END
            || '+00:00'
    """,
    # The contract's Date.
    "cg_json_date(value date)": """
        SELECT CASE WHEN value IS NULL THEN 'null' ELSE '"' || to_char(value, 'YYYY-MM-DD') || '"' END
    """,
    # A global ID as a JSON string: base64 of "Type:pk" (schema.ids.encode).
    "cg_global_id(type_name text, pk bigint)": """
        SELECT '"' || encode(convert_to(type_name || ':' || pk::text, 'UTF8'), 'base64') || '"'
    """,
    # A connection cursor: unpadded URL-safe base64 of the JSON key (db.queries.keyset.Ordering).
    "cg_cursor(payload text)": """
        SELECT rtrim(translate(replace(encode(convert_to(payload, 'UTF8'), 'base64'), E'\\n', ''),
                               '+/', '-_'), '=')
    """,
    # domain.invoices.invoice_status: VOID; PAID at 0 outstanding; OVERDUE past due; PARTIALLY_PAID
    # below the amount; else OPEN.
    "cg_invoice_status(voided boolean, amount numeric, outstanding numeric, due_on date, today date)": """
        SELECT CASE WHEN voided THEN 'VOID'
                    WHEN outstanding <= 0 THEN 'PAID'
                    WHEN today > due_on THEN 'OVERDUE'
                    WHEN outstanding < amount THEN 'PARTIALLY_PAID'
                    ELSE 'OPEN' END
    """,
}


def upgrade() -> None:
    for signature, body in FUNCTIONS.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {signature} RETURNS text LANGUAGE sql STABLE PARALLEL SAFE "
            f"AS $fn${body}$fn$"
        )


def downgrade() -> None:
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
