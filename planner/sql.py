"""SQL text that builds JSON text: the pieces every compiled field is made of.

PostgreSQL writes the response as compact JSON text by concatenation (its `json` type would put
spaces after colons and commas): objects are `'{"key":' || value || ...`, lists
`'[' || string_agg(...) || ']'`. Scalars go through the functions of migration 0009 (the
contract's DateTime, Date, global IDs, cursors), so the bytes are those the resolver path
writes through orjson.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "NULL",
    "REFUSED",
    "SENTINEL",
    "json_array",
    "json_bool",
    "json_date",
    "json_datetime",
    "json_int",
    "json_object",
    "json_text",
    "literal",
    "nullable",
]

NULL = "'null'"
# A raw control character never appears in JSON text PostgreSQL escapes (to_json writes \u0001):
# a value the statement cannot decide exactly is written as this byte, and the runtime answers
# that request through the resolvers instead (planner.runtime).
SENTINEL = "chr(1)"
# Another raw control character: the resolver path answers this request with an error the
# statement found (an endpoint the caller does not manage: NOT_FOUND; a number orjson refuses).
REFUSED = "chr(2)"


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def json_text(expr: str) -> str:
    return f"cg_json_text({expr})"


def json_int(expr: str) -> str:
    return f"coalesce(({expr})::text, 'null')"


def json_bool(expr: str) -> str:
    return f"coalesce(({expr})::text, 'null')"


def json_datetime(expr: str) -> str:
    return f"cg_json_datetime({expr})"


def json_date(expr: str) -> str:
    return f"cg_json_date({expr})"


def nullable(condition: str, value: str) -> str:
    """`value` when `condition` holds, else JSON null."""
    return f"CASE WHEN {condition} THEN {value} ELSE 'null' END"


def json_object(members: Sequence[tuple[str, str]]) -> str:
    """`{"key":value,...}` of (response key, SQL expression of JSON text) pairs, in order."""
    if not members:
        return "'{}'"
    pieces: list[str] = []
    text = "{"
    for i, (key, expr) in enumerate(members):
        text += ("," if i else "") + f'"{key}":'
        if expr.startswith("'") and expr.endswith("'") and expr.count("'") == 2:
            text += expr[1:-1]  # a constant: folded into the surrounding text
            continue
        pieces.append(literal(text))
        pieces.append(f"({expr})")
        text = ""
    text += "}"
    pieces.append(literal(text))
    return " || ".join(pieces)


def json_array(element: str, order_by: str, source: str) -> str:
    """A scalar subquery: the JSON array of `element` over the rows of `source` in `order_by`."""
    return (
        f"(SELECT '[' || coalesce(string_agg({element}, ',' ORDER BY {order_by}), '') || ']' FROM {source})"
    )
