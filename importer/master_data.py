"""The master-data import (IMPORT.md): validate a whole file, then upsert it by natural keys.

`import_master_data` works inside the caller's transaction and never
commits: it validates every record first (importer.parsing), checks
references and invoice balances against the database (importer.checks),
and only then writes. A bad record raises `ImportRejected` before any
statement that writes has run, so nothing is written; the caller commits
on success and rolls back otherwise.

Writes are PostgreSQL `INSERT ... ON CONFLICT (natural key) DO UPDATE ...
WHERE (some column IS DISTINCT FROM the new value)`, sent as multi-row
statements (SQLAlchemy's insertmanyvalues batching), so re-importing the
same file rewrites no row, and a large file costs a few round trips per
thousand records rather than one per record. Team membership and partner
links of the staff and partners named in the file are replaced by what
the file says. Invoice `outstanding` is recomputed for every invoice the
import touches (importer.checks.plan_outstanding).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Numeric, String, Table, bindparam, func, literal_column, or_, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Base
from importer.checks import check_references, plan_outstanding
from importer.parsing import SECTIONS, ImportRejected, Item, ParsedFile, parse_import

__all__ = ["ImportRejected", "ImportSummary", "SectionCounts", "import_master_data"]


@dataclass
class SectionCounts:
    """What happened to the records of one section."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class ImportSummary:
    """Counts per section (attribute names are the file's section names in snake_case)."""

    calendars: SectionCounts = field(default_factory=SectionCounts)
    teams: SectionCounts = field(default_factory=SectionCounts)
    staff: SectionCounts = field(default_factory=SectionCounts)
    customers: SectionCounts = field(default_factory=SectionCounts)
    contracts: SectionCounts = field(default_factory=SectionCounts)
    invoices: SectionCounts = field(default_factory=SectionCounts)
    payments: SectionCounts = field(default_factory=SectionCounts)
    financial_statements: SectionCounts = field(default_factory=SectionCounts)
    partners: SectionCounts = field(default_factory=SectionCounts)
    exchange_rates: SectionCounts = field(default_factory=SectionCounts)
    sla_policies: SectionCounts = field(default_factory=SectionCounts)
    mailboxes: SectionCounts = field(default_factory=SectionCounts)
    contacts: SectionCounts = field(default_factory=SectionCounts)
    # Invoices the file does not name whose outstanding changed because one of its payments moved away.
    outstanding_recomputed: int = 0

    def sections(self) -> dict[str, SectionCounts]:
        """File section name -> counts, in the file's order."""
        counts = [getattr(self, f.name) for f in fields(self) if f.name != "outstanding_recomputed"]
        return dict(zip(SECTIONS, counts, strict=True))

    @property
    def changed(self) -> bool:
        """False when the import wrote nothing (e.g. the same file imported again)."""
        return self.outstanding_recomputed > 0 or any(
            c.inserted or c.updated for c in self.sections().values()
        )

    def lines(self) -> list[str]:
        """One line per non-empty section, for the command line."""
        lines = [
            f"{name}: {c.inserted} inserted, {c.updated} updated, {c.unchanged} unchanged"
            for name, c in self.sections().items()
            if c.total
        ]
        if self.outstanding_recomputed:
            lines.append(f"outstanding recomputed on {self.outstanding_recomputed} other invoices")
        return lines

    def __str__(self) -> str:
        return "; ".join(self.lines()) or "nothing to import"


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


