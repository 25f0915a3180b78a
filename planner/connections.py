"""A Relay connection as one scalar subquery: the keyset page, edges, nodes, pageInfo, totalCount.

The same algorithm as db.queries.keyset (whose `Ordering` names the key columns and encodes
and decodes the cursors) and resolvers.connections (page sizes 1..100, 20 by default): the page
is walked in the ordering (or against it for `last` alone), one row beyond it says whether
there is more, and an EXISTS probe at the starting cursor says whether there is something
before it. Invalid page arguments make the request take the resolver path, which reports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import FieldNode, GraphQLField, VariableNode

from db.queries.keyset import InvalidCursor, Ordering
from planner.builder import Binding, Builder, Unplannable
from planner.sql import json_object, literal

__all__ = ["MAX_PAGE_SIZE", "Listing", "compile_connection"]

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

_CASTS = {"datetime": "timestamptz", "date": "date", "int": "bigint", "decimal": "numeric", "str": "text"}


@dataclass(frozen=True)
class Listing:
    """What a connection lists: rows of `table` matching `conditions(alias)`, as `node_type`.

    `source(alias)` is the FROM clause when the conditions need a join (its row alias is
    `alias`); `count_conditions` defaults to `conditions`.
    """

    table: str
    node_type: str
    ordering: Ordering
    conditions: Callable[[str], list[str]]
    source: Callable[[str], str] | None = None

    def from_clause(self, alias: str) -> str:
        return self.source(alias) if self.source is not None else f"{self.table} {alias}"


def _cursor_value(kind: str, column: str) -> str:
    """The JSON of one key part inside a cursor, as json.dumps writes the decoded value's dump."""
    if kind == "datetime":
        text = f"""'"' || cg_isoformat({column}) || '"'"""
    elif kind == "date":
        text = f"""'"' || to_char({column}, 'YYYY-MM-DD') || '"'"""
    elif kind == "int":
        text = f"({column})::text"
    elif kind == "decimal":
        text = f"""'"' || ({column})::text || '"'"""
    else:
        # json.dumps escapes non-ASCII (\\uXXXX) where PostgreSQL does not: such a key is undecided.
        text = f"CASE WHEN {column} ~ '^[ -~]*$' THEN to_json({column})::text ELSE chr(1) END"
    return f"coalesce({text}, 'null')"


def cursor_sql(ordering: Ordering, row: str) -> str:
    """The cursor of row `row` (SQL text without quotes)."""
    values = " || ',' || ".join(_cursor_value(p.kind, f"{row}.{p.column.name}") for p in ordering.parts)
    return f"""cg_cursor({literal('["' + ordering.name + '",[')} || {values} || ']]')"""


def _cursor_check(decoded: Callable[[Binding], Any], binding: Binding) -> str | None:
    return "bad_cursor" if decoded(binding) is None else None


def _key_part(decoded: Callable[[Binding], Any], i: int, binding: Binding) -> Any:
    return decoded(binding)[i]


def _compare(columns: list[str], values: list[str], op: str) -> str:
    return f"({', '.join(columns)}) {op} ({', '.join(values)})"


def _document_size(nodes: list[FieldNode], name: str, args: dict[str, Any]) -> int | None:
    """The page size `name` (first/last) when the document fixes it: a literal, or the default."""
    for argument in nodes[0].arguments or ():
        if argument.name.value == name:
            if isinstance(argument.value, VariableNode):
                return None
            value = args.get(name)
            break
    else:
        value = None
    if value is None:
        return DEFAULT_PAGE_SIZE if name == "first" else None
    return int(value) if 1 <= value <= MAX_PAGE_SIZE else None


