"""Relay connections: PageInfo, edges, a lazy totalCount, and a prefetch of the nodes' relations
before the nodes are resolved (resolvers.connections builds them from keyset pages)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

__all__ = ["Connection", "Edge", "PageArgs", "PageInfo", "Prefetch"]

T = TypeVar("T")
Counter = Callable[[], Awaitable[int]]
# Given the (GraphQL) names of the fields the query selects on the nodes, start loading the
# relations among them into the operation's DataLoaders; None when there is nothing to load.
Prefetch = Callable[[frozenset[str]], Awaitable[object] | None]


@dataclass(frozen=True, slots=True)
class PageArgs:
    """A connection field's Relay arguments as given (resolvers.connections validates them)."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    """A page of nodes; `prefetch` (optional) loads the relations the query selects on them.

    Without the prefetch every node would ask for its own relations, each an awaitable field
    that graphql-core runs in a task of its own. With it, `edges`/`nodes` wait once for one
    batch per selected relation (the same batches the nodes would have made, so the same
    statements), after which the nodes' relation fields find their rows in the loaders and
    complete synchronously (schema.types.ready).
    """

    def _edges(self, info: Info) -> list[Edge[T]]:
        return self._prefetched(info, self.page_edges, through="node")

    # Assigned rather than decorated to keep the schema's field order (edges first).
    edges: list[Edge[T]] = strawberry.field(resolver=_edges)
    page_info: PageInfo
    counter: strawberry.Private[Counter]
    page_edges: strawberry.Private[list[Edge[T]]]
    prefetch: strawberry.Private[Prefetch | None] = None

    @strawberry.field
    def nodes(self, info: Info) -> list[T]:
        return self._prefetched(info, [edge.node for edge in self.page_edges])

    @strawberry.field
    async def total_count(self) -> int:
        # Only counted when asked for: a page alone costs one statement.
        return await self.counter()

    def _prefetched(self, info: Info, value: object, *, through: str | None = None) -> Any:
        """`value`, or an awaitable of it once the selected relations are loaded.

        `through`: the child field (edges' `node`) whose selections are the nodes' fields.
        """
        if self.prefetch is None or not self.page_edges:
            return value
        pending = self.prefetch(_selected_on_nodes(info.selected_fields, through))
        return value if pending is None else _after(pending, value)


async def _after(pending: Awaitable[object], value: object) -> object:
    await pending
    return value


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields of a selection set, with those of its (inline or named) fragments, less
    those that @skip/@include leave out."""
    for selection in selections:
        directives = selection.directives
        if directives.get("skip", {}).get("if") is True or directives.get("include", {}).get("if") is False:
            continue
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)


def _selected_on_nodes(selections: Iterable[Selection], through: str | None) -> frozenset[str]:
    """Names of the fields selected on the nodes, under the connection field (`selections`,
    every occurrence of `edges` or `nodes`), through its `through` child if any.

    A name too many costs a batch the nodes do not need, a name too few only an awaited field:
    never a wrong answer, since the fields apply their own rules to what they find.
    """
    names: set[str] = set()
    for field in _fields(selections):
        children = _fields(field.selections)
        if through is not None:
            children = (g for child in children if child.name == through for g in _fields(child.selections))
        names.update(child.name for child in children)
    return frozenset(names)
