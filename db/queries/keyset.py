"""Keyset (seek) pagination in both directions with opaque, ordering-bound cursors.

An `Ordering` is a list of key parts ending with a unique id. NULLs sort as
the greatest value (PostgreSQL's default: last ascending, first descending),
so one index serves both directions. A page is fetched with one statement
(plus an EXISTS probe for the opposite direction only when a cursor is
given); rows inserted concurrently never shift or duplicate items across
pages because positions are values, not offsets.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "InvalidCursor",
    "KeyPart",
    "Ordering",
    "Page",
    "PageRequest",
    "count",
    "count_by",
    "fetch_page",
    "fetch_pages",
]

Kind = Literal["datetime", "date", "int", "decimal", "str"]
Key = tuple[Any, ...]


class InvalidCursor(ValueError):
    """A cursor that is not ours, is corrupt, or belongs to another ordering."""


@dataclass(frozen=True)
class KeyPart:
    column: ColumnElement[Any]
    kind: Kind
    nullable: bool = False


@dataclass(frozen=True)
class Ordering:
    """A total order: `name` is bound into its cursors; `parts` end with a unique id."""

    name: str
    parts: tuple[KeyPart, ...]
    descending: bool = False

    def encode(self, key: Key) -> str:
        """The opaque cursor of the row with this key."""
        values = [_dump(part.kind, value) for part, value in zip(self.parts, key, strict=True)]
        raw = json.dumps([self.name, values], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def decode(self, cursor: str) -> Key:
        """The key inside `cursor`; InvalidCursor unless it was made by this ordering."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            name, values = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise InvalidCursor("invalid cursor") from exc
        if name != self.name:
            raise InvalidCursor("cursor belongs to another ordering")
        if not isinstance(values, list) or len(values) != len(self.parts):
            raise InvalidCursor("invalid cursor")
        try:
            return tuple(_load(p, v) for p, v in zip(self.parts, values, strict=True))
        except (ValueError, TypeError, InvalidOperation) as exc:
            raise InvalidCursor("invalid cursor") from exc

    def key_columns(self) -> list[Any]:
        return [part.column.label(f"_k{i}") for i, part in enumerate(self.parts)]

    def key_of(self, row: RowMapping) -> Key:
        return tuple(row[f"_k{i}"] for i in range(len(self.parts)))


def _dump(kind: Kind, value: Any) -> Any:
    if value is None or kind in ("int", "str"):
        return value
    if kind == "datetime":
        return value.isoformat()
    if kind == "date":
        return value.isoformat()
    return str(value)


def _load(part: KeyPart, value: Any) -> Any:
    if value is None:
        if not part.nullable:
            raise ValueError("null key")
        return None
    if part.kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("int expected")
        return value
    if not isinstance(value, str):
        raise TypeError("string expected")
    if part.kind == "str":
        return value
    if part.kind == "datetime":
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive instant")
        return parsed
    if part.kind == "date":
        return date.fromisoformat(value)
    return Decimal(value)


@dataclass(frozen=True)
class PageRequest:
    """Validated page arguments; at least one of first/last is set."""

    first: int | None = None
    after: Key | None = None
    last: int | None = None
    before: Key | None = None


@dataclass
class Page:
    rows: list[RowMapping]
    keys: list[Key]
    has_next: bool
    has_previous: bool


def _part_after(part: KeyPart, value: Any, descending: bool) -> ColumnElement[bool]:
    """Rows strictly after `value` on this part (NULL is the greatest value)."""
    col = part.column
    if not descending:
        if value is None:
            return false()
        return or_(col > value, col.is_(None)) if part.nullable else col > value
    if value is None:
        return col.is_not(None)
    return and_(col.is_not(None), col < value) if part.nullable else col < value


def _part_equal(part: KeyPart, value: Any) -> ColumnElement[bool]:
    return part.column.is_(None) if value is None else part.column == value


def _after(ordering: Ordering, key: Key, descending: bool) -> ColumnElement[bool]:
    """Rows strictly after `key` when walking in `descending` direction."""
    parts = ordering.parts
    if not any(p.nullable for p in parts):
        # A row comparison lets PostgreSQL seek the composite index directly.
        cols = tuple_(*(p.column for p in parts))
        vals = tuple_(*key)
        return cols < vals if descending else cols > vals
    branches = []
    for i, part in enumerate(parts):
        prefix = [_part_equal(parts[j], key[j]) for j in range(i)]
        branches.append(and_(true(), *prefix, _part_after(part, key[i], descending)))
    return or_(*branches)


def _order_by(ordering: Ordering, descending: bool) -> list[Any]:
    return [p.column.desc() if descending else p.column.asc() for p in ordering.parts]


async def _exists(conn: AsyncConnection, base: Select[Any], where: ColumnElement[bool]) -> bool:
    probe = select(base.where(where).exists())
    return bool((await conn.execute(probe)).scalar())


def _walk(ordering: Ordering, page: PageRequest) -> tuple[bool, int, bool]:
    """(forward, rows wanted, descending as walked): `first` walks forward, `last` alone backward."""
    forward = page.first is not None or page.last is None
    if forward:
        return True, page.first if page.first is not None else 20, ordering.descending
    assert page.last is not None
    return False, page.last, not ordering.descending


