"""SQL functions for the read planner's floats and exact ratios.

- cg_json_float(float8): a float as orjson writes a Python float (the response's bytes): the
  shortest round-trip digits, as PostgreSQL's float8 output (extra_float_digits > 0) also
  finds them, laid out the way orjson lays them out ("100.0", "0.00001", "1e-6", "1.5e+16").
  Plain SQL for what PostgreSQL already writes that way (inlined), cg_json_float_layout for
  the rest.
- cg_decimal_div(numeric, numeric): a / b as Python's decimal module divides in its default
  context (28 significant digits, half to even), so that a ratio of stored amounts computed in
  Python (domain.risk) and in SQL is the same number; cg_decimal_ratio(numeric, numeric) is
  float() of that quotient (a zero divided by a negative is -0.0, as in Python).

tests/planner/test_float_functions.py pins both against Python over random values.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The digits and decimal exponent k of PostgreSQL's shortest output (value = 0.DIGITS x 10^k),
# then orjson's layout: fixed notation for -4 <= k <= 16, otherwise d[.ddd]e(+|-)x.
JSON_FLOAT_LAYOUT = r"""
CREATE OR REPLACE FUNCTION cg_json_float_layout(value float8) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET extra_float_digits = 1
AS $fn$
DECLARE
    t text;
    sign text := '';
    e int;
    int_part text;
    digits text;
    k int;
    n int;
    shorter text;
BEGIN
    IF value IS NULL OR value IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) THEN
        RETURN 'null';
    END IF;
    t := value::text;
    IF left(t, 1) = '-' THEN
        sign := '-';
        t := substr(t, 2);
    END IF;
    IF t = '0' THEN
        RETURN sign || '0.0';
    END IF;
    e := strpos(t, 'e');
    IF e > 0 THEN
        digits := replace(left(t, e - 1), '.', '');
        k := substr(t, e + 1)::int + 1;
    ELSE
        int_part := split_part(t, '.', 1);
        digits := int_part || split_part(t, '.', 2);
        k := length(int_part) - (length(digits) - length(ltrim(digits, '0')));
        digits := ltrim(digits, '0');
    END IF;
    digits := rtrim(digits, '0');
    n := length(digits);
    -- PostgreSQL's shortest digits exclude the rounding interval's ends; Python's include them
    -- when ties to even land on the value, which makes a difference only for integers of 2^53
    -- and more (the ends of smaller values have more digits): the shortest that reads back.
    IF abs(value) >= 9007199254740992 THEN
        FOR m IN 1 .. n - 1 LOOP
            shorter := left(digits, m);
            IF (shorter || 'e' || (k - m)::text)::float8 <> abs(value) THEN
                shorter := (shorter::numeric + 1)::text;
                IF (shorter || 'e' || (k - m)::text)::numeric > 1.7976931348623157e308
                    OR (shorter || 'e' || (k - m)::text)::float8 <> abs(value) THEN
                    CONTINUE;
                END IF;
                IF length(shorter) > m THEN  -- 99 + 1
                    k := k + 1;
                END IF;
            END IF;
            digits := rtrim(shorter, '0');
            n := length(digits);
            EXIT;
        END LOOP;
    END IF;
    IF k > 16 OR k < -4 THEN
        RETURN sign || left(digits, 1) || CASE WHEN n > 1 THEN '.' || substr(digits, 2) ELSE '' END
            || 'e' || CASE WHEN k >= 1 THEN '+' ELSE '-' END || abs(k - 1)::text;
    ELSIF k <= 0 THEN
        RETURN sign || '0.' || repeat('0', -k) || digits;
    ELSIF k < n THEN
        RETURN sign || left(digits, k) || '.' || substr(digits, k + 1);
    END IF;
    RETURN sign || digits || repeat('0', k - n) || '.0';
END
$fn$
"""

# What PostgreSQL writes in fixed notation (1e-4 <= |value| < 1e15: shortest digits, never an
# interval's end) is orjson's text already, or lacks only ".0" when integral; the rest is laid out
# anew. Plain SQL, inlined into the statement for that common case.
JSON_FLOAT = r"""
CREATE OR REPLACE FUNCTION cg_json_float(value float8) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT CASE
        WHEN value IS NULL THEN 'null'
        WHEN strpos(value::text, 'e') > 0 OR value IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)
             OR current_setting('extra_float_digits')::int < 1 THEN cg_json_float_layout(value)
        WHEN strpos(value::text, '.') > 0 THEN value::text
        ELSE value::text || '.0'
    END
$fn$
"""

# The exact quotient rounded to 28 significant digits, half to even (decimal.DefaultContext).
DECIMAL_DIV = r"""
CREATE OR REPLACE FUNCTION cg_decimal_div(a numeric, b numeric) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
DECLARE
    x numeric := abs(a);
    y numeric := abs(b);
    e int;
    scaled numeric;
    q numeric;
    twice numeric;
BEGIN
    IF b = 0 THEN
        RAISE EXCEPTION 'division by zero' USING ERRCODE = 'division_by_zero';
    END IF;
    IF a = 0 THEN
        RETURN 0;
    END IF;
    -- e: the decimal exponent of the quotient's first digit (estimated in floats, then made exact).
    IF x < 1e300 AND y < 1e300 AND x > 1e-300 AND y > 1e-300 THEN
        e := floor(log(CAST(x AS float8) / CAST(y AS float8)))::int;
    ELSE
        e := floor(log(x / y))::int;
    END IF;
    LOOP
        scaled := x * ('1e' || (27 - e)::text)::numeric;
        q := div(scaled, y);
        IF q >= 1e28 THEN
            e := e + 1;
        ELSIF q < 1e27 THEN
            e := e - 1;
        ELSE
            EXIT;
        END IF;
    END LOOP;
    twice := 2 * (scaled - q * y);
    IF twice > y OR (twice = y AND mod(q, 2) = 1) THEN
        q := q + 1;
    END IF;
    RETURN sign(a) * sign(b) * q * ('1e' || (e - 27)::text)::numeric;
END
$fn$
"""

# float(a / b) of two Decimals: the quotient's float, and its sign when it is zero (a Decimal
# zero divided by a negative is -0, which PostgreSQL's numeric cannot hold).
DECIMAL_RATIO = r"""
CREATE OR REPLACE FUNCTION cg_decimal_ratio(a numeric, b numeric) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN a = 0 AND b < 0 THEN CAST('-0' AS float8) ELSE CAST(cg_decimal_div(a, b) AS float8) END
$fn$
"""


def upgrade() -> None:
    op.execute(JSON_FLOAT_LAYOUT)
    op.execute(JSON_FLOAT)
    op.execute(DECIMAL_DIV)
    op.execute(DECIMAL_RATIO)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cg_decimal_ratio(numeric, numeric)")
    op.execute("DROP FUNCTION IF EXISTS cg_decimal_div(numeric, numeric)")
    op.execute("DROP FUNCTION IF EXISTS cg_json_float(float8)")
    op.execute("DROP FUNCTION IF EXISTS cg_json_float_layout(float8)")
