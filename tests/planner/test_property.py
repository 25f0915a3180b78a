"""Property: for any query operation over the schema, as any role, READ_PLANNER=on answers exactly
what READ_PLANNER=off (the resolver path) answers: same status, data, errors and extensions.

Documents come from tests.planner.generate (fields, nested connections with first/last/after/
before, fragments, inline fragments, aliases, variables, @include/@skip, __typename, filters),
with real IDs and cursors of the seed-demo database. Derandomized and bounded, so CI runs the same
examples every time in well under half a minute.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.schema import build_schema
from tests.planner.generate import Doc, operations
from tests.planner.support import PRINCIPALS, Answer, Pair, Pool, planner_present, record_finding

SCHEMA = build_schema()._schema
EXAMPLES = 100

# Cursors of every connection, answered by the seeded database (harvested once, as ADMIN).
HARVEST = """{
  customers(first: 3) { edges { cursor } nodes {
    invoices(first: 3) { edges { cursor } nodes { serviceRequests(first: 2) { edges { cursor } } } }
    payments(first: 3) { edges { cursor } }
    serviceRequests(first: 3) { edges { cursor } } } }
  serviceRequests(first: 3) { edges { cursor } nodes {
    comments(first: 3) { edges { cursor } } events(first: 3) { edges { cursor } } } }
  invoices(first: 3) { edges { cursor } }
  approvals(first: 3) { edges { cursor } }
  auditLog(first: 3) { edges { cursor } }
}"""

_CONNECTION_OF = {
    "customers": "CustomerConnection",
    "invoices": "InvoiceConnection",
    "payments": "PaymentConnection",
    "serviceRequests": "ServiceRequestConnection",
    "comments": "CommentConnection",
    "events": "RequestEventConnection",
    "approvals": "ApprovalConnection",
    "auditLog": "AuditEntryConnection",
}


def _harvest(value: Any, into: dict[str, list[str]], connection: str | None = None) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "cursor" and isinstance(item, str) and connection:
                if item not in into.setdefault(connection, []):
                    into[connection].append(item)
            else:
                _harvest(item, into, _CONNECTION_OF.get(key, connection))
    elif isinstance(value, list):
        for item in value:
            _harvest(item, into, connection)


@pytest.fixture(scope="module")
async def cursors(pair: Pair) -> dict[str, list[str]]:
    answer = await pair.ask(pair.off, "ADMIN", HARVEST, None, None)
    assert answer.status == 200 and not answer.error_codes, answer.body
    found: dict[str, list[str]] = {}
    _harvest(answer.body["data"], found)
    assert {"CustomerConnection", "ServiceRequestConnection", "CommentConnection"} <= found.keys()
    return found


def _outcome(answer: Answer) -> str:
    """`data`, the error codes, or the message of an error without a code (validation)."""
    if not answer.error_codes:
        return "data"
    if None in answer.error_codes:
        return "uncoded: " + str(answer.body["errors"][0].get("message", ""))[:70]
    return ",".join(sorted({str(c) for c in answer.error_codes}))


@dataclass
class Tally:
    examples: int = 0
    planned: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # data / error codes of the reference


TALLY = Tally()


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(data=st.data())
async def test_random_operations_answer_identically_for_every_role(
    pair: Pair, pool: Pool, cursors: dict[str, list[str]], data: st.DataObject
) -> None:
    who = data.draw(st.sampled_from(sorted(PRINCIPALS)), label="role")
    query, variables = data.draw(operations(Doc(SCHEMA, pool, PRINCIPALS[who], cursors)), label="operation")
    before = await pair.counters()
    on = await pair.ask(pair.on, who, query, variables, None)
    delta = await pair.counters() - before
    off = await pair.ask(pair.off, who, query, variables, None)
    TALLY.examples += 1
    TALLY.planned += int(delta.planned)
    TALLY.fallbacks.update({k: int(v) for k, v in delta.fallbacks.items() if v})
    TALLY.outcomes.update([_outcome(off)])
    if on.canonical() != off.canonical():
        summary = record_finding("property", who, query, variables, None, on, off)
        raise AssertionError(summary)
    assert off.status < 500, (query, variables, off.body)


async def test_property_examples_ran_and_were_planned() -> None:
    """The figures of the property run above; once the planner exists, it must have planned some."""
    if TALLY.examples == 0:
        pytest.skip("the property test did not run in this session")
    print(
        f"\nproperty: {TALLY.examples} examples, {TALLY.planned} planned, fallbacks {dict(TALLY.fallbacks)}, "
        f"reference outcomes {dict(TALLY.outcomes)}"
    )
    assert TALLY.examples >= EXAMPLES // 2
    assert TALLY.outcomes["data"] >= TALLY.examples // 3, "most generated operations should answer data"
    if planner_present():
        assert TALLY.planned > 0, "the planner planned no generated operation"
