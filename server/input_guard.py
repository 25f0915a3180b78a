"""Operations refused before they run, as BAD_USER_INPUT naming what is wrong.

- A NUL character (U+0000) in a variable or a string literal: PostgreSQL text cannot hold it,
  and it failed deep inside whatever statement received it.
- A subscription sent over HTTP: subscriptions are served over WebSocket (graphql-transport-ws);
  executed over HTTP, its field resolved as a query and failed.
- Several operations and no operationName: the GraphQL spec requires the name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, OperationDefinitionNode, OperationType, Visitor, visit
from graphql.language import (
    ArgumentNode,
    FieldNode,
    ObjectFieldNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
)
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from schema.errors import BadUserInput

__all__ = ["InputGuard"]

NUL = "\x00"


class InputGuard(SchemaExtension):
    """Refuses the operations described in the module's docstring before execution."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        problem = self._problem()
        if problem is not None:
            ctx.result = ExecutionResult(data=None, errors=[BadUserInput(problem)])
        yield

    def _problem(self) -> str | None:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is None:
            return None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        # The name the caller gave: strawberry's `operation_name` falls back to the first
        # operation's, so a document of several operations without one ran its first.
        given: str | None = getattr(ctx, "_provided_operation_name", None)
        if len(operations) > 1 and not given:
            return f"the document has {len(operations)} operations: operationName must name the one to run"
        operation = _selected(operations, given)
        if operation is not None and operation.operation is OperationType.SUBSCRIPTION:
            if isinstance(getattr(ctx.context, "request", None), WebSocket):
                return None  # strawberry runs subscriptions whatever the result says: not checked
            return "subscriptions are served over WebSocket (graphql-transport-ws), not over HTTP"
        variable = _nul_variable(ctx.variables or {})
        if variable is not None:
            name = variable.split(".")[0].split("[")[0]
            used = _uses_of(document, name)
            where = f" (argument {', '.join(used)})" if used else ""
            return f"variable ${variable}{where} contains a NUL character (U+0000), which cannot be stored"
        if ctx.query is not None and ("\\u0000" in ctx.query or NUL in ctx.query):
            literal = _nul_literal(document)
            if literal is not None:
                return f"argument {literal} contains a NUL character (U+0000), which cannot be stored"
        return None


def _selected(operations: list[OperationDefinitionNode], name: str | None) -> OperationDefinitionNode | None:
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def _nul_variable(value: Any, path: str = "") -> str | None:
    """The path ('f.search', 'ids[2]') of the first string holding a NUL, in variables' JSON."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, member in value.items():
            found = _nul_variable(member, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, member in enumerate(value):
            found = _nul_variable(member, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _argument_of(ancestors: Any, parent: Any, current: Any) -> str:
    chain = [*ancestors, parent, current]
    field = next((n.name.value for n in reversed(chain) if isinstance(n, FieldNode)), "")
    names = [n.name.value for n in chain if isinstance(n, ArgumentNode | ObjectFieldNode)]
    return f"{field}({'.'.join(names)})" if field else ".".join(names)


def _uses_of(document: Any, variable: str) -> list[str]:
    """The arguments ('serviceRequestByNumber(number)') where `$variable` is used."""
    uses: list[str] = []

    class _Uses(Visitor):
        def enter_variable(
            self, node: VariableNode, key: Any, parent: Any, path: Any, ancestors: Any
        ) -> None:
            if node.name.value == variable and not isinstance(parent, VariableDefinitionNode):
                described = _argument_of(ancestors, parent, node)
                if described and described not in uses and "(" in described:
                    uses.append(described)

    visit(document, _Uses())
    return uses


def _nul_literal(document: Any) -> str | None:
    found: list[str] = []

    class _Find(Visitor):
        def enter_string_value(
            self, node: StringValueNode, key: Any, parent: Any, path: Any, ancestors: Any
        ) -> Any:
            if NUL in node.value:
                found.append(_argument_of(ancestors, parent, node))
                return self.BREAK
            return None

    visit(document, _Find())
    return found[0] if found else None
