"""Admission without waiting: a known document paid from the points this process holds."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from auth.principal import Principal
from db.engine import make_sessionmaker
from db.repositories.limits import register_documents
from server.limits import Admission, Limits, OperationRequest, Refusal
from tests.limits.conftest import VIEWER, AppFactory, People, cost_of, page_costing, post

pytestmark = pytest.mark.clock  # reads the real clock (budget windows)


def _limits(app: Starlette) -> Limits:
    limits: Limits = app.state.graphql.app.limits
    return limits


def _principal(limits: Limits) -> Principal:
    """The principal object the server authenticated (one per token for a while)."""
    known = list(limits.budgets._known.values())
    assert len(known) == 1
    return known[0][0]


async def _admitted(result: Any) -> Admission:
    return result if isinstance(result, Admission) else await result


async def test_a_known_document_is_admitted_and_charged_without_waiting(
    app_with: AppFactory, people: People
) -> None:
    async with app_with(RATE_LIMIT_POINTS=100_000) as (app, client):
        first = await post(client, people.admin, {"query": VIEWER})  # takes points ahead
        assert cost_of(first)["remaining"] == 100_000 - 1
        limits = _limits(app)
        principal = _principal(limits)

        admission = limits.admit_now(OperationRequest(VIEWER), principal)
        assert isinstance(admission, Admission)  # no coroutine: nothing was waited for
        assert admission.charged and admission.operation is not None
        assert admission.cost is not None and admission.cost.as_dict()["remaining"] == 100_000 - 2
        again = limits.admit_now(OperationRequest(page_costing(11)), principal)
        assert isinstance(again, Admission)
        assert again.cost is not None and (again.cost.requested, again.cost.remaining) == (11, 100_000 - 13)

        # What was paid without waiting is counted like the rest: the next response reports it.
        assert cost_of(await post(client, people.admin, {"query": VIEWER}))["remaining"] == 100_000 - 14

        # More than this process holds (1,000 points ahead): the shared store is asked.
        large = limits.admit_now(OperationRequest(page_costing(5_000)), principal)
        assert not isinstance(large, Admission)
        charged = await large
        assert charged.cost is not None and charged.cost.remaining == 100_000 - 14 - 5_000

        # Refused before any points are looked at, as before.
        with pytest.raises(Refusal) as refused:
            limits.admit_now(OperationRequest(page_costing(30_000)), principal)
        assert refused.value.code == "QUERY_TOO_COMPLEX"


async def test_an_operation_selected_by_name_is_costed_per_name(app_with: AppFactory, people: People) -> None:
    document = "query A { viewer { subject } } query B { customers(first: 9) { nodes { id } } }"
    async with app_with() as (app, client):
        await post(client, people.admin, {"query": VIEWER})
        limits = _limits(app)
        principal = _principal(limits)
        costs = {}
        for name in ("A", "B", "A"):
            admission = await _admitted(limits.admit_now(OperationRequest(document, None, name), principal))
            assert admission.cost is not None and admission.charged
            costs[name] = admission.cost.requested
        assert costs == {"A": 1, "B": 10}
        unnamed = await _admitted(limits.admit_now(OperationRequest(document), principal))
        assert unnamed.cost is not None and not unnamed.charged and unnamed.cost.requested == 0


async def test_a_hash_the_registry_must_be_asked_about_waits_for_it(
    app_with: AppFactory, people: People, engine: AsyncEngine
) -> None:
    page = "query Page { customers(first: 2) { nodes { id name } } }"
    sha = hashlib.sha256(page.encode()).hexdigest()
    async with make_sessionmaker(engine)() as session, session.begin():
        await register_documents(session, documents={sha: page})
    by_hash = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    async with app_with(TRUSTED_DOCUMENTS="public") as (app, client):
        await post(client, people.admin, {"query": VIEWER})
        limits = _limits(app)
        principal = _principal(limits)
        first = limits.admit_now(OperationRequest(None, extensions=by_hash), principal)
        assert not isinstance(first, Admission)  # the registry is read
        assert (await first).query == page
        second = limits.admit_now(OperationRequest(None, extensions=by_hash), principal)
        assert isinstance(second, Admission) and second.query == page  # known now
