"""Concurrent postings and decisions through a real uvicorn server over TCP."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from tests.conftest import Tokens
from tests.finance.support import ADJUSTMENT, Api, Org, codes


@pytest.fixture
async def wire(live_server: str, tokens: Tokens, org: Org) -> AsyncIterator[Api]:
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=live_server, timeout=60, limits=limits) as client:
        yield Api(client, tokens, org)


async def _scalar(engine: AsyncEngine, sql: str, **params: object) -> object:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def test_an_approval_is_consumed_at_most_once_in_total(wire: Api, engine: AsyncEngine) -> None:
    request = await wire.dispute("INV-BIG", "5000.00")
    asked = await wire.request_approval("ana", request, "INVOICE_ADJUSTMENT", "5000.00")
    approval_id = asked["approval"]["id"]
    assert (await wire.decide("sue", approval_id))["approval"]["status"] == "APPROVED"
    version = int(await _scalar(engine, "SELECT version FROM service_requests"))  # type: ignore[call-overload]

    async def post() -> dict[str, object]:
        return await wire.mutate(
            "ana",
            "postAdjustment",
            {
                "serviceRequestId": request["id"],
                "invoiceId": wire.org.invoices["INV-BIG"],
                "kind": "CREDIT_MEMO",
                "amount": {"amount": "1500.00", "currency": "USD"},
                "approvalId": approval_id,
            },
            ADJUSTMENT,
        )

    payloads = await asyncio.gather(*(post() for _ in range(10)))
    outcomes = Counter("ok" if not p["userErrors"] else codes(p)[0] for p in payloads)  # type: ignore[arg-type]
    # 3 x 1,500 fit in 5,000; the fourth would not.
    assert outcomes == {"ok": 3, "APPROVAL_REQUIRED": 7}
    pk = ids.decode(approval_id)[1]
    posted = await _scalar(engine, "SELECT sum(amount) FROM adjustments WHERE approval_id = :id", id=pk)
    consumed = await _scalar(engine, "SELECT consumed_amount FROM approvals WHERE id = :id", id=pk)
    assert posted == consumed == Decimal("4500.00")
    assert await wire.outstanding("INV-BIG") == "15500.00"
    assert await _scalar(engine, "SELECT version FROM service_requests") == version + 3
    assert await _scalar(engine, "SELECT count(*) FROM request_events WHERE kind = 'ADJUSTMENT_POSTED'") == 3


async def test_concurrent_decisions_complete_an_approval_once(wire: Api, engine: AsyncEngine) -> None:
    request = await wire.dispute("INV-75000", "60000.00")
    asked = await wire.request_approval("ana", request, "INVOICE_ADJUSTMENT", "60000.00")
    approval_id = asked["approval"]["id"]
    # The same controller twice at once, and a second controller: two distinct APPROVEs complete it.
    payloads = await asyncio.gather(
        wire.decide("carl", approval_id), wire.decide("carl", approval_id), wire.decide("cleo", approval_id)
    )
    refusals = [code for p in payloads for code in codes(p)]
    # Carl's second decision is refused either way: as his second vote while the approval is still
    # PENDING, or, when Carl and Cleo completed it first, because it is already decided (that check
    # precedes SoD in the contract's order).
    assert len(refusals) == 1
    assert refusals[0] in ("SEGREGATION_OF_DUTIES", "INVALID_TRANSITION")
    pk = ids.decode(approval_id)[1]
    assert await _scalar(engine, "SELECT status FROM approvals WHERE id = :id", id=pk) == "APPROVED"
    assert (
        await _scalar(engine, "SELECT count(*) FROM approval_decisions WHERE approval_id = :id", id=pk) == 2
    )
    assert await _scalar(engine, "SELECT status FROM service_requests") == "IN_PROGRESS"
    back = "SELECT count(*) FROM request_events WHERE kind = 'STATUS_CHANGED' AND to_status = 'IN_PROGRESS'"
    # Once by startWork, once when the approval completed.
    assert await _scalar(engine, back) == 2
