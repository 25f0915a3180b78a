"""Walking a validated operation into one SQL statement: selections, arguments, parameters.

`Builder` holds what one plan is being made of: the parameters (each a function of the request
that supplies its value: the caller's customers, the clock, the variables), the checks the
request must pass before its statement may run (arguments the resolvers would refuse with
BAD_USER_INPUT: those requests take the resolver path, which reports the error), and the
fields of each object the operation selects, collected as graphql-core's executor collects them
(fragments, inline fragments, aliases, @skip/@include, merged sub-selections).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionNode,
)
from graphql import GraphQLIncludeDirective as Include
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values

from auth.principal import Principal
from planner.access import AccessClass

__all__ = ["Binding", "Builder", "Fields", "Unplannable"]

# Response key -> the field nodes answering it (more than one when a fragment repeats a field).
Fields = dict[str, list[FieldNode]]


class Unplannable(Exception):
    """The operation (or this request of it) is answered by the resolver path; `reason` is a slug."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Binding:
    """One request of a plan: what its parameters are computed from."""

    principal: Principal
    now: datetime
    variables: VariableValues
    # Rows a plan of objects is run for (ReadPlanner.objects: a subscription's events).
    rows: tuple[int, ...] = ()
    arguments: dict[Any, dict[str, Any]] = field(default_factory=dict)


Param = Callable[[Binding], Any]
# A check returns None when the request may run the statement, else the fallback reason.
Check = Callable[[Binding], str | None]


class Builder:
    """The state of one plan being compiled."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        access: AccessClass,
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.access = access
        # The variables of the request the plan is made for: its structure may depend on which are
        # null or empty (the plan cache key says so, planner.runtime.shape_of), never on values.
        self.variables = variables
        self.params: list[Param] = []
        self.casts: list[str] = []
        self.checks: list[Check] = []
        self._shared: dict[str, str] = {}
        self._aliases = 0

    # ------------------------------------------------------------ parameters

    def param(self, supply: Param, cast: str) -> str:
        """A new parameter `$n::cast` whose value `supply(binding)` gives."""
        self.params.append(supply)
        self.casts.append(cast)
        return f"${len(self.params)}::{cast}"

    def shared(self, name: str, supply: Param, cast: str) -> str:
        """One parameter for the whole statement (the clock, the caller's customers)."""
        found = self._shared.get(name)
        if found is None:
            found = self._shared[name] = self.param(supply, cast)
        return found

    def now(self) -> str:
        return self.shared("now", lambda b: b.now, "timestamptz")

    def today(self) -> str:
        # The business date of the operation's clock (domain.calendar.utc_date): UTC.
        return f"(({self.now()}) AT TIME ZONE 'UTC')::date"

    def scope(self) -> str:
        """The caller's customers (only for scoped callers: plans of staff carry no such parameter)."""
        assert self.access.scoped
        return self.shared("scope", lambda b: sorted(b.principal.customer_ids or ()), "bigint[]")

    def in_scope(self, customer_column: str) -> str | None:
        """The scope predicate on a customer id column, or None for staff (every customer)."""
        if not self.access.scoped:
            return None
        return f"{customer_column} = ANY({self.scope()})"

    def check(self, check: Check) -> None:
        self.checks.append(check)

    def alias(self, prefix: str = "t") -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    # ------------------------------------------------------------ arguments

    def arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        """The field's coerced arguments for the request the plan is made for (structure only)."""
        return get_argument_values(definition, node, self.variables)

    @staticmethod
    def argument_supplier(definition: GraphQLField, node: FieldNode) -> Callable[[Binding], dict[str, Any]]:
        """The field's coerced arguments of a request (computed once per request and field)."""

        def supply(binding: Binding) -> dict[str, Any]:
            found = binding.arguments.get(id(node))
            if found is None:
                found = binding.arguments[id(node)] = get_argument_values(definition, node, binding.variables)
            return found

        return supply

    # ------------------------------------------------------------ selections

    def collect(self, type_name: str, nodes: list[FieldNode]) -> Fields:
        """The fields the sub-selections of `nodes` select on an object of type `type_name`."""
        fields: Fields = {}
        for node in nodes:
            if node.selection_set is not None:
                self._collect(type_name, node.selection_set.selections, fields, set())
        return fields

    def _collect(
        self,
        type_name: str,
        selections: tuple[SelectionNode, ...] | list[SelectionNode],
        into: Fields,
        seen: set[str],
    ) -> None:
        for selection in selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                into.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._applies(condition.name.value, type_name):
                    self._collect(type_name, selection.selection_set.selections, into, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in seen or fragment is None:
                    continue
                seen.add(name)
                if self._applies(fragment.type_condition.name.value, type_name):
                    self._collect(type_name, fragment.selection_set.selections, into, seen)

    def _applies(self, condition: str, type_name: str) -> bool:
        if condition == type_name:
            return True
        abstract = self.schema.get_type(condition)
        concrete = self.schema.get_type(type_name)
        if abstract is None or not isinstance(concrete, GraphQLObjectType):
            return False
        return self.schema.is_sub_type(abstract, concrete)  # type: ignore[arg-type]

    def _included(self, node: SelectionNode) -> bool:
        if not node.directives:
            return True
        variables = self.variables
        skip = get_directive_values(GraphQLSkipDirective, node, variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(Include, node, variables)
        return not (include and include.get("if") is False)

    def field_definition(self, type_name: str, name: str) -> GraphQLField:
        parent = self.schema.get_type(type_name)
        assert isinstance(parent, GraphQLObjectType)
        return parent.fields[name]
