"""SQL functions writing a JSONB value as the resolver path's JSON scalar writes it.

The resolver path reads a JSONB column (AuditEntry.before/after) through SQLAlchemy's asyncpg
dialect, which decodes the column's text with the standard library's `json.loads`, and the
response is written by orjson. These functions are that pipeline's bytes, for the read planner:

- objects and arrays compact (no spaces), members in the order `jsonb` stores and prints them
  (the order `json.loads` keeps);
- strings and keys as `cg_json_text` (migration 0009) escapes them: a `jsonb` string prints with
  the same escapes as `to_json` of its text;
- a number without a decimal point is an int to `json.loads`, written as it is (orjson refuses
  ints beyond 64 bits: chr(2), the planner's REFUSED, and the resolver path answers); a number
  with one is a float: the nearest double, written with Python's shortest round-trip digits in
  orjson's form (fixed notation for decimal exponents -5..15, else `d.ddde±x`); beyond a double's
  normal range chr(2) as well.

tests/planner/test_read_functions.py pins them against `orjson.dumps(json.loads(text))`.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A jsonb number's text (numeric's output: no exponent) as orjson writes what json.loads made of it.
JSON_NUMBER = r"""
CREATE OR REPLACE FUNCTION cg_json_number(value_text text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET extra_float_digits = 1
AS $fn$
DECLARE
    magnitude numeric;
    sign text := CASE WHEN left(value_text, 1) = '-' THEN '-' ELSE '' END;
    double float8;
    shortest numeric;
    below numeric;
    above numeric;
    below_ok boolean;
    above_ok boolean;
    parts text[];
    mantissa text;
    digits text;
    places int;
    exponent int;
BEGIN
    IF strpos(value_text, '.') = 0 THEN
        -- An int: orjson writes -2**63 .. 2**64-1 and refuses the rest.
        IF value_text::numeric BETWEEN -9223372036854775808 AND 18446744073709551615 THEN
            RETURN value_text;
        END IF;
        RETURN chr(2);
    END IF;
    magnitude := abs(value_text::numeric);
    IF magnitude = 0 THEN
        RETURN '0.0';  -- numeric has no negative zero
    END IF;
    IF magnitude >= 1e308 OR magnitude < 1e-307 THEN
        RETURN chr(2);  -- inf, subnormal or zero as a double: left to the resolver path
    END IF;
    double := magnitude::float8;  -- the nearest double, as Python's float() reads the text
    -- PostgreSQL's shortest text reads back as the same double, but keeps one digit more than
    -- Python's repr where a shorter decimal lies exactly on the double's rounding bound: shorter
    -- decimals (the two around it) are tried while one reads back; of two, the nearer.
    shortest := double::text::numeric;
    LOOP
        parts := regexp_match(shortest::text, '^([0-9]+)[.]?([0-9]*)$');
        mantissa := parts[1] || parts[2];
        digits := rtrim(ltrim(mantissa, '0'), '0');
        -- The value is 0.<digits> x 10^places.
        places := length(parts[1]) - (length(mantissa) - length(ltrim(mantissa, '0')));
        EXIT WHEN length(digits) <= 1;
        below := trunc(shortest, length(digits) - 1 - places);
        above := below + ('1e' || (places - length(digits) + 1))::numeric;
        below_ok := below > 0 AND below::float8 = double;
        above_ok := above::float8 = double;
        IF below_ok AND above_ok THEN
            IF shortest - below = above - shortest THEN
                RETURN chr(2);
            END IF;
            shortest := CASE WHEN shortest - below < above - shortest THEN below ELSE above END;
        ELSIF below_ok THEN
            shortest := below;
        ELSIF above_ok THEN
            shortest := above;
        ELSE
            EXIT;
        END IF;
    END LOOP;
    exponent := places - 1;
    IF exponent BETWEEN -5 AND 15 THEN
        IF places <= 0 THEN
            RETURN sign || '0.' || repeat('0', -places) || digits;
        ELSIF places >= length(digits) THEN
            RETURN sign || digits || repeat('0', places - length(digits)) || '.0';
        END IF;
        RETURN sign || left(digits, places) || '.' || substr(digits, places + 1);
    END IF;
    RETURN sign || left(digits, 1)
        || CASE WHEN length(digits) > 1 THEN '.' || substr(digits, 2) ELSE '' END
        || 'e' || CASE WHEN exponent > 0 THEN '+' ELSE '-' END || abs(exponent)::text;
END
$fn$
"""

# A jsonb value (SQL NULL: JSON null) as compact JSON text (STABLE as cg_json_text, which it calls).
JSON_VALUE = r"""
CREATE OR REPLACE FUNCTION cg_json(doc jsonb) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $fn$
BEGIN
    CASE jsonb_typeof(doc)
    WHEN 'object' THEN
        RETURN '{' || coalesce(
            (SELECT string_agg(cg_json_text(m.key) || ':' || cg_json(m.value), ',' ORDER BY m.n)
             FROM jsonb_each(doc) WITH ORDINALITY AS m(key, value, n)), '') || '}';
    WHEN 'array' THEN
        RETURN '[' || coalesce(
            (SELECT string_agg(cg_json(m.value), ',' ORDER BY m.n)
             FROM jsonb_array_elements(doc) WITH ORDINALITY AS m(value, n)), '') || ']';
    WHEN 'number' THEN
        RETURN cg_json_number(doc::text);
    ELSE
        -- A string (escaped as cg_json_text escapes), true, false, null; SQL NULL is null too.
        RETURN coalesce(doc::text, 'null');
    END CASE;
END
$fn$
"""


def upgrade() -> None:
    op.execute(JSON_NUMBER)
    op.execute(JSON_VALUE)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cg_json(jsonb)")
    op.execute("DROP FUNCTION IF EXISTS cg_json_number(text)")
