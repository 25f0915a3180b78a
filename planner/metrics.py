"""The `metrics` root field as SQL: reporting.metrics' one statement, embedded.

The statement (reporting.metrics.metrics_sql, the SQL of reporting/metrics_sql.py) is the one the
resolver path runs, for the shape of the filter (which of team, customer and types are given) and
the access class (a row-scoped caller); its named parameters become the plan's, their values
computed per request by reporting.metrics.metrics_params from the window
(reporting.metrics.metrics_window) as resolvers.reads.metrics computes them. Every figure, floats
included, is final in the statement's row; this module only writes that row as the resolver path
writes ServiceMetrics (floats through cg_json_float, as orjson writes them).

FORBIDDEN (no READ_METRICS) is not planned; an empty window and an ID that does not parse
(BAD_USER_INPUT) take the resolver path, which reports them. A well-formed ID of another type
matches no request: the resolver path counts over an empty scope, the plan over a key no row has.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from graphql import FieldNode

from auth.permissions import Capability
from planner.builder import Binding, Builder, Unplannable
from planner.objects import money_object, typename
from planner.sql import json_datetime, json_int, json_object, json_text, literal
from reporting.metrics import AGING_COLUMNS, AGING_LABELS, metrics_params, metrics_sql, metrics_window
from schema import ids
from schema.errors import BadUserInput

__all__ = ["metrics"]

# The statement's named parameters and their types.
_CASTS = {
    "start": "timestamptz",
    "end": "timestamptz",
    "now": "timestamptz",
    "lo": "timestamptz",
    "hi": "timestamptz",
    "lo_day": "date",
    "hi_day": "date",
    "aged_1d": "timestamptz",
    "aged_3d": "timestamptz",
    "aged_7d": "timestamptz",
    "team_id": "bigint",
    "customer_id": "bigint",
    "types": "text[]",
    "customer_ids": "bigint[]",
}
_PARAMETER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)\b")
# No request has this customer, no request or rollup this team (team_key 0 is "no team").
_NO_KEY = -1
_DIMENSIONS = {"byStatus": "status", "byType": "type", "byChannel": "channel", "byPriority": "priority"}
_DURATIONS = {"firstResponseTime": "fr", "resolutionTime": "res", "approvalTurnaround": "appr"}


def json_float(expr: str) -> str:
    return f"cg_json_float({expr})"


def _count(expr: str) -> str:
    return json_int(f"CAST({expr} AS bigint)")


def _request_params(supply: Callable[[Binding], dict[str, Any]], binding: Binding) -> dict[str, Any] | str:
    """The statement's parameter values for a request (resolvers.reads.metrics), or the reason the
    resolver path must answer it."""
    given = supply(binding).get("filter") or {}
    window = metrics_window(given.get("from"), given.get("to"), binding.now)
    if window is None:
        return "bad_value"
    try:
        team_id, team_possible = ids.decode_optional_as(given.get("teamId"), "Team")
        customer_id, customer_possible = ids.decode_optional_as(given.get("customerId"), "Customer")
    except BadUserInput:
        return "bad_id"
    if not (team_possible and customer_possible):
        team_id = None if given.get("teamId") is None else _NO_KEY
        customer_id = None if given.get("customerId") is None else _NO_KEY
    types = given.get("type")
    start, end = window
    return metrics_params(
        start=start,
        end=end,
        now=binding.now,
        team_id=team_id,
        customer_id=customer_id,
        types=None if types is None else sorted({str(getattr(t, "value", t)) for t in types}),
        customer_ids=binding.principal.customer_ids,
    )


def metrics(b: Builder, nodes: list[FieldNode]) -> str:
    """Query.metrics: the statement's one row as ServiceMetrics."""
    if not b.access.can(Capability.READ_METRICS):
        raise Unplannable("forbidden", Capability.READ_METRICS.value)
    definition = b.field_definition("Query", "metrics")
    given = b.arguments(definition, nodes[0]).get("filter") or {}
    supply = b.argument_supplier(definition, nodes[0])
    memo_key = ("metrics", id(nodes[0]))

    def request_params(binding: Binding) -> dict[str, Any] | str:
        memo = binding.arguments.setdefault(memo_key, {})
        if "params" not in memo:
            memo["params"] = _request_params(supply, binding)
        return memo["params"]  # type: ignore[no-any-return]

    def check(binding: Binding) -> str | None:
        found = request_params(binding)
        return found if isinstance(found, str) else None

    b.check(check)
    sql = metrics_sql(
        team=given.get("teamId") is not None,
        customer=given.get("customerId") is not None,
        types=given.get("type") is not None,
        scoped=b.access.scoped,
    )
    params: dict[str, str] = {}

    def parameter(match: re.Match[str]) -> str:
        name = match[1]
        if name not in params:
            params[name] = b.param(lambda binding: request_params(binding)[name], _CASTS[name])  # type: ignore[index]
        return params[name]

    statement = _PARAMETER.sub(parameter, sql)
    m = b.alias("m")
    members = []
    for key, fields in b.collect("ServiceMetrics", nodes).items():
        name = fields[0].name.value
        if name == "from":
            members.append((key, json_datetime(parameter(_match("start")))))
        elif name == "to":
            members.append((key, json_datetime(parameter(_match("end")))))
        elif name in ("createdCount", "resolvedCount", "openCount"):
            members.append((key, _count(f"{m}.{name.removesuffix('Count')}")))
        elif name == "breachedCount":
            members.append((key, _count(f"{m}.breached")))
        elif name == "atRiskCount":
            members.append((key, _count(f"{m}.at_risk")))
        elif name in _DIMENSIONS:
            members.append((key, _counts_by_key(b, fields, f"{m}.keyed", _DIMENSIONS[name])))
        elif name in _DURATIONS:
            members.append((key, _duration(b, fields, m, _DURATIONS[name])))
        elif name == "slaCompliance":
            members.append((key, json_float(f"{m}.sla_compliance")))
        elif name == "reopenRate":
            members.append((key, json_float(f"{m}.reopen_rate")))
        elif name == "backlogAging":
            members.append((key, _aging(b, fields, m)))
        elif name == "disputedAmountOpen":
            members.append((key, _money_list(b, fields, f"{m}.disputed")))
        elif name == "adjustmentsPosted":
            members.append((key, _money_list(b, fields, f"{m}.posted")))
        elif name == "__typename":
            members.append((key, typename("ServiceMetrics")))
        else:
            raise Unplannable("unsupported_field", f"ServiceMetrics.{name}")
    return f"(SELECT {json_object(members)} FROM ({statement}) AS {m})"


