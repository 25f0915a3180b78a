"""Configuration read in the transaction that applies it: business rules and exchange rates."""

from __future__ import annotations

import functools
import json
from decimal import Decimal

from sqlalchemy import Text, cast, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.models import BusinessRules, ExchangeRate
from domain.rules import Rules, parse_rules

__all__ = ["exchange_rates", "load_rules"]


async def load_rules(session: AsyncSession | AsyncConnection) -> Rules:
    """The configured business rules (table business_rules; shipped defaults for missing sets).

    Read in every transaction that applies them (a change to the table takes effect at once),
    and once per read operation that shows what they allow (`availableTransitions`); parsed
    only when their text differs from what was parsed before.
    """
    stmt = select(BusinessRules.name, cast(BusinessRules.rules, Text)).order_by(BusinessRules.name)
    rows = (await session.execute(stmt)).all()
    return _parsed_rules(tuple((str(name), str(data)) for name, data in rows))


@functools.lru_cache(maxsize=8)
def _parsed_rules(rows: tuple[tuple[str, str], ...]) -> Rules:
    return parse_rules({name: json.loads(data) for name, data in rows})


async def exchange_rates(session: AsyncSession) -> dict[str, Decimal]:
    """USD per unit of each configured currency."""
    rows = (await session.execute(select(ExchangeRate.currency, ExchangeRate.usd))).all()
    return {currency: Decimal(usd) for currency, usd in rows}
