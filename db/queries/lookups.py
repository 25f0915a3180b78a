"""Batched look-ups by key: what the DataLoaders run (one statement per batch)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, and_, case, func, literal, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries.scope import CustomerScope, id_in, in_scope
from db.tables import CONTRACTS, INVOICES, REQUESTS, STAFF, TEAM_MEMBERS, TEAMS, columns
from domain.enums import OPEN_STATUSES
from records.rows import ContractRow, Row, StaffRow, TeamRow

__all__ = [
    "all_teams",
    "current_contract_order",
    "current_contracts",
    "members_by_team",
    "open_balances",
    "open_request_counts",
    "rows_by_ids",
    "rows_grouped",
    "teams_by_staff",
]

RowT = TypeVar("RowT", bound=Row)


async def rows_by_ids(
    conn: AsyncConnection,
    table: Table,
    row_type: type[RowT],
    ids: Sequence[int],
    *,
    key: str = "id",
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[int, RowT]:
    """Rows of `table` whose `key` column is in `ids` (and that meet `where`), by that key."""
    stmt = select(*columns(table, row_type)).where(id_in(table.c[key], ids), *where)
    return {r[key]: row_type.of(r) for r in (await conn.execute(stmt)).mappings()}


async def rows_grouped(
    conn: AsyncConnection,
    table: Table,
    row_type: type[RowT],
    parent: str,
    parent_ids: Sequence[int],
    *,
    order_by: Sequence[Any] = (),
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[int, list[RowT]]:
    """Children of many parents in one statement, grouped by the `parent` column."""
    stmt = (
        select(*columns(table, row_type), table.c[parent].label("_parent"))
        .where(id_in(table.c[parent], parent_ids), *where)
        .order_by(*(order_by or (table.c.id,)))
    )
    grouped: dict[int, list[RowT]] = defaultdict(list)
    for r in (await conn.execute(stmt)).mappings():
        grouped[r["_parent"]].append(row_type.of(r))
    return grouped


async def all_teams(conn: AsyncConnection) -> list[TeamRow]:
    """Every team, by name."""
    stmt = select(*columns(TEAMS, TeamRow)).order_by(TEAMS.c.name, TEAMS.c.id)
    return [TeamRow.of(r) for r in (await conn.execute(stmt)).mappings()]


async def teams_by_staff(conn: AsyncConnection, staff_ids: Sequence[int]) -> dict[int, list[TeamRow]]:
    """Teams of each staff member, by name."""
    stmt = (
        select(*columns(TEAMS, TeamRow), TEAM_MEMBERS.c.staff_id)
        .join(TEAM_MEMBERS, TEAM_MEMBERS.c.team_id == TEAMS.c.id)
        .where(id_in(TEAM_MEMBERS.c.staff_id, staff_ids))
        .order_by(TEAMS.c.name, TEAMS.c.id)
    )
    grouped: dict[int, list[TeamRow]] = defaultdict(list)
    for r in (await conn.execute(stmt)).mappings():
        grouped[r["staff_id"]].append(TeamRow.of(r))
    return grouped


async def members_by_team(conn: AsyncConnection, team_ids: Sequence[int]) -> dict[int, list[StaffRow]]:
    """Active staff members of each team, by name."""
    stmt = (
        select(*columns(STAFF, StaffRow), TEAM_MEMBERS.c.team_id)
        .join(TEAM_MEMBERS, TEAM_MEMBERS.c.staff_id == STAFF.c.id)
        .where(id_in(TEAM_MEMBERS.c.team_id, team_ids), STAFF.c.active.is_(True))
        .order_by(STAFF.c.name, STAFF.c.id)
    )
    grouped: dict[int, list[StaffRow]] = defaultdict(list)
    for r in (await conn.execute(stmt)).mappings():
        grouped[r["team_id"]].append(StaffRow.of(r))
    return grouped


async def open_request_counts(
    conn: AsyncConnection, column: str, ids: Sequence[int], scope: CustomerScope
) -> dict[int, int]:
    """Open requests per assignee or team (`column`), counting only the caller's customers."""
    col = REQUESTS.c[column]
    stmt = (
        select(col, func.count())
        .where(
            id_in(col, ids),
            REQUESTS.c.status.in_([s.value for s in OPEN_STATUSES]),
            in_scope(REQUESTS.c.customer_id, scope),
        )
        .group_by(col)
    )
    return {k: int(n) for k, n in (await conn.execute(stmt)).all()}


async def open_balances(
    conn: AsyncConnection, customer_ids: Sequence[int]
) -> dict[int, list[tuple[str, Decimal]]]:
    """Outstanding of open invoices (outstanding > 0, not voided) per customer and currency."""
    i = INVOICES.c
    stmt = (
        select(i.customer_id, i.currency, func.sum(i.outstanding))
        .where(id_in(i.customer_id, customer_ids), i.outstanding > 0, i.voided.is_(False))
        .group_by(i.customer_id, i.currency)
        .order_by(i.customer_id, i.currency)
    )
    grouped: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    for customer_id, currency, total in (await conn.execute(stmt)).all():
        grouped[customer_id].append((currency, total))
    return grouped


def current_contract_order(today: date | ColumnElement[date]) -> list[ColumnElement[Any]]:
    """The order that puts a customer's current contract first: in force today, latest started
    (`today` a date, or a bound parameter standing for one)."""
    c = CONTRACTS.c
    in_force = and_(c.starts_on <= today, or_(c.ends_on.is_(None), c.ends_on >= today))
    return [case((in_force, literal(0)), else_=literal(1)), c.starts_on.desc(), c.id.desc()]


async def current_contracts(
    conn: AsyncConnection, customer_ids: Sequence[int], today: date
) -> dict[int, ContractRow]:
    """Each customer's current contract: the latest started one in force today, else the latest."""
    c = CONTRACTS.c
    stmt = (
        select(*columns(CONTRACTS, ContractRow))
        .where(id_in(c.customer_id, customer_ids))
        .ext(distinct_on(c.customer_id))
        .order_by(c.customer_id, *current_contract_order(today))
    )
    return {r["customer_id"]: ContractRow.of(r) for r in (await conn.execute(stmt)).mappings()}
