"""The read planner at run time: plans cached by (document, operation, access class, variable
shape), bound to a request's parameters and run as one prepared statement.

`ReadPlanner.answer` returns the response's `data` as JSON bytes, or None when the resolver path
must answer: the operation is not plannable (logged once per document and reason), or this
request is not (an argument the resolvers refuse, a value only they can decide). Both are
counted in `casegraph_read_planner_fallbacks_total{reason}`; planned answers in
`casegraph_read_planner_planned_total`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import VariableValues, get_variable_values
from graphql.utilities import type_from_ast
from prometheus_client import Counter

from auth.principal import Principal
from db.transient import database_unavailable
from planner.access import AccessClass, access_class
from planner.builder import Binding, Builder, Check, Param, Unplannable
from planner.calendars import SpanRefresher
from planner.root import compile_objects, compile_operation
from telemetry.request_record import count_statement, note_operation

__all__ = ["FALLBACKS", "PLANNED", "Plan", "ReadPlanner", "open_pool"]

log = logging.getLogger("casegraph.planner")

PLANNED = Counter(
    "casegraph_read_planner_planned", "GraphQL operations answered by one planned SQL statement"
)
FALLBACKS = Counter(
    "casegraph_read_planner_fallbacks",
    "GraphQL query operations answered by the resolver path instead of the read planner, by reason",
    ["reason"],
)

_SENTINEL = b"\x01"
_REFUSED = b"\x02"  # planner.sql.REFUSED
_NO_VARIABLES = VariableValues({}, {})
_CACHE_MAX = 2048


@dataclass(frozen=True, slots=True)
class Plan:
    """One compiled operation: its statement, the parameters' suppliers and the request checks."""

    sql: str
    params: tuple[Param, ...]
    checks: tuple[Check, ...]

    def bind(self, binding: Binding) -> list[Any] | str:
        """The statement's parameters for a request, or the reason it must take the resolver path."""
        for check in self.checks:
            reason = check(binding)
            if reason is not None:
                return reason
        return [supply(binding) for supply in self.params]


@dataclass(slots=True)
class _Document:
    """A document's operation, ready to plan (or the reason it never will be)."""

    key: str
    text: str
    operation_name: str | None
    operation: OperationDefinitionNode | None
    fragments: dict[str, FragmentDefinitionNode]
    shape: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None
    reason: str | None = None


