"""The rollups of migration 0005 stay equal to a recount, and the rollup path answers like the raw path.

`service_metrics` reads whole days from the rollups unless a customer filter
or scope is given; scoping to every customer therefore computes the same
figures from the raw rows alone, which is what these tests compare.
"""

from __future__ import annotations

import importlib.util
import math
import random
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.models import Approval, Customer, ServiceRequest, SlaPolicy, Team
from reporting.metrics import MetricsRow, service_metrics
from tests.metrics.data import END, NOW, START, Ids, at, insert_data_set

_ROLLUPS = ("metrics_request_daily", "metrics_duration_daily", "metrics_sla_daily")


def _migration(name: str) -> Any:
    path = Path(__file__).parents[2] / "db" / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_KEYS = {
    "metrics_request_daily": "day, team_key, type, dimension, key",
    "metrics_duration_daily": "day, team_key, type, metric, bucket",
    "metrics_sla_daily": "day, team_key, type",
}
_MEASURES = {
    "metrics_request_daily": "sum(n), sum(breach_recorded), sum(ever_resolved), sum(reopened), sum(fr_count),"
    " sum(fr_seconds), sum(res_count), sum(res_seconds)",
    "metrics_duration_daily": "sum(n)",
    "metrics_sla_daily": "sum(due), sum(met)",
}


async def _rollup_rows(conn: AsyncConnection) -> dict[str, set[tuple[Any, ...]]]:
    """Each rollup's totals per key (summed over the writers' shards), zero totals left out."""
    rows = {}
    for table in _ROLLUPS:
        measure = "sum(due) <> 0 OR sum(met) <> 0" if table == "metrics_sla_daily" else "sum(n) <> 0"
        keys = _KEYS[table]
        query = f"SELECT {keys}, {_MEASURES[table]} FROM {table} GROUP BY {keys} HAVING {measure}"
        rows[table] = {tuple(r) for r in await conn.execute(text(query))}
    return rows


async def _mutate(conn: AsyncConnection, ids: Ids) -> None:
    """Changes of every kind the triggers must follow: status, team, stamps, bulk, delete."""
    assert ids.requests is not None
    r = ids.requests
    sr = ServiceRequest
    await conn.execute(
        update(sr)
        .where(sr.id == r["R2"])
        .values(status="RESOLVED", resolved_at=at(11, 20, 11), resolution_code="NO_ADJUSTMENT_NEEDED")
    )
    await conn.execute(update(sr).where(sr.id == r["R6"]).values(team_id=ids.t2))
    await conn.execute(update(sr).where(sr.id == r["R5"]).values(resolution_breached_at=at(11, 15, 12)))
    await conn.execute(
        update(sr).where(sr.id.in_([r["R1"], r["R8"]])).values(reopened_count=sr.reopened_count + 1)
    )
    await conn.execute(update(sr).where(sr.id == r["R9"]).values(version=sr.version + 1))  # irrelevant change
    await conn.execute(delete(Approval).where(Approval.request_id == r["R7"]))
    await conn.execute(delete(sr).where(sr.id == r["R7"]))


@pytest.fixture
async def ids(engine: AsyncEngine) -> Ids:
    async with engine.begin() as conn:
        data = await insert_data_set(conn)
        await _mutate(conn, data)
    return data


async def test_rollups_equal_a_recount_after_changes(engine: AsyncEngine, ids: Ids) -> None:
    columns = _migration("0005_metrics_indexes.py")._COLUMNS
    sharded = _migration("0007_contention_free_commits.py")
    async with engine.connect() as conn:
        maintained = await _rollup_rows(conn)
        assert maintained["metrics_request_daily"]  # the data set is in them
        await conn.execute(text("TRUNCATE " + ", ".join(_ROLLUPS)))
        for statement in sharded.rollup_statements(f"SELECT {columns}, 1 AS sign FROM service_requests"):
            await conn.execute(text(statement))
        recounted = await _rollup_rows(conn)
        await conn.rollback()
    assert maintained == recounted


