"""requestApproval and decideApproval: the matrix, segregation of duties, who may decide, and
that a refused mutation writes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from tests.finance.support import APPROVAL, REQUEST, Api, codes, snapshot, top_codes

_DECIDE_CODES = "mutation($i: DecideApprovalInput!) { decideApproval(input: $i) { userErrors { code } } }"


async def _credit_change(api: Api, customer: str, amount: str = "20000.00") -> dict[str, Any]:
    return await api.working_request(
        "cara",
        customerId=api.org.customers[customer],
        type="CREDIT_LIMIT_CHANGE",
        subject="Raise the credit limit",
        description="Seasonal stock build-up.",
        financialImpact={"amount": amount, "currency": "USD"},
    )


async def _pending(api: Api, invoice: str = "INV-BIG", amount: str = "5000.00") -> tuple[dict[str, Any], str]:
    request = await api.dispute(invoice, amount)
    asked = await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", amount)
    assert asked["userErrors"] == []
    return asked["serviceRequest"], asked["approval"]["id"]


async def test_credit_limit_change_escalates_for_risky_customers(api: Api) -> None:
    plain = await api.request_approval(
        "cara", await _credit_change(api, "C-100"), "CREDIT_LIMIT_CHANGE", "20000.00"
    )
    assert (plain["approval"]["requiredLevel"], plain["approval"]["requiredApprovals"]) == (
        "FINANCE_MANAGER",
        1,
    )
    # Imported rating HIGH.
    risky = await api.request_approval(
        "cara", await _credit_change(api, "C-300"), "CREDIT_LIMIT_CHANGE", "20000.00"
    )
    assert (risky["approval"]["requiredLevel"], risky["approval"]["requiredApprovals"]) == ("CONTROLLER", 2)
    # Rated LOW, but the latest statement's DSCR is 1.10.
    thin = await api.request_approval(
        "cara", await _credit_change(api, "C-400"), "CREDIT_LIMIT_CHANGE", "20000.00"
    )
    assert (thin["approval"]["requiredLevel"], thin["approval"]["requiredApprovals"]) == ("CONTROLLER", 2)
    large = await api.request_approval(
        "cara", await _credit_change(api, "C-100"), "CREDIT_LIMIT_CHANGE", "60000.00"
    )
    assert (large["approval"]["requiredLevel"], large["approval"]["requiredApprovals"]) == ("CONTROLLER", 2)


async def test_amounts_are_compared_in_usd(api: Api) -> None:
    request = await api.dispute("INV-BIG", "9500.00")
    # 9,500 EUR = 10,260 USD: above the supervisor's 10,000.
    asked = await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "9500.00", currency="EUR")
    assert asked["userErrors"] == []
    assert asked["approval"]["requiredLevel"] == "FINANCE_MANAGER"
    assert asked["approval"]["amount"] == {"amount": "9500.00", "currency": "EUR"}


async def test_request_approval_rules(api: Api, engine: AsyncEngine) -> None:
    request = await api.dispute("INV-BIG", "5000.00")
    before = await snapshot(engine)
    assert codes(await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", None)) == [
        "VALIDATION_FAILED"
    ]
    assert codes(await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "-5.00")) == [
        "VALIDATION_FAILED"
    ]
    assert codes(await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "5.001")) == [
        "VALIDATION_FAILED"
    ]
    # No exchange rate for JPY.
    assert codes(await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "5000", "JPY")) == [
        "VALIDATION_FAILED"
    ]
    stale = {**request, "version": request["version"] - 1}
    assert codes(await api.request_approval("ana", stale, "INVOICE_ADJUSTMENT", "5000.00")) == [
        "VERSION_CONFLICT"
    ]
    # Another agent is neither the assignee nor a supervisor.
    assert codes(await api.request_approval("cole", request, "INVOICE_ADJUSTMENT", "5000.00")) == [
        "INVALID_TRANSITION"
    ]
    blank = await api.mutate(
        "ana",
        "requestApproval",
        {
            "serviceRequestId": request["id"],
            "expectedVersion": request["version"],
            "kind": "ACCOUNT_CHANGE",
            "justification": "  ",
        },
        APPROVAL,
    )
    assert codes(blank) == ["VALIDATION_FAILED"]
    assert await snapshot(engine) == before

    asked = await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "5000.00")
    assert asked["userErrors"] == []
    # Only from IN_PROGRESS: a second request while one is pending is an invalid transition.
    again = await api.request_approval("ana", asked["serviceRequest"], "INVOICE_ADJUSTMENT", "5000.00")
    assert codes(again) == ["INVALID_TRANSITION"]


async def test_requester_cannot_approve_their_own_approval(api: Api, engine: AsyncEngine) -> None:
    request = await api.dispute("INV-BIG", "5000.00")
    # A supervisor may ask for an approval on a request they do not work on...
    asked = await api.request_approval("sue", request, "INVOICE_ADJUSTMENT", "5000.00")
    assert asked["userErrors"] == []
    before = await snapshot(engine)
    # ...but never decide it.
    refused = await api.decide("sue", asked["approval"]["id"])
    assert codes(refused) == ["SEGREGATION_OF_DUTIES"]
    assert await snapshot(engine) == before
    assert (await api.decide("admin", asked["approval"]["id"]))["approval"]["status"] == "APPROVED"


async def test_assignee_cannot_approve(api: Api, engine: AsyncEngine) -> None:
    request = await api.dispute("INV-BIG", "5000.00")
    sue = api.org.staff["sue"]
    assigned = (
        await api.ok(
            "sue",
            "assignServiceRequest",
            {
                "id": request["id"],
                "expectedVersion": request["version"],
                "assigneeId": ids.encode("Agent", sue),
            },
            REQUEST,
        )
    )["serviceRequest"]
    assert assigned["assignee"] == {"email": "sue@example.com"}
    asked = await api.request_approval("admin", assigned, "INVOICE_ADJUSTMENT", "5000.00")
    assert asked["userErrors"] == []
    before = await snapshot(engine)
    assert codes(await api.decide("sue", asked["approval"]["id"])) == ["SEGREGATION_OF_DUTIES"]
    assert await snapshot(engine) == before


async def test_auditors_customers_and_scopeless_tokens_never_decide(api: Api, engine: AsyncEngine) -> None:
    _, approval_id = await _pending(api)
    before = await snapshot(engine)
    for who in ("audra", "customer:C-100", "partner:erp-connector"):
        body = await api.raw(
            who, "decideApproval", {"approvalId": approval_id, "decision": "APPROVE"}, APPROVAL
        )
        assert top_codes(body) == ["FORBIDDEN"], body
        assert body["data"] is None
    # A supervisor whose token lacks approvals:decide.
    token = api.tokens.staff("sue@example.com", "SUPERVISOR", scopes=["requests:read", "requests:write"])
    response = await api.client.post(
        "/graphql",
        json={
            "query": _DECIDE_CODES,
            "variables": {"i": {"approvalId": approval_id, "decision": "APPROVE"}},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert top_codes(response.json()) == ["FORBIDDEN"]
    assert await snapshot(engine) == before


async def test_agents_may_not_decide_above_their_level_and_one_reject_rejects(api: Api) -> None:
    request, approval_id = await _pending(api)
    assert codes(await api.decide("cole", approval_id)) == ["APPROVAL_LIMIT_EXCEEDED"]
    rejected = await api.decide("fiona", approval_id, "REJECT")
    assert rejected["userErrors"] == []
    assert rejected["approval"]["status"] == "REJECTED"
    assert rejected["serviceRequest"]["status"] == "IN_PROGRESS"
    assert rejected["serviceRequest"]["version"] == request["version"] + 1
    # A decided approval takes no more decisions.
    assert codes(await api.decide("carl", approval_id)) == ["INVALID_TRANSITION"]


async def test_ids_garbage_foreign_and_unknown(api: Api) -> None:
    garbage = await api.raw(
        "fiona", "decideApproval", {"approvalId": "not-an-id", "decision": "APPROVE"}, APPROVAL
    )
    assert top_codes(garbage) == ["BAD_USER_INPUT"]
    unknown = await api.decide("fiona", ids.encode("Approval", 999_999))
    assert codes(unknown) == ["NOT_FOUND"]
    wrong_type = await api.decide("fiona", api.org.invoices["INV-BIG"])
    assert codes(wrong_type) == ["NOT_FOUND"]


async def test_a_customer_may_not_request_approvals(api: Api, engine: AsyncEngine) -> None:
    request = await api.dispute("INV-BIG", "5000.00")
    body = await api.raw(
        "customer:C-100",
        "requestApproval",
        {
            "serviceRequestId": request["id"],
            "expectedVersion": request["version"],
            "kind": "INVOICE_ADJUSTMENT",
            "amount": {"amount": "5000.00", "currency": "USD"},
            "justification": "please",
        },
        APPROVAL,
    )
    assert top_codes(body) == ["FORBIDDEN"]


async def test_a_cancelled_request_has_no_pending_approval_left_to_decide(
    api: Api, engine: AsyncEngine
) -> None:
    _, approval_id = await _pending(api)
    async with engine.begin() as conn:
        # What CANCEL does to the approval, without going through the other side's mutation.
        await conn.execute(
            text("UPDATE approvals SET status = 'CANCELLED' WHERE id = :id"),
            {"id": ids.decode(approval_id)[1]},
        )
    assert codes(await api.decide("fiona", approval_id)) == ["INVALID_TRANSITION"]
