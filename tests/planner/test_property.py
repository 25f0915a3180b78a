"""Property: for any query operation over the schema, as any role, READ_PLANNER=on answers exactly
what READ_PLANNER=off (the resolver path) answers: same status, data, errors and extensions.

Documents come from tests.planner.generate (fields, nested connections with first/last/after/
before, fragments, inline fragments, aliases, variables, @include/@skip, __typename, filters),
with real IDs and cursors of the seed-demo database. Derandomized and bounded, so CI runs the same
examples every time in well under half a minute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from server.schema import build_schema
from tests.planner.generate import FLOAT_ROOTS, Doc, operations
from tests.planner.support import (
    PLANNER_BUGS,
    PRINCIPALS,
    Answer,
    Pair,
    Pool,
    planner_present,
    record_finding,
)

SCHEMA = build_schema()._schema
# Hundreds of HTTP round trips to two apps: on a loaded machine more than the suite's 180 s.
pytestmark = pytest.mark.timeout(600)
# Each operation runs as the unrestricted, the scope-restricted and the row-scoped principals, and
# as one of the other staff principals (drawn).
ALWAYS = ["ADMIN", "AGENT_READ_ONLY", "CUSTOMER", "PARTNER"]
TAKING_TURNS = sorted(set(PRINCIPALS) - set(ALWAYS))
EXAMPLES = 40

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


def _root_fields(query: str) -> list[str]:
    from graphql import FieldNode, OperationDefinitionNode, parse

    operation = next(d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode))
    return [s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)]


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
    runs: int = 0  # examples x principals
    failed: bool = False
    planned: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # data / error codes of the reference
    roots: Counter[str] = field(default_factory=Counter)  # root fields of the examples


TALLY = Tally()


def _property_settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        print_blob=False,
        # No shrinking: a failing example is reported (and written to the findings) as generated; a
        # shrink of requests to two servers would take minutes.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


async def _compare(
    pair: Pair,
    tally: Tally,
    who: str,
    query: str,
    variables: dict[str, Any] | None,
    same: Callable[[Any, Any], bool],
) -> None:
    """Ask both servers as `who` (planner on first, its counters read in between); tally and check."""
    on = await pair.ask(pair.on, who, query, variables, None)
    delta = await pair.since_mark()
    off = await pair.ask(pair.off, who, query, variables, None)
    tally.runs += 1
    tally.planned += int(delta.planned)
    tally.fallbacks.update({k: int(v) for k, v in delta.fallbacks.items() if v})
    tally.outcomes.update([_outcome(off)])
    if not same(on, off):
        tally.failed = True
        raise AssertionError(record_finding("property", who, query, variables, None, on, off))
    if any(delta.fallbacks[reason] for reason in PLANNER_BUGS):  # a right answer from a failed plan
        tally.failed = True
        note = f"fallback {dict(delta.fallbacks)}"
        raise AssertionError(record_finding("property", who, query, variables, None, on, off, note=note))
    assert off.status < 500, (who, query, variables, off.body)


def _same_bytes(on: Any, off: Any) -> bool:
    return bool(on.same_as(off))


def _same_canonical(on: Any, off: Any) -> bool:
    return bool(on.canonical() == off.canonical())


@_property_settings(EXAMPLES)
@given(data=st.data())
async def test_random_operations_answer_identically_for_every_role(
    pair: Pair, pool: Pool, cursors: dict[str, list[str]], data: st.DataObject
) -> None:
    # IDs are drawn inside this principal's scope (out of it for the others, now and then).
    scope = data.draw(st.sampled_from(sorted(PRINCIPALS)), label="IDs of")
    query, variables = data.draw(operations(Doc(SCHEMA, pool, PRINCIPALS[scope], cursors)), label="operation")
    TALLY.examples += 1
    TALLY.roots.update(_root_fields(query))
    await pair.mark()
    for who in [*ALWAYS, data.draw(st.sampled_from(TAKING_TURNS), label="staff role")]:
        await _compare(pair, TALLY, who, query, variables, _same_bytes)


FOCUSED_EXAMPLES = 20
FOCUSED = Tally()


@_property_settings(FOCUSED_EXAMPLES)
@given(data=st.data())
async def test_random_metrics_and_credit_operations_answer_identically_for_every_role(
    pair: Pair, pool: Pool, cursors: dict[str, list[str]], data: st.DataObject
) -> None:
    """The same property over the root fields whose answers hold floats and credit data (metrics
    with random filters and windows, customers' payment behaviour and financial health), as every
    principal."""
    scope = data.draw(st.sampled_from(sorted(PRINCIPALS)), label="IDs of")
    doc = Doc(SCHEMA, pool, PRINCIPALS[scope], cursors)
    query, variables = data.draw(operations(doc, FLOAT_ROOTS), label="operation")
    FOCUSED.examples += 1
    await pair.mark()
    for who in sorted(PRINCIPALS):
        await _compare(
            pair, FOCUSED, who, query, variables, lambda on, off: on.canonical() == off.canonical()
        )


async def test_property_examples_ran_and_were_planned() -> None:
    """The figures of the property runs above; once the planner exists, it must have planned some."""
    if FOCUSED.examples and not FOCUSED.failed:
        print(
            f"\nproperty (metrics, credit data): {FOCUSED.examples} examples, {FOCUSED.runs} runs, "
            f"{FOCUSED.planned} planned, fallbacks {dict(FOCUSED.fallbacks)}, "
            f"reference outcomes {dict(FOCUSED.outcomes)}"
        )
        if planner_present():
            assert FOCUSED.planned >= FOCUSED.outcomes["data"] // 2, "metrics and credit data fell back"
    if TALLY.examples == 0 or TALLY.failed:
        pytest.skip("the property test did not run (or failed) in this session")
    print(
        f"\nproperty: {TALLY.examples} examples, {TALLY.runs} runs (x principals), {TALLY.planned} planned, "
        f"fallbacks {dict(TALLY.fallbacks)}, "
        f"reference outcomes {dict(TALLY.outcomes)}, root fields {dict(sorted(TALLY.roots.items()))}"
    )
    assert TALLY.examples >= EXAMPLES // 2
    assert TALLY.outcomes["data"] >= TALLY.runs // 3, "most generated operations should answer data"
    if planner_present():
        assert TALLY.planned > 0, "the planner planned no generated operation"