def _window(base: Select[Any], ordering: Ordering, page: PageRequest) -> Select[Any]:
    """`base` with the key columns, between the page's cursors."""
    stmt = base.add_columns(*ordering.key_columns())
    if page.after is not None:
        stmt = stmt.where(_after(ordering, page.after, ordering.descending))
    if page.before is not None:
        stmt = stmt.where(_after(ordering, page.before, not ordering.descending))
    return stmt


def _page(ordering: Ordering, page: PageRequest, rows: list[RowMapping], *, beyond: bool) -> Page:
    """Relay's page from up to size + 1 rows in walking order; `beyond`: a row lies before the
    cursor the walk started from (after `after` forward, before `before` backward)."""
    forward, size, _ = _walk(ordering, page)
    if forward:
        has_next = len(rows) > size or page.before is not None
        rows, has_previous = rows[:size], beyond
        if page.last is not None and len(rows) > page.last:
            rows, has_previous = rows[-page.last :], True
    else:
        has_previous = len(rows) > size or page.after is not None
        rows, has_next = rows[:size][::-1], beyond
    return Page(
        rows=rows, keys=[ordering.key_of(r) for r in rows], has_next=has_next, has_previous=has_previous
    )


def _start(ordering: Ordering, page: PageRequest) -> tuple[Key, bool] | None:
    """The cursor the walk starts from and its walking direction, if any (for the `beyond` probe)."""
    forward, _, walk = _walk(ordering, page)
    start = page.after if forward else page.before
    return None if start is None else (start, walk)


async def fetch_page(conn: AsyncConnection, base: Select[Any], ordering: Ordering, page: PageRequest) -> Page:
    """One page of `base` (already filtered and scoped) in `ordering`, per Relay's algorithm."""
    _, size, walk = _walk(ordering, page)
    stmt = _window(base, ordering, page).order_by(*_order_by(ordering, walk)).limit(size + 1)
    rows = list((await conn.execute(stmt)).mappings())
    start = _start(ordering, page)
    beyond = start is not None and await _exists(conn, base, _not_after(ordering, *start))
    return _page(ordering, page, rows, beyond=beyond)


def _not_after(ordering: Ordering, key: Key, descending: bool) -> ColumnElement[bool]:
    """The row at `key` or any row before it (walking in `descending` direction)."""
    equal = and_(*(_part_equal(p, v) for p, v in zip(ordering.parts, key, strict=True)))
    return or_(_after(ordering, key, not descending), equal)


async def count(conn: AsyncConnection, base: Select[Any]) -> int:
    """Rows of `base` (totalCount: same scope and filters, no cursor)."""
    stmt = select(func.count()).select_from(base.order_by(None).subquery())
    return int((await conn.execute(stmt)).scalar_one())


async def fetch_pages(
    conn: AsyncConnection,
    base: Select[Any],
    ordering: Ordering,
    page: PageRequest,
    *,
    parent: ColumnElement[Any],
    parents: Sequence[int],
) -> dict[int, Page]:
    """`fetch_page` of `base` for each of `parents` (rows whose `parent` column is that id) at once.

    A nested connection (a customer's invoices, a request's comments) asked on a whole page of
    parents: one statement numbers each parent's rows in walking order (row_number() per
    parent) and keeps the first size + 1, plus one probe for all parents when a cursor is
    given. The pages are exactly those `fetch_page` gives parent by parent.
    """
    ids = sorted(set(parents))
    _, size, walk = _walk(ordering, page)
    number = func.row_number().over(partition_by=parent, order_by=_order_by(ordering, walk))
    inner = (
        _window(base.where(parent.in_(ids)), ordering, page)
        .add_columns(parent.label("parent_key_"), number.label("row_n_"))
        .subquery()
    )
    stmt = (
        select(inner).where(inner.c["row_n_"] <= size + 1).order_by(inner.c["parent_key_"], inner.c["row_n_"])
    )
    grouped: dict[int, list[RowMapping]] = defaultdict(list)
    for row in (await conn.execute(stmt)).mappings():
        grouped[row["parent_key_"]].append(row)
    beyond: set[int] = set()
    start = _start(ordering, page)
    if start is not None:
        found = (
            base.where(parent.in_(ids), _not_after(ordering, *start))
            .add_columns(parent.label("parent_key_"))
            .subquery()
        )
        beyond = set((await conn.execute(select(found.c["parent_key_"]).distinct())).scalars())
    return {pid: _page(ordering, page, grouped.get(pid, []), beyond=pid in beyond) for pid in ids}


async def count_by(
    conn: AsyncConnection, base: Select[Any], *, parent: ColumnElement[Any], parents: Sequence[int]
) -> dict[int, int]:
    """`count` of `base` for each of `parents` at once (one GROUP BY)."""
    ids = sorted(set(parents))
    sub = base.order_by(None).where(parent.in_(ids)).add_columns(parent.label("parent_key_")).subquery()
    stmt = select(sub.c["parent_key_"], func.count()).group_by(sub.c["parent_key_"])
    counted = {int(pid): int(n) for pid, n in (await conn.execute(stmt)).all()}
    return {pid: counted.get(pid, 0) for pid in ids}