def _match(name: str) -> re.Match[str]:
    found = _PARAMETER.match(f":{name}")
    assert found is not None
    return found


def _counts_by_key(b: Builder, nodes: list[FieldNode], keyed: str, dimension: str) -> str:
    """[CountByKey] of one dimension: the statement's `keyed` rows [dimension, key, n], in order."""
    k = b.alias("k")
    members = []
    for key, fields in b.collect("CountByKey", nodes).items():
        name = fields[0].name.value
        if name == "key":
            members.append((key, json_text(f"{k}.e->>1")))
        elif name == "count":
            members.append((key, _count(f"CAST({k}.e->>2 AS numeric)")))
        elif name == "__typename":
            members.append((key, typename("CountByKey")))
        else:
            raise Unplannable("unsupported_field", f"CountByKey.{name}")
    return (
        f"(SELECT '[' || coalesce(string_agg({json_object(members)}, ',' ORDER BY {k}.i), '') || ']' "
        f"FROM json_array_elements({keyed}) WITH ORDINALITY AS {k}(e, i) "
        f"WHERE {k}.e->>0 = {literal(dimension)})"
    )


def _duration(b: Builder, nodes: list[FieldNode], m: str, prefix: str) -> str:
    """DurationStats: the statistics are null when the count is 0 (reporting.metrics._duration)."""
    count = f"{m}.{prefix}_count"

    def statistic(column: str) -> str:
        return f"CASE WHEN {count} = 0 THEN 'null' ELSE {json_float(f'{m}.{prefix}_{column}')} END"

    members = []
    for key, fields in b.collect("DurationStats", nodes).items():
        name = fields[0].name.value
        if name == "count":
            members.append((key, _count(count)))
        elif name == "averageSeconds":
            members.append((key, statistic("avg")))
        elif name == "p50Seconds":
            members.append((key, statistic("p50")))
        elif name == "p90Seconds":
            members.append((key, statistic("p90")))
        elif name == "__typename":
            members.append((key, typename("DurationStats")))
        else:
            raise Unplannable("unsupported_field", f"DurationStats.{name}")
    return json_object(members)


def _aging(b: Builder, nodes: list[FieldNode], m: str) -> str:
    """[AgingBucket]: the four buckets in their order."""
    fields = b.collect("AgingBucket", nodes)
    buckets = []
    for label, column in zip(AGING_LABELS, AGING_COLUMNS, strict=True):
        members = []
        for key, found in fields.items():
            name = found[0].name.value
            if name == "label":
                members.append((key, literal(f'"{label}"')))
            elif name == "count":
                members.append((key, _count(f"{m}.{column}")))
            elif name == "__typename":
                members.append((key, typename("AgingBucket")))
            else:
                raise Unplannable("unsupported_field", f"AgingBucket.{name}")
        buckets.append(f"({json_object(members)})")
    return "'[' || " + " || ',' || ".join(buckets) + " || ']'"


def _money_list(b: Builder, nodes: list[FieldNode], column: str) -> str:
    """[Money] from the statement's [[currency, amount text], ...] (amounts of NUMERIC(18, 2))."""
    a = b.alias("a")
    element = money_object(b, nodes, f"({a}.e->>1)", f"({a}.e->>0)")
    return (
        f"(SELECT '[' || coalesce(string_agg({element}, ',' ORDER BY {a}.i), '') || ']' "
        f"FROM json_array_elements({column}) WITH ORDINALITY AS {a}(e, i))"
    )
