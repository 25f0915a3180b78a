"""Differential: every query the SDK ships and every query the test suite writes, as every role,
answered identically with READ_PLANNER=on and with READ_PLANNER=off (the resolver path).

Over real HTTP with real tokens on one seed-demo database and a fixed clock. Operations that
declare `$after`/`$before` run again from a cursor of their first answer. /metrics must show the
planner at work: once the planner is part of the code base, every SDK operation that answers data
is planned (a silent fallback to the resolvers fails), and the figures are printed.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from server.schema import build_schema
from tests.planner.corpus import (
    Filler,
    Op,
    first_cursor,
    paging_rounds,
    planner_operations,
    sdk_operations,
    sdk_source_operation_names,
    suite_operations,
)
from tests.planner.support import (
    PLANNER_BUGS,
    PRINCIPALS,
    UNPLANNED_DOCUMENTS,
    Counters,
    Pair,
    Pool,
    planner_present,
    record_finding,
)

SCHEMA = build_schema()._schema
# Hundreds of HTTP round trips to two apps: on a loaded machine more than the suite's 180 s.
pytestmark = pytest.mark.timeout(600)

# Operations of the suite left out, with the reason (reported; keep this short).
SKIPPED: dict[str, str] = {
    # graphql-core parses `{}`; strawberry's QueryDepthLimiter then raises (max() of nothing): a 500
    # on both paths, before any planning. Reported to the lead; not a planner matter.
    "tests/realtime/test_redis.py:75": "`{}` crashes the depth limiter (HTTP 500 on both paths)",
}


@dataclass
class Tally:
    documents: set[str] = field(default_factory=set)
    compared: int = 0
    answered_data: int = 0  # runs whose reference answer has data and no errors
    planned: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    unplanned_data: list[str] = field(default_factory=list)  # answered data, yet not planned
    sql_errors: list[str] = field(default_factory=list)  # plans that failed (PLANNER_BUGS)
    differences: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def count(self, delta: Counters) -> None:
        self.planned += int(delta.planned)
        self.fallbacks.update({k: int(v) for k, v in delta.fallbacks.items() if v})

    def line(self, label: str) -> str:
        return (
            f"{label}: {len(self.documents)} documents, {self.compared} operation runs compared "
            f"({self.answered_data} answered data without errors), "
            f"{self.planned} planned, fallbacks {dict(self.fallbacks)}, {len(self.skipped)} skipped, "
            f"{len(self.differences)} differences"
        )


async def _compare(
    pair: Pair, pool: Pool, op: Op, who: str, tally: Tally, logs: pytest.LogCaptureFixture
) -> None:
    """Both paths on the operation's variable sets, the planner's counts attributed to each run."""
    rng = random.Random(f"{op.source}|{op.operation}|{who}")
    rounds: list[dict[str, Any] | None] = [Filler(SCHEMA, pool, PRINCIPALS[who], rng).variables(op)]
    index = 0
    while index < len(rounds):
        variables = rounds[index]
        logs.clear()
        on = await pair.ask(pair.on, who, op.query, variables, op.operation)
        delta = await pair.since_mark()
        off = await pair.ask(pair.off, who, op.query, variables, op.operation)
        tally.compared += 1
        if not on.same_as(off):
            finding = record_finding(op.source, who, op.query, variables, op.operation, on, off)
            tally.differences.append(finding)
        if off.status >= 500 or on.status >= 500:
            tally.server_errors.append(f"{op.source} as {who}: {on.status} (on) / {off.status} (off)")
        tally.count(delta)
        if off.has_data and not off.error_codes:
            tally.answered_data += 1
        if (
            off.has_data
            and not off.error_codes
            and delta.planned < 1
            and op.operation not in UNPLANNED_DOCUMENTS
        ):
            tally.unplanned_data.append(f"{op.source} as {who}: fallbacks {dict(delta.fallbacks)}")
        if any(delta.fallbacks[reason] for reason in PLANNER_BUGS):
            refused = [r.getMessage() for r in logs.records] or [str(dict(delta.fallbacks))]
            tally.sql_errors.append(
                record_finding(
                    op.source, who, op.query, variables, op.operation, on, off, note="; ".join(refused)
                )
            )
        if index == 0:
            rounds.extend(paging_rounds(op, variables, first_cursor(off.body)))
        index += 1


def _report(tally: Tally, label: str) -> None:
    print("\n" + tally.line(label))
    for line in tally.skipped:
        print("  skipped:", line)
    for line in tally.unplanned_data[:40]:
        print("  not planned:", line)


async def test_sdk_and_console_queries_answer_identically_and_are_planned(
    pair: Pair, pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    ops = sdk_operations()
    # The manifest is what the SDK and the console send; it must hold every query of the sources.
    assert {op.operation for op in ops} >= sdk_source_operation_names()
    assert len(ops) >= 10
    caplog.set_level(logging.WARNING, "casegraph.planner")
    tally = Tally()
    # The resolver-only app counts nothing: the planner's counters move for the `on` app alone.
    await pair.mark()
    await pair.ask(pair.off, "ADMIN", ops[0].query, None, ops[0].operation)
    assert await pair.since_mark() == Counters()
    for op in ops:
        tally.documents.add(op.source)
        for who in PRINCIPALS:
            await _compare(pair, pool, op, who, tally, caplog)
    _report(tally, "SDK/console")
    assert not tally.differences, "\n".join(tally.differences)
    assert not tally.server_errors, "\n".join(tally.server_errors)
    assert not tally.sql_errors, "plans that failed:\n" + "\n".join(tally.sql_errors)
    if planner_present():
        assert tally.planned > 0, "the planner planned nothing: every operation fell back"
        assert not tally.unplanned_data, "\n".join(tally.unplanned_data)
    else:
        assert tally.planned == 0 and not tally.fallbacks  # no planner: nothing counted either


# Row-scoped and unrestricted access classes for every operation; the other staff principals take
# turns (every one of them meets a quarter of the suite's operations).
SUITE_PRINCIPALS = ["ADMIN", "AGENT_READ_ONLY", "CUSTOMER", "PARTNER"]
ROTATING = ["AGENT", "SUPERVISOR", "FINANCE", "AUDITOR"]


async def test_test_suite_queries_answer_identically(
    pair: Pair, pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    ops = suite_operations()
    assert len(ops) >= 60, f"only {len(ops)} query operations found in the test suite"
    tally = Tally()
    caplog.set_level(logging.WARNING, "casegraph.planner")
    await pair.mark()
    for index, op in enumerate(ops):
        if op.source in SKIPPED:
            tally.skipped.append(f"{op.source}: {SKIPPED[op.source]}")
            continue
        tally.documents.add(op.source)
        principals = [*SUITE_PRINCIPALS, ROTATING[index % len(ROTATING)]]
        for who in principals:
            await _compare(pair, pool, op, who, tally, caplog)
    _report(tally, "test suite")
    assert not tally.differences, "\n".join(tally.differences)
    assert not tally.server_errors, "\n".join(tally.server_errors)
    assert not tally.sql_errors, "plans that failed:\n" + "\n".join(tally.sql_errors)
    assert len(tally.skipped) <= 3
    if planner_present():
        # Not every operation of the suite is plannable yet, but a silent total fallback is a failure.
        assert tally.planned >= tally.answered_data // 3, tally.line("too few planned")


# Planner operations that answer data and yet take the resolver path, by design.
PLANNER_FALLBACKS: set[str] = set()


async def test_planner_corpus_answers_identically_for_every_role(
    pair: Pair, pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """The planner's own corpus (tests.planner.corpus: webhook logs, the audit trail, credit data
    and metrics) as every principal: the same answers, planned wherever the resolver path answers
    data; forbidden, not-found and bad-input callers get the resolver path's errors."""
    ops = planner_operations()
    tally = Tally()
    caplog.set_level(logging.WARNING, "casegraph.planner")
    await pair.mark()
    for op in ops:
        tally.documents.add(op.source)
        for who in PRINCIPALS:
            await _compare(pair, pool, op, who, tally, caplog)
    _report(tally, "planner corpus")
    assert not tally.differences, "\n".join(tally.differences)
    assert not tally.server_errors, "\n".join(tally.server_errors)
    assert not tally.sql_errors, "plans that failed:\n" + "\n".join(tally.sql_errors)
    unplanned = [line for line in tally.unplanned_data if line.split(" as ")[0] not in PLANNER_FALLBACKS]
    assert not unplanned, "\n".join(unplanned)
    assert tally.planned > 0 and tally.planned >= tally.answered_data
