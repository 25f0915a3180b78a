"""Schema-driven fuzzing of /graphql: no input gives a 5xx or an error without a code.

hypothesis-graphql generates queries and mutations from the schema itself (valid ones, and
ones with one schema violation each), with arguments drawn for every scalar, our own
included: `Decimal` as exact decimals and as garbage (so money mutations are fuzzed),
`DateTime` and `Date` in and out of range, strings with NUL characters. Each operation goes
over real HTTP to a uvicorn server on this test's database, as an ADMIN, an AGENT or a
CUSTOMER. Bounded (FUZZ_EXAMPLES) and deterministic (derandomized: the same operations on
every run); `CASEGRAPH_FUZZ_EXAMPLES` raises the bound for a longer run by hand.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries
from sqlalchemy.ext.asyncio import AsyncEngine

from server.schema import build_schema
from server.settings import Settings
from tests.conftest import Tokens
from tests.support.builders import Builder
from tests.support.live import serving

FUZZ_EXAMPLES = int(os.environ.get("CASEGRAPH_FUZZ_EXAMPLES", "240"))

_DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**15), max_value=10**15).map(
        str
    ),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["1e400", "1e999999", "-1e-400", "1" + "0" * 40, "NaN", "abc", "", " 1.5 ", "0.001"]),
)
_INSTANTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
).map(datetime.isoformat)
_ZONES = st.sampled_from([timezone(timedelta(hours=-14)), timezone(timedelta(hours=14)), UTC])
CUSTOM_SCALARS = {
    "Decimal": st.one_of(_DECIMALS.map(nodes.String), st.integers().map(nodes.Int)),
    "DateTime": st.one_of(
        _INSTANTS.map(nodes.String),
        st.datetimes(min_value=datetime(9999, 12, 31), timezones=_ZONES).map(
            lambda d: nodes.String(d.isoformat())
        ),
        st.sampled_from(["2026-13-45T00:00:00Z", "2026-11-23T00:00:00", "yesterday"]).map(nodes.String),
    ),
    "Date": st.one_of(
        st.dates(min_value=date(1, 1, 1)).map(nodes.String), st.text(max_size=12).map(nodes.String)
    ),
    "JSON": st.text(max_size=20).map(nodes.String),
}


async def _serve(settings: Settings) -> AsyncIterator[str]:
    async with serving(settings, log_level="critical") as url:
        yield url


@pytest.fixture
async def fuzz_url(db_url: str) -> AsyncIterator[str]:
    # Rate limits would answer the fuzzer's volume with 429s (coded, but nothing exercised).
    settings = Settings(
        DATABASE_URL=db_url, CASEGRAPH_ENV="test", CASEGRAPH_WORKERS=False, RATE_LIMIT_POINTS=10**9
    )
    async for url in _serve(settings):
        yield url


def _root_fields(document: str) -> set[str]:
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError:
        return set()
    found = set()
    for definition in parsed.definitions:
        if isinstance(definition, graphql.OperationDefinitionNode):
            kind = definition.operation.value
            found |= {
                f"{kind}.{s.name.value}"
                for s in definition.selection_set.selections
                if isinstance(s, graphql.FieldNode)
            }
    return found


async def test_no_operation_is_a_5xx_or_an_uncoded_error(
    engine: AsyncEngine, tokens: Tokens, fuzz_url: str
) -> None:
    b = Builder(engine, now=datetime.now(UTC))
    team = await b.team(name="Customer Service")
    agent = await b.staff(name="Ada", email="ada@example.com", role="AGENT", teams=[team])
    await b.staff(
        name="Admin", email="admin@example.com", role="ADMIN", approval_level="CONTROLLER", teams=[team]
    )
    acme = await b.customer(name="Acme", external_ref="C-1001")
    invoice = await b.invoice(customer=acme, amount="500.00")
    await b.payment(customer=acme)
    await b.request(customer=acme, invoice=invoice, team=team, assignee=agent, subject="Charged twice")
    callers = [
        tokens.staff("admin@example.com"),
        tokens.staff("ada@example.com", role="AGENT"),
        tokens.customer("C-1001"),
    ]
    sdl = graphql.print_schema(build_schema()._schema)
    schema = graphql.build_schema(sdl)
    roots = {f"query.{n}" for n in schema.query_type.fields} | {
        f"mutation.{n}" for n in schema.mutation_type.fields
    }  # type: ignore[union-attr]
    # Valid operations one root field at a time, a few each (every root field is reached by
    # construction), then operations with one schema violation each.
    per_field = [
        strategy(schema, fields=[name], custom_scalars=CUSTOM_SCALARS)
        for strategy, root in ((queries, schema.query_type), (mutations, schema.mutation_type))
        for name in root.fields  # type: ignore[union-attr]
    ]
    invalid = st.one_of(
        *(
            strategy(schema, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE)
            for strategy in (queries, mutations)
        )
    )
    sent: list[int] = []
    covered: set[str] = set()
    findings: list[tuple[str, int, Any]] = []

    def send(http: httpx.Client, document: str, caller: str) -> None:
        response = http.post(
            "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {caller}"}
        )
        sent.append(response.status_code)
        covered.update(_root_fields(document))
        if response.status_code >= 500:
            findings.append((document, response.status_code, response.text[:300]))
            return
        body = response.json()
        uncoded = [
            e
            for e in body.get("errors") or []
            if not (e.get("extensions") or {}).get("code") or e.get("message") == "Internal server error."
        ]
        if uncoded:
            findings.append((document, response.status_code, uncoded))

    def bounded(examples: int) -> Any:
        return settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )

    each = max(FUZZ_EXAMPLES // (2 * len(per_field)), 1)

    def run() -> None:
        with httpx.Client(base_url=fuzz_url, timeout=30) as http:
            for documents in per_field:
                bounded(each)(given(document=documents, caller=st.sampled_from(callers))(send))(http)
            bounded(FUZZ_EXAMPLES // 2)(given(document=invalid, caller=st.sampled_from(callers))(send))(http)

    await asyncio.to_thread(run)
    summary = (
        f"fuzzed /graphql: {len(sent)} requests, {len(covered & roots)} of {len(roots)} root fields, "
        f"{sum(s < 300 for s in sent)} 2xx, {sum(400 <= s < 500 for s in sent)} 4xx, "
        f"{len(findings)} findings; "
        f"not reached: {', '.join(sorted(roots - covered)) or 'none'}"
    )
    print(summary, file=sys.stderr)
    assert findings == [], summary
    # Every root field was reached (the summary names any that was not).
    assert roots <= covered, sorted(roots - covered)
