"""Static query cost (LIMITS.md), computed from the document before anything runs.

Every object field costs 1; a connection multiplies what is selected under it by the
page it may return (`first`/`last`, else 20) once, so `edges`, `node` and `nodes`
inside it do not multiply again, while its `pageInfo` and `totalCount` cost 1; a plain
list of objects multiplies by 10, `nodes(ids:)` by the number of ids; scalars cost
nothing; fragments and aliases count wherever they are spread.

A document is compiled once into a `CostPlan`: a constant plus the terms whose
multiplier comes from a variable (`first: $first`). Evaluating a plan for a request's
variables is then a few multiplications, and a document without such variables costs
one attribute read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
)
from graphql.type.definition import GraphQLInterfaceType
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

__all__ = ["DEFAULT_PAGE_SIZE", "LIST_FACTOR", "CostPlan", "Multiplier", "plan_cost"]

DEFAULT_PAGE_SIZE = 20
LIST_FACTOR = 10

# Within a connection these cost 1 each and are not multiplied by the page.
_CONNECTION_ONCE = frozenset({"pageInfo", "totalCount"})


@dataclass(frozen=True, slots=True)
class Multiplier:
    """How often what is under a field repeats: the largest of its sources.

    A source is a literal, or a variable read from the request (`fallback` when it is
    absent or null); `length` sources count the items of a list variable.
    """

    constant: int
    variables: tuple[tuple[str, int, bool], ...]  # (name, fallback, length)

    def value(self, variables: Mapping[str, Any]) -> int:
        best = self.constant
        for name, fallback, length in self.variables:
            given = variables.get(name)
            if length:
                count = len(given) if isinstance(given, list) else (fallback if given is None else 1)
            else:
                count = given if isinstance(given, int) and not isinstance(given, bool) else fallback
            best = max(best, count)
        return max(best, 0)


@dataclass(frozen=True, slots=True)
class CostPlan:
    """`constant` plus, for each term, its multiplier's value times the inner plan's cost."""

    constant: int
    terms: tuple[tuple[Multiplier, CostPlan], ...] = ()

    def evaluate(self, variables: Mapping[str, Any] | None) -> int:
        if not self.terms:
            return self.constant
        values = variables or {}
        return self.constant + sum(m.value(values) * plan.evaluate(values) for m, plan in self.terms)

    def __add__(self, other: CostPlan) -> CostPlan:
        return CostPlan(self.constant + other.constant, self.terms + other.terms)

    def times(self, multiplier: Multiplier) -> CostPlan:
        if not multiplier.variables:
            return CostPlan(
                self.constant * multiplier.constant,
                tuple((m, p.times(multiplier)) for m, p in self.terms),
            )
        if not self.constant and not self.terms:
            return self
        return CostPlan(0, ((multiplier, self),))


_ZERO = CostPlan(0)
_ONE = CostPlan(1)


def plan_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> CostPlan:
    """The cost plan of one operation of a (parsed) document."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return _ZERO
    defaults = _variable_defaults(operation)
    return _Planner(schema, fragments, defaults).selections(root, operation.selection_set)


def _variable_defaults(operation: OperationDefinitionNode) -> dict[str, int | None]:
    defaults: dict[str, int | None] = {}
    for definition in operation.variable_definitions or ():
        value = definition.default_value
        if isinstance(value, IntValueNode):
            defaults[definition.variable.name.value] = int(value.value)
        elif isinstance(value, ListValueNode):
            defaults[definition.variable.name.value] = len(value.values)
        else:
            defaults[definition.variable.name.value] = None
    return defaults