def compile_connection(
    b: Builder,
    nodes: list[FieldNode],
    definition: GraphQLField,
    connection_type: str,
    listing: Listing,
    node_object: Callable[[str, list[FieldNode]], str],
) -> str:
    """The JSON of the connection field `nodes` (SQL text); `node_object(row, nodes)` compiles a node."""
    from planner.objects import typename

    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])
    ordering = listing.ordering
    given = {name: args.get(name) is not None for name in ("first", "after", "last", "before")}
    forward = given["first"] or not given["last"]
    walk_desc = ordering.descending if forward else not ordering.descending
    if (given["after"] or given["before"]) and any(p.nullable for p in ordering.parts):
        raise Unplannable("nullable_keyset_cursor", ordering.name)

    def sizes(binding: Binding) -> str | None:
        found = supply(binding)
        for name in ("first", "last"):
            value = found.get(name)
            if value is not None and not 1 <= value <= MAX_PAGE_SIZE:
                return "bad_page_argument"
        return None

    b.check(sizes)

    def size_of(binding: Binding) -> int:
        found = supply(binding)
        if forward:
            first = found.get("first")
            return int(first) if first is not None else DEFAULT_PAGE_SIZE
        return int(found["last"])

    # A page size the document writes (or the default) is a constant of the plan: PostgreSQL then
    # plans the statement once (a generic plan) instead of for every request, as it must for a
    # LIMIT whose value it does not know. A size from a variable stays a parameter.
    fixed = _document_size(nodes, "first" if forward else "last", args)
    size = str(fixed) if fixed is not None else b.param(size_of, "bigint")
    key_params: dict[str, list[str]] = {}
    for name in ("after", "before"):
        if not given[name]:
            continue
        cache_key = (id(nodes[0]), name)

        def decoded(binding: Binding, name: str = name, cache_key: Any = cache_key) -> Any:
            memo = binding.arguments.setdefault(cache_key, {})  # type: ignore[arg-type]
            if "key" not in memo:
                try:
                    memo["key"] = ordering.decode(supply(binding)[name])
                except InvalidCursor:
                    memo["key"] = None
            return memo["key"]

        b.check(partial(_cursor_check, decoded))
        key_params[name] = [
            b.param(partial(_key_part, decoded, i), _CASTS[part.kind])
            for i, part in enumerate(ordering.parts)
        ]

    def columns(alias: str) -> list[str]:
        return [f"{alias}.{p.column.name}" for p in ordering.parts]

    a = b.alias("k")
    conditions = list(listing.conditions(a))
    if "after" in key_params:
        conditions.append(_compare(columns(a), key_params["after"], "<" if ordering.descending else ">"))
    if "before" in key_params:
        conditions.append(_compare(columns(a), key_params["before"], ">" if ordering.descending else "<"))
    direction = "DESC" if walk_desc else "ASC"
    inner = (
        f"SELECT {a}.* FROM {listing.from_clause(a)} WHERE {' AND '.join(conditions) or 'true'} "
        f"ORDER BY {', '.join(f'{c} {direction}' for c in columns(a))} LIMIT {size} + 1"
    )
    p, q = b.alias("p"), b.alias("q")
    numbered = (
        f"SELECT {p}.*, row_number() OVER (ORDER BY {', '.join(f'{c} {direction}' for c in columns(p))}) "
        f"AS page_i_, count(*) OVER () AS page_n_ FROM ({inner}) {p}"
    )
    kept = f"{q}.page_i_ <= {size}"
    last = None
    if forward and given["last"]:
        last = b.param(lambda binding: int(supply(binding)["last"]), "bigint")
        kept += f" AND {q}.page_i_ > least({q}.page_n_, {size}) - {last}"
    order = f"{q}.page_i_" if forward else f"{q}.page_i_ DESC"
    reverse = f"{q}.page_i_ DESC" if forward else f"{q}.page_i_"
    cursor = cursor_sql(ordering, q)
    beyond_name = "after" if forward else "before"
    beyond = "false"
    if beyond_name in key_params:
        e = b.alias("e")
        probe = [
            *listing.conditions(e),
            _compare(columns(e), key_params[beyond_name], ">=" if walk_desc else "<="),
        ]
        beyond = f"EXISTS (SELECT 1 FROM {listing.from_clause(e)} WHERE {' AND '.join(probe)})"
    more = f"coalesce(max({q}.page_n_), 0) > {size}"
    if forward:
        has_next = f"({more}) OR {'true' if given['before'] else 'false'}"
        has_previous = beyond
        if last is not None:
            has_previous = f"({beyond}) OR least(coalesce(max({q}.page_n_), 0), {size}) > {last}"
    else:
        has_previous = f"({more}) OR {'true' if given['after'] else 'false'}"
        has_next = beyond

    def edge_list(element: str) -> str:
        return (
            f"'[' || coalesce(string_agg({element}, ',' ORDER BY {order}) FILTER (WHERE {kept}), '') || ']'"
        )

    def page_info(info_nodes: list[FieldNode]) -> str:
        members = []
        for key, fields in b.collect("PageInfo", info_nodes).items():
            name = fields[0].name.value
            if name == "hasNextPage":
                members.append((key, f"({has_next})::text"))
            elif name == "hasPreviousPage":
                members.append((key, f"({has_previous})::text"))
            elif name in ("startCursor", "endCursor"):
                by = order if name == "startCursor" else reverse
                first_cursor = f"(array_agg({cursor} ORDER BY {by}) FILTER (WHERE {kept}))[1]"
                members.append((key, f"""coalesce('"' || {first_cursor} || '"', 'null')"""))
            elif name == "__typename":
                members.append((key, typename("PageInfo")))
            else:
                raise Unplannable("unsupported_field", f"PageInfo.{name}")
        return json_object(members)

    def edge(edge_nodes: list[FieldNode]) -> str:
        edge_type = connection_type.removesuffix("Connection") + "Edge"
        members = []
        for key, fields in b.collect(edge_type, edge_nodes).items():
            name = fields[0].name.value
            if name == "cursor":
                members.append((key, f"""'"' || {cursor} || '"'"""))
            elif name == "node":
                members.append((key, node_object(q, fields)))
            elif name == "__typename":
                members.append((key, typename(edge_type)))
            else:
                raise Unplannable("unsupported_field", f"{edge_type}.{name}")
        return json_object(members)

    members: list[tuple[str, str]] = []
    collected = b.collect(connection_type, nodes)
    for key, fields in collected.items():
        name = fields[0].name.value
        if name == "edges":
            members.append((key, edge_list(edge(fields))))
        elif name == "nodes":
            members.append((key, edge_list(node_object(q, fields))))
        elif name == "pageInfo":
            members.append((key, page_info(fields)))
        elif name == "totalCount":
            c = b.alias("c")
            where = " AND ".join(listing.conditions(c)) or "true"
            members.append((key, f"(SELECT count(*) FROM {listing.from_clause(c)} WHERE {where})::text"))
        elif name == "__typename":
            members.append((key, typename(connection_type)))
        else:
            raise Unplannable("unsupported_field", f"{connection_type}.{name}")
    uses_page = any(fields[0].name.value in ("edges", "nodes", "pageInfo") for fields in collected.values())
    if not uses_page:
        return f"(SELECT {json_object(members)})"
    return f"(SELECT {json_object(members)} FROM ({numbered}) {q})"
