"""Relation fields that complete synchronously when the operation already holds their rows.

An `async def` resolver costs graphql-core a coroutine chain per field and, once an object has
two or more of them, an asyncio Task each (graphql-core gathers an object's awaitable fields
with `gather_with_cancel`). A page of 50 requests with five relations was ~250 tasks per
operation, the largest single cost of the read path. graphql-core accepts an awaitable from a
*synchronous* resolver too, so relation fields are plain `def`s built on `now_or_later`: when the
request-scoped DataLoader already holds the row (primed by a page, or prefetched by a connection,
see `schema.pagination.Connection`) the field's value is built on the spot and the whole object
completes without a task; otherwise it returns an awaitable of the same value and the field
resolves exactly as an async resolver would (same batch, same statement).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar, cast

from strawberry.dataloader import DataLoader

__all__ = ["now_or_later", "optional", "required"]

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")


def now_or_later(loader: DataLoader[K, V], key: K, build: Callable[[V], R]) -> R:
    """`build(value of key)`, now if the loader already has it, else as an awaitable.

    Typed as `R` because a strawberry resolver must be annotated with its GraphQL type; the
    awaitable branch is for graphql-core, which awaits whatever a resolver returns. Errors are
    not special-cased: a failed load raises when the awaitable is awaited, as it always did.
    """
    future = loader.load(key)
    if isinstance(future, asyncio.Future) and future.done() and future.exception() is None:
        return build(future.result())
    return cast(R, _later(future, build))


async def _later(future: Any, build: Callable[[Any], R]) -> R:
    return build(await future)


def required(loader: DataLoader[K, V | None], key: K, build: Callable[[V], R]) -> R:
    """A to-one relation behind a foreign key: its row exists (`now_or_later` of `build(row)`)."""
    return now_or_later(loader, key, partial(_required, build))


def optional(loader: DataLoader[K, V | None], key: K, build: Callable[[V], R]) -> R | None:
    """A to-one relation whose row may be gone: `build(row)`, or None without a row."""
    return now_or_later(loader, key, partial(_optional, build))


def _required(build: Callable[[V], R], row: V | None) -> R:
    assert row is not None  # foreign key
    return build(row)


def _optional(build: Callable[[V], R], row: V | None) -> R | None:
    return build(row) if row is not None else None