class _Planner:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        defaults: Mapping[str, int | None],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.defaults = defaults
        self.spreading: set[str] = set()  # cycles are invalid documents; never loop on them

    def selections(self, parent: GraphQLNamedType, selection_set: SelectionSetNode) -> CostPlan:
        """Cost of a selection set on `parent` (inline fragments and spreads included)."""
        total = _ZERO
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total = total + self.field(parent, selection, inside=False)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                if target is not None:
                    total = total + self.selections(target, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total = total + self.spread(selection.name.value)
        return total

    def spread(self, name: str) -> CostPlan:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.spreading:
            return _ZERO
        target = self.schema.get_type(fragment.type_condition.name.value)
        if target is None:
            return _ZERO
        self.spreading.add(name)
        try:
            return self.selections(target, fragment.selection_set)
        finally:
            self.spreading.discard(name)

    def field(self, parent: GraphQLNamedType, node: FieldNode, *, inside: bool) -> CostPlan:
        """Cost of one field; `inside`: a field of a connection, whose lists are its page."""
        definition = _field_definition(self.schema, parent, node.name.value)
        if definition is None:
            return _ZERO  # __typename, or an unknown field (validation refuses that document)
        named = get_named_type(definition.type)
        if not is_composite_type(named) or node.selection_set is None:
            return _ONE if node.name.value == "totalCount" and _is_connection(parent) else _ZERO
        if _is_connection(named):
            return _ONE + self.connection(node, named, node.selection_set)
        under = self.selections(named, node.selection_set)
        if isinstance(get_nullable_type(definition.type), GraphQLList) and not inside:
            return (_ONE + under).times(self.list_multiplier(node))
        return _ONE + under

    def connection(
        self, node: FieldNode, named: GraphQLNamedType, selection_set: SelectionSetNode
    ) -> CostPlan:
        """What a connection's selections cost: its page once multiplied, pageInfo/totalCount once."""
        once = _ZERO
        paged = _ZERO
        for selection in _flatten(self, named, selection_set):
            cost = self.field(named, selection, inside=True)
            if selection.name.value in _CONNECTION_ONCE:
                once = once + cost
            else:
                paged = paged + cost
        return once + paged.times(self.page_multiplier(node))

    def page_multiplier(self, node: FieldNode) -> Multiplier:
        sources = [a.value for a in node.arguments or () if a.name.value in ("first", "last")]
        return self._multiplier(sources, fallback=DEFAULT_PAGE_SIZE, length=False)

    def list_multiplier(self, node: FieldNode) -> Multiplier:
        if node.name.value == "nodes":
            ids = [a.value for a in node.arguments or () if a.name.value == "ids"]
            if ids:
                return self._multiplier(ids, fallback=1, length=True)
        return Multiplier(LIST_FACTOR, ())

    def _multiplier(self, sources: list[Any], *, fallback: int, length: bool) -> Multiplier:
        constant = 0
        variables: list[tuple[str, int, bool]] = []
        for value in sources:
            if isinstance(value, VariableNode):
                name = value.name.value
                default = self.defaults.get(name)
                # An explicit null means the field's own default, so count the larger of the two.
                variables.append((name, fallback if default is None else max(default, fallback), length))
            elif length and isinstance(value, ListValueNode):
                constant = max(constant, len(value.values))
            elif not length and isinstance(value, IntValueNode):
                constant = max(constant, int(value.value))
            else:  # null, or a single id where a list is expected
                constant = max(constant, 1 if length else fallback)
        if not sources:
            constant = fallback
        return Multiplier(constant, tuple(variables))


def _flatten(planner: _Planner, parent: GraphQLNamedType, selection_set: SelectionSetNode) -> list[FieldNode]:
    """The fields of a selection set with its fragments expanded (a connection's own fields)."""
    fields: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            fields.extend(_flatten(planner, parent, selection.selection_set))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = planner.fragments.get(selection.name.value)
            if fragment is not None and selection.name.value not in planner.spreading:
                planner.spreading.add(selection.name.value)
                try:
                    fields.extend(_flatten(planner, parent, fragment.selection_set))
                finally:
                    planner.spreading.discard(selection.name.value)
    return fields


def _is_connection(named: GraphQLNamedType) -> bool:
    """Relay connections: an object type with `edges` and `pageInfo`."""
    return isinstance(named, GraphQLObjectType) and "edges" in named.fields and "pageInfo" in named.fields


def _field_definition(schema: GraphQLSchema, parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if name.startswith("__"):
        if parent is schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        return None
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return parent.fields.get(name)
    return None