async def _upsert(
    session: AsyncSession,
    table_name: str,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    *,
    touch: Mapping[str, Any] | None = None,
) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Upsert rows by the `conflict` columns; returns (inserted keys, updated keys).

    Rows whose stored values already equal the new ones match no WHERE and are not written.
    `touch` adds assignments made only when a row is updated (e.g. updated_at = now()).
    """
    if not rows:
        return set(), set()
    table = _table(table_name)
    insert = pg_insert(table)
    compared = [c for c in rows[0] if c not in conflict]
    stmt = insert.on_conflict_do_update(
        index_elements=list(conflict),
        set_={**{c: insert.excluded[c] for c in compared}, **(touch or {})},
        where=or_(*[table.c[c].is_distinct_from(insert.excluded[c]) for c in compared]),
    ).returning(*[table.c[c] for c in conflict], literal_column("(xmax = 0)").label("inserted"))
    inserted: set[tuple[Any, ...]] = set()
    updated: set[tuple[Any, ...]] = set()
    for row in (await session.execute(stmt, list(rows))).all():
        key = tuple(row[: len(conflict)])
        (inserted if row[-1] else updated).add(key)
    return inserted, updated


def _count(total: int, inserted: set[Any], updated: set[Any]) -> SectionCounts:
    changed = updated - inserted
    return SectionCounts(len(inserted), len(changed), total - len(inserted) - len(changed))


async def _ids(session: AsyncSession, table: str, column: str, keys: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    sql = text(f"SELECT {column}, id FROM {table} WHERE {column} = ANY(:keys)")
    return {k: i for k, i in (await session.execute(sql, {"keys": wanted})).all()}


async def _replace_links(
    session: AsyncSession,
    table: str,
    owner: str,
    other: str,
    owners: Sequence[int],
    pairs: Sequence[tuple[int, int]],
) -> set[int]:
    """Make the links of `owners` exactly `pairs`; returns the owners whose links changed."""
    if not owners:
        return set()
    ids = ARRAY(BigInteger)
    params = [
        bindparam("owners", list(owners), type_=ids),
        bindparam("o", [p[0] for p in pairs], type_=ids),
        bindparam("x", [p[1] for p in pairs], type_=ids),
    ]
    wanted = "unnest(CAST(:o AS bigint[]), CAST(:x AS bigint[])) AS d(o, x)"
    deleted = await session.execute(
        text(
            # NOT IN over a subquery is planned as a hashed subplan: linear in the number of links.
            f"DELETE FROM {table} AS l WHERE l.{owner} = ANY(:owners) AND (l.{owner}, l.{other}) NOT IN "
            f"(SELECT o, x FROM {wanted}) RETURNING l.{owner}"
        ).bindparams(*params)
    )
    changed = {row[0] for row in deleted.all()}
    added = await session.execute(
        text(
            f"INSERT INTO {table} ({owner}, {other}) SELECT o, x FROM {wanted} "
            f"ON CONFLICT DO NOTHING RETURNING {owner}"
        ).bindparams(*params[1:])
    )
    return changed | {row[0] for row in added.all()}


def _with(items: list[Item], **columns: Any) -> list[dict[str, Any]]:
    """Rows of `items`, each extended by columns computed from the item (callables) or constants."""
    return [
        {**item.row, **{c: (v(item) if callable(v) else v) for c, v in columns.items()}} for item in items
    ]


async def _write_people(session: AsyncSession, parsed: ParsedFile, summary: ImportSummary) -> None:
    """Calendars, teams, staff and team membership."""
    calendars = parsed["calendars"]
    ins, upd = await _upsert(session, "business_calendars", [i.row for i in calendars], ["name"])
    summary.calendars = _count(len(calendars), ins, upd)
    calendar_refs = [i.refs["calendar"] for i in [*parsed["teams"], *parsed["slaPolicies"]]]
    calendar_ids = await _ids(session, "business_calendars", "name", [r for r in calendar_refs if r])

    teams = parsed["teams"]
    rows = _with(teams, calendar_id=lambda i: calendar_ids.get(i.refs["calendar"]))
    ins, upd = await _upsert(session, "teams", rows, ["name"])
    summary.teams = _count(len(teams), ins, upd)

    staff = parsed["staff"]
    ins, upd = await _upsert(session, "staff", [i.row for i in staff], ["email"])
    staff_ids = await _ids(session, "staff", "email", [i.key for i in staff])
    team_ids = await _ids(session, "teams", "name", [t for i in staff for t in i.refs["teams"]])
    pairs = [(staff_ids[i.key], team_ids[t]) for i in staff for t in i.refs["teams"]]
    moved = await _replace_links(
        session, "team_members", "staff_id", "team_id", list(staff_ids.values()), pairs
    )
    by_id = {v: k for k, v in staff_ids.items()}
    summary.staff = _count(len(staff), ins, upd | {(by_id[s],) for s in moved})


async def _write_accounts(
    session: AsyncSession, parsed: ParsedFile, outstanding: dict[str, Decimal], summary: ImportSummary
) -> None:
    """Customers, contracts, invoices, payments and the outstanding of touched invoices."""
    customers = parsed["customers"]
    ins, upd = await _upsert(session, "customers", [i.row for i in customers], ["external_ref"])
    summary.customers = _count(len(customers), ins, upd)
    refs = [
        i.refs["customer"]
        for s in ("contracts", "invoices", "payments", "financialStatements", "contacts")
        for i in parsed[s]
    ]
    refs += [c for i in parsed["partners"] for c in i.refs["customers"]]
    customer_ids = await _ids(session, "customers", "external_ref", refs)

    def customer_id(item: Item) -> int:
        return customer_ids[item.refs["customer"]]

    contracts = parsed["contracts"]
    ins, upd = await _upsert(session, "contracts", _with(contracts, customer_id=customer_id), ["number"])
    summary.contracts = _count(len(contracts), ins, upd)

    invoices = parsed["invoices"]
    rows = _with(invoices, customer_id=customer_id, outstanding=lambda i: outstanding[i.key])
    ins, upd = await _upsert(session, "invoices", rows, ["number"])
    summary.invoices = _count(len(invoices), ins, upd)

    payments = parsed["payments"]
    invoice_ids = await _ids(
        session, "invoices", "number", [i.refs["invoice"] for i in payments if i.refs["invoice"]]
    )
    rows = _with(
        payments,
        customer_id=customer_id,
        invoice_id=lambda i: invoice_ids[i.refs["invoice"]] if i.refs["invoice"] else None,
    )
    ins, upd = await _upsert(session, "payments", rows, ["reference"])
    summary.payments = _count(len(payments), ins, upd)

    # Invoices not named in the file whose payments moved: their new balance was computed with the rest.
    named = {i.key for i in invoices}
    others = {n: v for n, v in outstanding.items() if n not in named}
    if others:
        result = await session.execute(
            text(
                "UPDATE invoices SET outstanding = d.o FROM unnest(:n, :o) AS d(n, o) "
                "WHERE invoices.number = d.n AND invoices.outstanding IS DISTINCT FROM d.o "
                "RETURNING invoices.id"
            ).bindparams(
                bindparam("n", list(others), type_=ARRAY(String)),
                bindparam("o", list(others.values()), type_=ARRAY(Numeric(18, 2))),
            )
        )
        summary.outstanding_recomputed = len(result.all())

    statements = parsed["financialStatements"]
    rows = _with(statements, customer_id=customer_id)
    ins, upd = await _upsert(session, "financial_statements", rows, ["customer_id", "as_of"])
    summary.financial_statements = _count(len(statements), ins, upd)

    partners = parsed["partners"]
    ins, upd = await _upsert(session, "partners", [i.row for i in partners], ["client_id"])
    partner_ids = await _ids(session, "partners", "client_id", [i.key for i in partners])
    links = [(partner_ids[i.key], customer_ids[c]) for i in partners for c in i.refs["customers"]]
    relinked = await _replace_links(
        session, "partner_customers", "partner_id", "customer_id", list(partner_ids.values()), links
    )
    by_id = {v: k for k, v in partner_ids.items()}
    summary.partners = _count(len(partners), ins, upd | {(by_id[p],) for p in relinked})

    contacts = parsed["contacts"]
    ins, upd = await _upsert(session, "contacts", _with(contacts, customer_id=customer_id), ["email"])
    summary.contacts = _count(len(contacts), ins, upd)


async def _write_settings(session: AsyncSession, parsed: ParsedFile, summary: ImportSummary) -> None:
    """Exchange rates, SLA policy overrides and mailboxes."""
    rates = parsed["exchangeRates"]
    ins, upd = await _upsert(
        session, "exchange_rates", [i.row for i in rates], ["currency"], touch={"updated_at": func.now()}
    )
    summary.exchange_rates = _count(len(rates), ins, upd)

    policies = parsed["slaPolicies"]
    calendar_ids = await _ids(
        session, "business_calendars", "name", [i.refs["calendar"] for i in policies if i.refs["calendar"]]
    )
    rows = _with(policies, calendar_id=lambda i: calendar_ids.get(i.refs["calendar"]))
    ins, upd = await _upsert(session, "sla_policies", rows, ["tier", "priority"])
    summary.sla_policies = _count(len(policies), ins, upd)

    mailboxes = parsed["mailboxes"]
    team_ids = await _ids(session, "teams", "name", [i.refs["team"] for i in mailboxes if i.refs["team"]])
    rows = _with(mailboxes, team_id=lambda i: team_ids.get(i.refs["team"]) if i.refs["team"] else None)
    ins, upd = await _upsert(session, "mailboxes", rows, ["address"])
    summary.mailboxes = _count(len(mailboxes), ins, upd)


async def import_master_data(session: AsyncSession, data: Mapping[str, Any]) -> ImportSummary:
    """Import one master-data file (IMPORT.md) in the caller's transaction; the caller commits.

    Raises ImportRejected (message names the record and field) before writing anything
    when any record is invalid; the session is then left unchanged.
    """
    parsed = parse_import(data)
    await check_references(session, parsed)
    outstanding = await plan_outstanding(session, parsed)
    summary = ImportSummary()
    await _write_people(session, parsed, summary)
    await _write_accounts(session, parsed, outstanding, summary)
    await _write_settings(session, parsed, summary)
    return summary
