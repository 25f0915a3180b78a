"""The planner's floats pinned to Python (migration 0018): cg_json_float writes a float8 as orjson
writes the Python float, cg_decimal_div divides as Python's decimal module does; through the real
database, over random doubles (integral, tiny, subnormal, huge, negative) and amounts."""

from __future__ import annotations

import random
import struct
from decimal import Decimal

import asyncpg
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import risk

RENDER = (
    "SELECT coalesce(string_agg(cg_json_float(v), ' ' ORDER BY i), '') "
    "FROM unnest($1::float8[]) WITH ORDINALITY AS t(v, i)"
)
DIVIDE = (
    "SELECT array_agg(cg_decimal_div(a, b)::text ORDER BY i), "
    "array_agg(cg_decimal_div(a, b)::float8 ORDER BY i) "
    "FROM unnest($1::numeric[], $2::numeric[]) WITH ORDINALITY AS t(a, b, i)"
)
EDGES = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    100.0,
    0.1,
    2.5,
    1e15,
    1e16,
    1.5e16,
    9007199254740992.0,
    9007199254740993.0,
    5.731984212187042e16,  # PostgreSQL's shortest digits differ here (an interval's end)
    1234567890123456.7,
    1e22,
    1e23,
    1e-4,
    1e-5,
    3e-5,
    1e-6,
    1.2345e-7,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    123.456,
    86400.0,
    1 / 3,
    2 / 3,
]

_SETTINGS = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _python(values: list[float]) -> str:
    return " ".join(orjson.dumps(v).decode() for v in values)


async def _rendered(conn: asyncpg.Connection, values: list[float]) -> str:
    return await conn.fetchval(RENDER, values)  # type: ignore[no-any-return]


def _from_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]  # type: ignore[no-any-return]


async def test_json_float_edges_and_null(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        assert await _rendered(conn, EDGES) == _python(EDGES)
        assert await conn.fetchval("SELECT cg_json_float(NULL)") == "null"
        # The output does not depend on the session's float setting.
        await conn.execute("SET extra_float_digits = -15")
        assert await _rendered(conn, EDGES) == _python(EDGES)
    finally:
        await conn.close()


async def test_json_float_over_random_bit_patterns(db_url: str) -> None:
    """Every finite double is as likely as any other: mostly huge and tiny magnitudes."""
    rng = random.Random(20261205)
    values = [_from_bits(rng.getrandbits(64)) for _ in range(60_000)]
    # Integral values near and past 2^53, and values of the magnitudes the API shows.
    values += [float(rng.randrange(-(10**20), 10**20)) for _ in range(20_000)]
    values += [rng.random() * 10 ** rng.randint(-8, 18) for _ in range(20_000)]
    values = [v for v in values if v == v and abs(v) != float("inf")]
    conn = await asyncpg.connect(db_url)
    try:
        for at in range(0, len(values), 5_000):
            chunk = values[at : at + 5_000]
            assert await _rendered(conn, chunk) == _python(chunk)
    finally:
        await conn.close()


@pytest.fixture
async def conn(db_url: str) -> asyncpg.Connection:
    connection = await asyncpg.connect(db_url)
    yield connection
    await connection.close()


doubles = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e-300, max_value=1e-300),
    st.floats(min_value=-1e25, max_value=1e25).map(round).map(float),
    st.integers(-(2**70), 2**70).map(float),
    st.integers(0, 2**64 - 1).map(_from_bits).filter(lambda v: v == v and abs(v) != float("inf")),
)


@_SETTINGS
@given(values=st.lists(doubles, min_size=1, max_size=60))
async def test_json_float_is_orjsons(conn: asyncpg.Connection, values: list[float]) -> None:
    assert await _rendered(conn, values) == _python(values)


# NUMERIC(18, 2) amounts, as stored (financial statements, invoices).
amounts = st.integers(-(10**18) + 1, 10**18 - 1).map(lambda cents: Decimal(cents).scaleb(-2))
positive = st.one_of(
    st.integers(1, 10**18 - 1).map(lambda cents: Decimal(cents).scaleb(-2)),
    st.integers(0, 59).map(lambda k: Decimal(2**k).scaleb(-2)),  # quotients that end in a tie
    st.integers(0, 25).map(lambda k: Decimal(5**k).scaleb(-2)),
)


@_SETTINGS
@given(pairs=st.lists(st.tuples(amounts, positive), min_size=1, max_size=40))
async def test_decimal_division_is_pythons(
    conn: asyncpg.Connection, pairs: list[tuple[Decimal, Decimal]]
) -> None:
    texts, floats = await conn.fetchrow(DIVIDE, [a for a, _ in pairs], [b for _, b in pairs])
    for (a, b), text, value in zip(pairs, texts, floats, strict=True):
        assert Decimal(text) == a / b, (a, b)
        assert value == float(a / b), (a, b)


@_SETTINGS
@given(noi=amounts, tds=positive, assets=st.none() | amounts, liabilities=st.none() | amounts)
async def test_financial_health_ratios_are_domain_risks(
    conn: asyncpg.Connection, noi: Decimal, tds: Decimal, assets: Decimal | None, liabilities: Decimal | None
) -> None:
    """planner.credit's ratios and rating of a statement (its SQL run on these values) are those of
    domain.risk.financial_health."""
    from planner.credit import dscr_sql, statement_health_sql

    quotient = dscr_sql("$1::numeric", "$2::numeric")
    dscr, ratio, rating = statement_health_sql(quotient, "$3::numeric", "$4::numeric")
    found = await conn.fetchrow(
        f"SELECT {dscr} AS dscr, {ratio} AS ratio, {rating} AS rating", noi, tds, assets, liabilities
    )
    health = risk.financial_health(
        net_operating_income=noi,
        total_debt_service=tds,
        current_assets=assets,
        current_liabilities=liabilities,
    )
    assert found["dscr"] == orjson.dumps(float(health.dscr)).decode()
    expected_ratio = None if health.current_ratio is None else float(health.current_ratio)
    assert found["ratio"] == orjson.dumps(expected_ratio).decode()
    assert found["rating"] == orjson.dumps(health.rating.value).decode()