def _close(a: MetricsRow, b: MetricsRow) -> None:
    left, right = asdict(a), asdict(b)
    for stats in ("first_response_time", "resolution_time", "approval_turnaround"):
        for key in ("average_seconds", "p50_seconds", "p90_seconds"):
            if left[stats][key] is not None:
                left[stats][key] = pytest.approx(left[stats][key])
    assert left == right


WINDOWS = [
    (START, END),  # whole days only
    (at(11, 2, 12), at(11, 19, 6)),  # partial days at both ends
    (at(11, 3), at(11, 3, 18)),  # inside one day: no whole day
    (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    (at(11, 5, 8), at(11, 10, 12, 1)),  # edges falling on requests' instants
]


@pytest.mark.parametrize("window", WINDOWS, ids=[f"w{i}" for i in range(len(WINDOWS))])
@pytest.mark.parametrize(
    "team,types", [(False, None), (True, None), (False, ["BILLING_DISPUTE", "PAYMENT_INQUIRY"])]
)
async def test_rollup_path_equals_raw_path(
    engine: AsyncEngine, ids: Ids, window: tuple[datetime, datetime], team: bool, types: list[str] | None
) -> None:
    async with engine.connect() as conn:
        everyone = frozenset((await conn.execute(select(Customer.id))).scalars())
        kwargs: dict[str, Any] = {
            "start": window[0],
            "end": window[1],
            "now": NOW,
            "team_id": ids.t1 if team else None,
            "customer_id": None,
            "types": types,
        }
        rolled = await service_metrics(conn, **kwargs, customer_ids=None)
        raw = await service_metrics(conn, **kwargs, customer_ids=everyone)
    _close(rolled, raw)


async def test_percentiles_are_exact(engine: AsyncEngine) -> None:
    """Against PostgreSQL's own percentile_cont over the same rows: many buckets, ties, partial days."""
    rng = random.Random(11)
    async with engine.begin() as conn:
        policy = (await conn.execute(select(SlaPolicy.id).limit(1))).scalar_one()
        team = (await conn.execute(insert(Team).values(name="T").returning(Team.id))).scalar_one()
        customer = (
            await conn.execute(
                insert(Customer)
                .values(
                    external_ref="X",
                    name="X",
                    segment="SMB",
                    country="DE",
                    kyc_status="VERIFIED",
                    risk_rating="LOW",
                )
                .returning(Customer.id)
            )
        ).scalar_one()
        rows = []
        for i in range(400):
            created = START + timedelta(seconds=rng.uniform(0, 19 * 86400))
            first = timedelta(
                seconds=rng.choice([60, 600, 3600]) if i % 7 == 0 else math.exp(rng.uniform(0, 13))
            )
            resolved = created + first + timedelta(seconds=math.exp(rng.uniform(0, 14)))
            done = i % 3 != 0
            rows.append(
                {
                    "customer_id": customer,
                    "team_id": team if i % 2 else None,
                    "type": "GENERAL_INQUIRY",
                    "channel": "EMAIL",
                    "priority": "LOW",
                    "status": "CLOSED" if done else "IN_PROGRESS",
                    "subject": "s",
                    "description": "d",
                    "created_by_subject": "t",
                    "sla_policy_id": policy,
                    "created_at": created,
                    "first_responded_at": created + first,
                    "resolved_at": resolved if done else None,
                    "resolution_code": "REJECTED" if done else None,
                    "first_response_due_at": created + timedelta(hours=1),
                    "resolution_due_at": created + timedelta(days=3),
                }
            )
        await conn.execute(insert(ServiceRequest).values(rows))
    truth = text("""
        SELECT percentile_cont(ARRAY[0.5, 0.9])
                   WITHIN GROUP (ORDER BY metrics_seconds(first_responded_at, created_at)),
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY CASE WHEN status = 'CLOSED'
                   THEN metrics_seconds(resolved_at, created_at) END)
        FROM service_requests WHERE created_at >= :start AND created_at < :end
          AND (CAST(:team AS bigint) IS NULL OR team_id = :team)""")
    async with engine.connect() as conn:
        for start, end in [(START, END), (at(11, 2, 7, 30), at(11, 17, 15)), (at(11, 4, 1), at(11, 4, 23))]:
            for team_id in (None, team):
                fr, res = (await conn.execute(truth, {"start": start, "end": end, "team": team_id})).one()
                m = await service_metrics(
                    conn,
                    start=start,
                    end=end,
                    now=NOW,
                    team_id=team_id,
                    customer_id=None,
                    types=None,
                    customer_ids=None,
                )
                assert [
                    m.first_response_time.p50_seconds,
                    m.first_response_time.p90_seconds,
                ] == pytest.approx(fr)
                assert [m.resolution_time.p50_seconds, m.resolution_time.p90_seconds] == pytest.approx(res)


async def test_rollups_follow_writes_made_in_replica_mode(engine: AsyncEngine, ids: Ids) -> None:
    """Bulk loads (demo.seed) skip ordinary triggers with session_replication_role = replica: not these."""
    async with engine.begin() as conn:
        before = (
            await conn.execute(text("SELECT coalesce(sum(n), 0) FROM metrics_request_daily"))
        ).scalar_one()
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text(
                "INSERT INTO service_requests (customer_id, type, channel, subject, description, priority,"
                " status, created_by_subject, sla_policy_id, first_response_due_at, resolution_due_at,"
                " created_at) SELECT customer_id, type, channel, subject, description, priority, status,"
                " created_by_subject, sla_policy_id, first_response_due_at, resolution_due_at, created_at"
                " FROM service_requests WHERE id = :id"
            ),
            {"id": (ids.requests or {})["R4"]},
        )
        after = (
            await conn.execute(text("SELECT coalesce(sum(n), 0) FROM metrics_request_daily"))
        ).scalar_one()
    # One request: one 'status', one 'channel' and one 'priority' row more.
    assert after - before == 3


