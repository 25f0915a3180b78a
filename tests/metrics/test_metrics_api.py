"""The `metrics` query through the real schema: access, filter parsing, defaults, serialization."""

from __future__ import annotations

import pytest
import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.principal import Principal
from domain.enums import Role
from schema.ids import encode
from server.schema import build_schema
from tests.metrics.data import NOW, Ids, insert_data_set
from tests.support.graphql import (
    GraphQLResult,
    customer_principal,
    execute,
    partner_principal,
    staff_principal,
)

QUERY = """
query Metrics($filter: MetricsFilter) {
  metrics(filter: $filter) {
    from to createdCount resolvedCount openCount
    byStatus { key count } byType { key count } byChannel { key count } byPriority { key count }
    firstResponseTime { count averageSeconds p50Seconds p90Seconds }
    resolutionTime { count averageSeconds p50Seconds p90Seconds }
    slaCompliance breachedCount atRiskCount
    backlogAging { label count }
    disputedAmountOpen { amount currency }
    adjustmentsPosted { amount currency }
    approvalTurnaround { count averageSeconds p50Seconds p90Seconds }
    reopenRate
  }
}
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture
async def ids(engine: AsyncEngine) -> Ids:
    async with engine.begin() as conn:
        return await insert_data_set(conn)


async def _run(
    schema: strawberry.Schema,
    engine: AsyncEngine,
    principal: Principal,
    filter: dict[str, object] | None = None,
) -> GraphQLResult:
    return await execute(schema, engine, QUERY, principal, {"filter": filter}, clock=lambda: NOW)


def _agent(role: Role = Role.AGENT, scopes: frozenset[str] | None = None) -> Principal:
    if scopes is None:
        return staff_principal(1, "agent@example.com", role)
    return staff_principal(1, "agent@example.com", role, scopes=scopes)


async def test_staff_read_the_window_with_every_field(
    schema: strawberry.Schema, engine: AsyncEngine, ids: Ids
) -> None:
    result = await _run(
        schema, engine, _agent(), {"from": "2026-11-01T00:00:00Z", "to": "2026-11-21T00:00:00Z"}
    )
    assert result.errors == []
    assert result.data is not None
    m = result.data["metrics"]
    # The same figures as tests/metrics/test_service_metrics.py::test_all_requests_of_the_window.
    assert (m["from"], m["to"]) == ("2026-11-01T00:00:00Z", "2026-11-21T00:00:00Z")
    assert (m["createdCount"], m["resolvedCount"], m["openCount"]) == (9, 3, 5)
    assert m["byChannel"] == [
        {"key": "CRM", "count": 1},
        {"key": "EMAIL", "count": 2},
        {"key": "PHONE", "count": 2},
        {"key": "PORTAL", "count": 4},
    ]
    assert m["byPriority"] == [
        {"key": "HIGH", "count": 3},
        {"key": "LOW", "count": 2},
        {"key": "MEDIUM", "count": 3},
        {"key": "URGENT", "count": 1},
    ]
    assert [c["key"] for c in m["byStatus"]] == sorted(c["key"] for c in m["byStatus"])
    assert sum(c["count"] for c in m["byType"]) == 9
    assert m["firstResponseTime"] == {
        "count": 7,
        "averageSeconds": pytest.approx(15000 / 7),
        "p50Seconds": pytest.approx(1200),
        "p90Seconds": pytest.approx(4680),
    }
    assert m["resolutionTime"]["count"] == 3
    assert (m["slaCompliance"], m["breachedCount"], m["atRiskCount"]) == (pytest.approx(0.4), 3, 1)
    assert m["backlogAging"] == [
        {"label": "0-1d", "count": 2},
        {"label": "1-3d", "count": 0},
        {"label": "3-7d", "count": 1},
        {"label": "7d+", "count": 2},
    ]
    # Decimals travel as strings with two decimals.
    assert m["disputedAmountOpen"] == [
        {"amount": "1000.00", "currency": "EUR"},
        {"amount": "325.75", "currency": "USD"},
    ]
    assert m["adjustmentsPosted"] == [
        {"amount": "200.00", "currency": "EUR"},
        {"amount": "85.45", "currency": "USD"},
    ]
    assert m["approvalTurnaround"]["count"] == 3
    assert m["reopenRate"] == pytest.approx(0.5)


async def test_defaults_to_the_30_days_before_now(
    schema: strawberry.Schema, engine: AsyncEngine, ids: Ids
) -> None:
    result = await _run(schema, engine, _agent(Role.AUDITOR))
    assert result.errors == []
    assert result.data is not None
    m = result.data["metrics"]
    # [Oct 21 12:00, Nov 20 12:00): R1..R10 (R10 was created Oct 30).
    assert (m["from"], m["to"]) == ("2026-10-21T12:00:00Z", "2026-11-20T12:00:00Z")
    assert m["createdCount"] == 10


async def test_filters_by_global_ids_and_types(
    schema: strawberry.Schema, engine: AsyncEngine, ids: Ids
) -> None:
    window = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-21T00:00:00Z"}
    by_team = await _run(schema, engine, _agent(), {**window, "teamId": encode("Team", ids.t1)})
    by_customer = await _run(schema, engine, _agent(), {**window, "customerId": encode("Customer", ids.c2)})
    by_type = await _run(
        schema, engine, _agent(), {**window, "type": ["PAYMENT_INQUIRY", "CREDIT_LIMIT_CHANGE"]}
    )
    assert by_team.data and by_team.data["metrics"]["createdCount"] == 6
    assert by_customer.data and by_customer.data["metrics"]["createdCount"] == 4
    assert by_customer.data["metrics"]["disputedAmountOpen"] == [{"amount": "1000.00", "currency": "EUR"}]
    assert by_type.data and by_type.data["metrics"]["createdCount"] == 2
    assert by_type.data["metrics"]["resolutionTime"] == {
        "count": 0,
        "averageSeconds": None,
        "p50Seconds": None,
        "p90Seconds": None,
    }
    assert by_type.data["metrics"]["reopenRate"] is None
    # A well-formed ID of another type matches nothing (it names no team).
    other = await _run(schema, engine, _agent(), {**window, "teamId": encode("Customer", ids.c1)})
    assert other.data and other.data["metrics"]["createdCount"] == 0
    assert other.data["metrics"]["adjustmentsPosted"] == []


async def test_an_empty_window_has_zeros_and_nulls(
    schema: strawberry.Schema, engine: AsyncEngine, ids: Ids
) -> None:
    result = await _run(
        schema, engine, _agent(), {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    )
    assert result.data is not None
    m = result.data["metrics"]
    assert (m["createdCount"], m["slaCompliance"], m["reopenRate"], m["byStatus"]) == (0, None, None, [])
    assert [b["count"] for b in m["backlogAging"]] == [0, 0, 0, 0]
    assert m["approvalTurnaround"] == {
        "count": 0,
        "averageSeconds": None,
        "p50Seconds": None,
        "p90Seconds": None,
    }


@pytest.mark.parametrize(
    "filter",
    [
        {"teamId": "not-an-id"},
        {"customerId": "VGVhbTp4"},  # base64 of "Team:x"
        {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
        {"from": "2026-11-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
    ],
)
async def test_malformed_filters_are_bad_user_input(
    schema: strawberry.Schema, engine: AsyncEngine, filter: dict[str, object]
) -> None:
    result = await _run(schema, engine, _agent(), filter)
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.data is None


@pytest.mark.parametrize(
    "principal",
    [
        customer_principal(1),
        partner_principal(1, frozenset({1})),
        staff_principal(1, "agent@example.com", Role.AGENT, scopes=frozenset({"requests:read"})),
        staff_principal(1, "auditor@example.com", Role.AUDITOR, scopes=frozenset({"audit:read"})),
    ],
    ids=["customer", "partner", "agent-without-metrics-scope", "auditor-without-metrics-scope"],
)
async def test_only_staff_and_auditors_with_the_scope(
    schema: strawberry.Schema, engine: AsyncEngine, principal: Principal
) -> None:
    result = await _run(schema, engine, principal)
    assert result.codes == ["FORBIDDEN"]
    assert result.data is None


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.FINANCE, Role.ADMIN, Role.AUDITOR])
async def test_every_staff_role_may_read(schema: strawberry.Schema, engine: AsyncEngine, role: Role) -> None:
    result = await _run(schema, engine, _agent(role))
    assert result.errors == []
    assert result.data is not None and result.data["metrics"]["createdCount"] == 0


def test_partial_index_predicates_are_the_metrics_conditions() -> None:
    """The planner uses a partial index only when its predicate is the query's condition, verbatim."""
    from db.models import Base
    from reporting import metrics_sql

    def predicate(name: str) -> str:
        index = next(i for i in Base.metadata.tables["service_requests"].indexes if i.name == name)
        return f"({index.dialect_options['postgresql']['where']})".replace("status", "r.status")

    assert predicate("ix_service_requests_metrics_open") == metrics_sql.IS_OPEN
    assert predicate("ix_service_requests_metrics_open_due") == metrics_sql.IS_OPEN
    assert predicate("ix_service_requests_metrics_res_bucket") == metrics_sql.RESOLVED
