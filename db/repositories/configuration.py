"""Configuration read in the transaction that applies it: business rules and exchange rates."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.models import BusinessRules, ExchangeRate
from domain.rules import Rules, parse_rules

__all__ = ["exchange_rates", "load_rules", "rules_from_rows", "rules_rows_columns"]


async def load_rules(session: AsyncSession | AsyncConnection) -> Rules:
    """The configured business rules (table business_rules; shipped defaults for missing sets).

    Read in every transaction that applies them (a change to the table takes effect at once),
    and once per read operation that shows what they allow (`availableTransitions`); parsed
    only when their text differs from what was parsed before.
    """
    stmt = select(BusinessRules.name, cast(BusinessRules.rules, Text)).order_by(BusinessRules.name)
    rows = (await session.execute(stmt)).all()
    return _parsed_rules(tuple((str(name), str(data)) for name, data in rows))


def rules_rows_columns() -> tuple[Any, Any]:
    """Two scalar subqueries (names, texts ordered by name) that read the rules inside a larger
    statement; `rules_from_rows(names, texts)` parses them as `load_rules` does."""
    order = aggregate_order_by(BusinessRules.name, BusinessRules.name)
    names = select(func.array_agg(order)).scalar_subquery()
    texts = select(
        func.array_agg(aggregate_order_by(cast(BusinessRules.rules, Text), BusinessRules.name))
    ).scalar_subquery()
    return names, texts


def rules_from_rows(names: Sequence[str] | None, texts: Sequence[str] | None) -> Rules:
    return _parsed_rules(tuple(zip(names or (), texts or (), strict=True)))


@functools.lru_cache(maxsize=8)
def _parsed_rules(rows: tuple[tuple[str, str], ...]) -> Rules:
    return parse_rules({name: json.loads(data) for name, data in rows})


async def exchange_rates(session: AsyncSession) -> dict[str, Decimal]:
    """USD per unit of each configured currency."""
    rows = (await session.execute(select(ExchangeRate.currency, ExchangeRate.usd))).all()
    return {currency: Decimal(usd) for currency, usd in rows}