async def test_writers_on_two_connections_do_not_wait_for_each_other(engine: AsyncEngine, ids: Ids) -> None:
    """Two open transactions changing requests of the same day, team, type and status both proceed:
    each upserts the rollup rows of its own shard (migration 0007), not one row they would queue on."""
    copy = text(
        "INSERT INTO service_requests (customer_id, type, channel, subject, description, priority, status,"
        " created_by_subject, sla_policy_id, first_response_due_at, resolution_due_at, created_at, team_id)"
        " SELECT customer_id, type, channel, subject, description, priority, status, created_by_subject,"
        " sla_policy_id, first_response_due_at, resolution_due_at, created_at, team_id"
        " FROM service_requests WHERE id = :id RETURNING id"
    )
    async with engine.begin() as conn:
        source = {"id": (ids.requests or {})["R4"]}
        twins = [(await conn.execute(copy, source)).scalar_one() for _ in range(2)]
    # Two connections on different shards (backend pid modulo 16).
    held: list[AsyncConnection] = []
    first = await engine.connect()
    held.append(first)
    pid = (await first.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    second = None
    try:
        while second is None:
            candidate = await engine.connect()
            held.append(candidate)
            other = (await candidate.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            if other % 16 != pid % 16:
                second = candidate
        change = text("UPDATE service_requests SET status = 'CANCELLED', cancelled_at = now() WHERE id = :id")
        await first.execute(change, {"id": twins[0]})  # holds its rollup rows until it ends
        await second.execute(text("SET LOCAL lock_timeout = '2s'"))
        await second.execute(change, {"id": twins[1]})  # would time out if it queued behind the first
        await second.commit()
        await first.commit()
    finally:
        for conn in held:
            await conn.close()
    async with engine.connect() as conn:
        resolved = (
            await conn.execute(
                text(
                    "SELECT sum(n) FROM metrics_request_daily"
                    " WHERE dimension = 'status' AND key = 'CANCELLED'"
                    " AND (day, team_key, type) = (SELECT CAST(created_at AT TIME ZONE 'UTC' AS date),"
                    " coalesce(team_id, 0), type FROM service_requests WHERE id = :id)"
                ),
                {"id": twins[0]},
            )
        ).scalar_one()
    assert resolved >= 2  # both changes counted (and more if the data set resolved others of that key)