def _shape_of(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """What of the coerced variables a plan's structure depends on: which are null or empty, and
    the values of enums and booleans (an order, a status set, @include); never other values."""

    def shape(type_: Any, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(type_, GraphQLNonNull):
            return shape(type_.of_type, value)
        if isinstance(type_, GraphQLList):
            if not isinstance(value, list):
                return shape(type_.of_type, value)
            if not value:
                return ()
            inner = type_.of_type.of_type if isinstance(type_.of_type, GraphQLNonNull) else type_.of_type
            if isinstance(inner, GraphQLEnumType):
                return tuple(str(getattr(v, "value", v)) for v in value)
            return "list"
        if isinstance(type_, GraphQLInputObjectType):
            return tuple(
                (name, shape(field.type, value.get(name) if isinstance(value, dict) else None))
                for name, field in type_.fields.items()
            )
        if isinstance(type_, GraphQLEnumType):
            return str(getattr(value, "value", value))
        if isinstance(type_, GraphQLScalarType) and type_.name == "Boolean":
            return bool(value)
        if isinstance(type_, GraphQLScalarType) and type_.name == "String" and isinstance(value, str):
            # A search's SQL depends on whether its text is blank or digits (db.queries.requests).
            text = value.strip()
            return "blank" if not text else "digits" if text.isascii() and text.isdigit() else "text"
        return "value"

    definitions = [
        (d.variable.name.value, type_from_ast(schema, d.type)) for d in operation.variable_definitions or ()
    ]

    def of(variables: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(shape(t, variables.get(name)) for name, t in definitions)

    return of


class ReadPlanner:
    """Plans and runs read operations for one server process."""

    def __init__(
        self,
        schema: GraphQLSchema,
        pool: asyncpg.Pool,
        clock: Callable[[], datetime],
        *,
        rules: Sequence[type[ASTValidationRule]] = specified_rules,
        max_tokens: int | None = None,
    ) -> None:
        self.schema = schema
        self.pool = pool
        self.clock = clock
        # The schema's own validation (depth, aliases) and parser limit: a document the resolver
        # path refuses is never planned.
        self.rules = tuple(rules)
        self.max_tokens = max_tokens
        self.calendars = SpanRefresher(pool, clock)
        self._documents: dict[tuple[str, str | None], _Document] = {}
        self._plans: dict[tuple[Any, ...], Plan | Unplannable] = {}
        self._logged: set[tuple[str, str | None, str]] = set()

    # ------------------------------------------------------------ planning

    def _document(self, text: str, operation_name: str | None, parsed: DocumentNode | None) -> _Document:
        found = self._documents.get((text, operation_name))
        if found is not None:
            return found
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        document = _Document(key, text, operation_name, None, {}, None)
        try:
            tree = parsed if parsed is not None else parse(text, max_tokens=self.max_tokens)
            if parsed is None and validate(self.schema, tree, self.rules):
                document.reason = "invalid"
            else:
                operations = [d for d in tree.definitions if isinstance(d, OperationDefinitionNode)]
                chosen = [
                    o
                    for o in operations
                    if operation_name is None or (o.name and o.name.value == operation_name)
                ]
                if len(chosen) != 1 or (operation_name is None and len(operations) != 1):
                    document.reason = "no_operation"
                else:
                    document.operation = chosen[0]
                    document.fragments = {
                        d.name.value: d for d in tree.definitions if isinstance(d, FragmentDefinitionNode)
                    }
                    document.shape = _shape_of(self.schema, chosen[0])
        except Exception:  # a rule that fails on an odd document: the resolvers decide
            document.reason = "invalid"
        if len(self._documents) >= _CACHE_MAX:
            self._documents.clear()
        self._documents[(text, operation_name)] = document
        return document

    def plan(
        self, document: _Document, access: AccessClass, variables: VariableValues, shape: tuple[Any, ...]
    ) -> Plan | Unplannable:
        """The cached plan of this document, access class and variable shape (made on first use)."""
        key = (document.text, document.operation_name, access, shape)
        found = self._plans.get(key)
        if found is not None:
            return found
        assert document.operation is not None
        builder = Builder(self.schema, document.fragments, access, variables)
        result: Plan | Unplannable
        try:
            data = compile_operation(builder, document.operation)
            sql = self._finish(f"SELECT convert_to({data}, 'UTF8') AS data", builder)
            result = Plan(sql, tuple(builder.params), tuple(builder.checks))
        except Unplannable as exc:
            result = exc
        except Exception:  # a planner bug: the resolver path answers, never a 500
            log.exception("read planner: planning %s failed", document.operation_name)
            result = Unplannable("planner_error")
        if len(self._plans) >= _CACHE_MAX:
            self._plans.clear()
        self._plans[key] = result
        return result

    def compile(
        self,
        text: str,
        operation_name: str | None,
        principal: Principal,
        variables: Mapping[str, Any] | None = None,
    ) -> Plan | Unplannable:
        """The plan of a document for `principal` (for tests and tools: coverage, EXPLAIN)."""
        document = self._document(text, operation_name, None)
        if document.reason is not None or document.operation is None or document.shape is None:
            return Unplannable(document.reason or "invalid")
        coerced = self._variables(document.operation, variables or {})
        if coerced is None:
            return Unplannable("bad_variables")
        return self.plan(document, access_class(principal), coerced, document.shape(coerced.coerced))

    def _variables(self, operation: OperationDefinitionNode, raw: Mapping[str, Any]) -> VariableValues | None:
        if not operation.variable_definitions:
            return _NO_VARIABLES
        coerced = get_variable_values(self.schema, operation.variable_definitions, dict(raw))
        return None if isinstance(coerced, list) else coerced

    # ------------------------------------------------------------ running

    def _fallback(
        self, document: _Document, operation_name: str | None, reason: str, detail: str = ""
    ) -> None:
        FALLBACKS.labels(reason).inc()
        operation = document.operation
        if operation is not None and operation.name is not None:
            operation_name = operation.name.value
        logged = (document.key, operation_name, reason)
        if logged not in self._logged:
            if len(self._logged) >= _CACHE_MAX:
                self._logged.clear()
            self._logged.add(logged)
            log.info(
                "read planner: %s (document %s) takes the resolver path: %s%s",
                operation_name or "anonymous operation",
                document.key,
                reason,
                f" ({detail})" if detail else "",
            )

    async def objects(
        self,
        *,
        text: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        principal: Principal,
        type_name: str,
        rows: Sequence[int],
    ) -> list[bytes] | None:
        """The JSON of the operation's root-field selection on each `type_name` row (by primary
        key, in order; `null` for a row the caller may not see), in one statement; None when the
        resolver path must build them. For subscriptions: an event's payload from the same plans
        as the reads, re-authorized per caller (the access class and scope are the caller's)."""
        document = self._document(text, operation_name, None)
        if document.operation is None or document.shape is None:
            return None
        coerced = self._variables(document.operation, variables or {})
        if coerced is None:
            return None
        access = access_class(principal)
        key = ("objects", type_name, text, operation_name, access, document.shape(coerced.coerced))
        plan = self._plans.get(key)
        if plan is None:
            builder = Builder(self.schema, document.fragments, access, coerced)
            try:
                sql = compile_objects(builder, document.operation, type_name)
                plan = Plan(self._finish(sql, builder), tuple(builder.params), tuple(builder.checks))
            except Unplannable as exc:
                plan = exc
            except Exception:  # a planner bug: the resolver path answers
                log.exception("read planner: planning %s failed", operation_name)
                plan = Unplannable("planner_error")
            if len(self._plans) >= _CACHE_MAX:
                self._plans.clear()
            self._plans[key] = plan
        if isinstance(plan, Unplannable):
            self._fallback(document, operation_name, plan.reason, plan.detail)
            return None
        binding = Binding(principal=principal, now=self.clock(), variables=coerced, rows=tuple(rows))
        params = plan.bind(binding)
        if isinstance(params, str):
            self._fallback(document, operation_name, params)
            return None
        count_statement()
        try:
            async with self.pool.acquire() as conn:
                found: list[bytes] | None = await conn.fetchval(plan.sql, *params)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("read planner: statement of %s failed: %s", operation_name, exc)
            self._fallback(document, operation_name, "sql_error", type(exc).__name__)
            return None
        values = found or []
        if any(_REFUSED in v for v in values):
            self._fallback(document, operation_name, "refused_value")
            return None
        if any(_SENTINEL in v for v in values):
            self.calendars.soon()
            self._fallback(document, operation_name, "undecided_value", "an SLA in business hours")
            return None
        return values

    @staticmethod
    def _finish(sql: str, builder: Builder) -> str:
        """`sql` with every parameter appearing in it (a branch given up on, e.g. an unplanned
        type under `node`, still numbered its parameters)."""
        used = {int(n) for n in re.findall(r"\$(\d+)::", sql)}
        unused = [f"${i}::{cast}" for i, cast in enumerate(builder.casts, 1) if i not in used]
        if not unused:
            return sql
        return f"SELECT * FROM ({sql}) AS planned_, (SELECT {', '.join(unused)}) AS unused_"

    def start(self) -> None:
        """Background work of the planner (the calendars' spans) for the app's lifetime."""
        self.calendars.start()

    async def stop(self) -> None:
        await self.calendars.stop()

    async def answer(
        self,
        *,
        text: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        principal: Principal,
        parsed: DocumentNode | None = None,
    ) -> bytes | None:
        """The `data` JSON of a query operation, or None when the resolver path must answer it."""
        document = self._document(text, operation_name, parsed)
        if document.operation is None or document.shape is None:
            return None  # not a single valid operation: the resolver path reports it
        if document.operation.operation.value != "query":
            return None
        coerced = self._variables(document.operation, variables or {})
        if coerced is None:
            return None
        plan = self.plan(document, access_class(principal), coerced, document.shape(coerced.coerced))
        if isinstance(plan, Unplannable):
            self._fallback(document, operation_name, plan.reason, plan.detail)
            return None
        binding = Binding(principal=principal, now=self.clock(), variables=coerced)
        try:
            params = plan.bind(binding)
        except Exception:  # a planner bug: the resolver path answers, never a 500
            log.exception("read planner: binding %s failed", operation_name)
            params = "planner_error"
        if isinstance(params, str):
            self._fallback(document, operation_name, params)
            return None
        count_statement()
        try:
            async with self.pool.acquire() as conn:
                data: bytes = await conn.fetchval(plan.sql, *params)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # A plan PostgreSQL refuses is a planner bug: the resolver path answers, and it is logged
            # (a database out of reach is not: the resolver path reports it, once per outage).
            if not database_unavailable(exc):
                log.warning("read planner: statement of %s failed: %s", operation_name, exc)
            self._fallback(document, operation_name, "sql_error", type(exc).__name__)
            return None
        if _REFUSED in data:
            # An error the resolver path reports (planner.sql.REFUSED), found by the statement.
            self._fallback(document, operation_name, "refused_value")
            return None
        if _SENTINEL in data:
            # A business-hours SLA without current calendar spans (planner.calendars): make them.
            self.calendars.soon()
            self._fallback(document, operation_name, "undecided_value", "an SLA in business hours")
            return None
        PLANNED.inc()
        # The request log's operation (the name the document gives it, as strawberry reports).
        operation = document.operation
        note_operation(operation.name.value if operation.name else operation_name, "query")
        return data


async def open_pool(url: str, *, size: int) -> asyncpg.Pool:
    """The planner's connections: statements prepared once per connection, no reset round trip
    (they only ever run read statements in autocommit)."""

    async def no_reset(conn: asyncpg.Connection) -> None:
        return None

    pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=size,
        statement_cache_size=1024,
        max_cacheable_statement_size=1024 * 1024,
        # A plan's statement is prepared once per connection. PostgreSQL's own choice between a
        # generic and a per-request plan (plan_cache_mode=auto): forcing the generic plan saved
        # ~1 ms of planning on a small table but picked a plan 20x slower on 200,000 requests.
        # No JIT: a plan's cost estimate (a `metrics` window over the rollups, a large page) can
        # invite a compilation that costs more than running it (reporting.metrics turns it off
        # for the resolver path's statement too).
        server_settings={"application_name": "casegraph-planner", "timezone": "UTC", "jit": "off"},
        reset=no_reset,
    )
    assert pool is not None
    return pool
