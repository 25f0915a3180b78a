"""The seed scenarios end to end: GraphQL over HTTP with real tokens of each role."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.finance.support import ADJUSTMENT, PAYMENT, Api, codes, snapshot


async def _events(api: Api, request_id: str) -> list[tuple[str, str | None, str | None]]:
    body = await api.query(
        "admin",
        "query($id: ID!) { node(id: $id) { ... on ServiceRequest { events(first: 100) { nodes {"
        " kind fromStatus toStatus } } } } }",
        {"id": request_id},
    )
    return [(e["kind"], e["fromStatus"], e["toStatus"]) for e in body["data"]["node"]["events"]["nodes"]]


async def test_billing_dispute_of_9850_needs_a_supervisor_then_credits_exactly(api: Api) -> None:
    request = await api.dispute("INV-DISPUTE", "9850.00")
    before = Decimal(await api.outstanding("INV-DISPUTE"))

    asked = await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "9850.00")
    assert asked["userErrors"] == []
    approval = asked["approval"]
    assert (approval["status"], approval["requiredLevel"], approval["requiredApprovals"]) == (
        "PENDING",
        "SUPERVISOR",
        1,
    )
    assert asked["serviceRequest"]["status"] == "PENDING_APPROVAL"
    assert asked["serviceRequest"]["version"] == request["version"] + 1

    decided = await api.decide("sue", approval["id"])
    assert decided["userErrors"] == []
    assert decided["approval"]["status"] == "APPROVED"
    assert decided["approval"]["decisions"] == [
        {"decision": "APPROVE", "approver": {"email": "sue@example.com"}}
    ]
    assert decided["serviceRequest"]["status"] == "IN_PROGRESS"

    posted = await api.ok(
        "ana",
        "postAdjustment",
        {
            "serviceRequestId": request["id"],
            "invoiceId": api.org.invoices["INV-DISPUTE"],
            "kind": "CREDIT_MEMO",
            "amount": {"amount": "9850.00", "currency": "USD"},
            "approvalId": approval["id"],
        },
        ADJUSTMENT,
    )
    adjustment = posted["adjustment"]
    assert adjustment["kind"] == "CREDIT_MEMO"
    assert adjustment["approval"] == {"id": approval["id"]}
    assert Decimal(adjustment["invoice"]["outstanding"]["amount"]) == before - Decimal("9850.00")
    assert adjustment["invoice"]["status"] == "PAID"
    assert posted["serviceRequest"]["version"] == decided["serviceRequest"]["version"] + 1

    kinds = await _events(api, request["id"])
    assert kinds[-5:] == [
        ("APPROVAL_REQUESTED", None, None),
        ("STATUS_CHANGED", "IN_PROGRESS", "PENDING_APPROVAL"),
        ("APPROVAL_DECIDED", None, None),
        ("STATUS_CHANGED", "PENDING_APPROVAL", "IN_PROGRESS"),
        ("ADJUSTMENT_POSTED", None, None),
    ]
    chain = await api.query("audra", "{ verifyAuditChain { valid checkedEntries firstInvalidSequence } }")
    assert chain["data"]["verifyAuditChain"]["valid"] is True


async def test_16750_needs_a_finance_manager(api: Api) -> None:
    request = await api.dispute("INV-16750", "16750.00")
    asked = await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "16750.00")
    approval = asked["approval"]
    assert (approval["requiredLevel"], approval["requiredApprovals"]) == ("FINANCE_MANAGER", 1)

    refused = await api.decide("sue", approval["id"])
    assert codes(refused) == ["APPROVAL_LIMIT_EXCEEDED"]
    assert refused["approval"] is None

    accepted = await api.decide("fiona", approval["id"])
    assert accepted["userErrors"] == []
    assert accepted["approval"]["status"] == "APPROVED"
    assert accepted["approval"]["decisions"] == [
        {"decision": "APPROVE", "approver": {"email": "fiona@example.com"}}
    ]
    assert accepted["serviceRequest"]["status"] == "IN_PROGRESS"


async def test_60000_needs_two_distinct_controllers(api: Api) -> None:
    request = await api.dispute("INV-75000", "60000.00")
    asked = await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "60000.00")
    approval = asked["approval"]
    assert (approval["requiredLevel"], approval["requiredApprovals"]) == ("CONTROLLER", 2)

    assert codes(await api.decide("fiona", approval["id"])) == ["APPROVAL_LIMIT_EXCEEDED"]
    first = await api.decide("carl", approval["id"])
    assert first["userErrors"] == []
    assert first["approval"]["status"] == "PENDING"
    assert first["serviceRequest"]["status"] == "PENDING_APPROVAL"
    assert first["serviceRequest"]["version"] == asked["serviceRequest"]["version"] + 1

    again = await api.decide("carl", approval["id"])
    assert codes(again) == ["SEGREGATION_OF_DUTIES"]

    second = await api.decide("cleo", approval["id"])
    assert second["userErrors"] == []
    assert second["approval"]["status"] == "APPROVED"
    assert {d["approver"]["email"] for d in second["approval"]["decisions"]} == {
        "carl@example.com",
        "cleo@example.com",
    }
    assert second["serviceRequest"]["status"] == "IN_PROGRESS"


async def test_payment_posted_to_the_wrong_invoice_is_moved_with_a_finance_manager_approval(api: Api) -> None:
    right, wrong = Decimal(await api.outstanding("INV-RIGHT")), Decimal(await api.outstanding("INV-WRONG"))
    assert (right, wrong) == (Decimal("20000.00"), Decimal("11500.00"))
    request = await api.working_request(
        "cole",
        customerId=api.org.customers["C-100"],
        type="PAYMENT_POSTING",
        subject="Payment PAY-18500 posted to the wrong invoice",
        description="The remittance advice names INV-RIGHT.",
        paymentId=api.org.payments["PAY-18500"],
    )
    routed = await api.query(
        "admin",
        "query($id: ID!) { node(id: $id) { ... on ServiceRequest { team { name } assignee { email } } } }",
        {"id": request["id"]},
    )
    assert routed["data"]["node"] == {
        "team": {"name": "Cash Application"},
        "assignee": {"email": "cole@example.com"},
    }

    asked = await api.request_approval("cole", request, "PAYMENT_REALLOCATION", "18500.00")
    approval = asked["approval"]
    assert (approval["requiredLevel"], approval["requiredApprovals"]) == ("FINANCE_MANAGER", 1)
    assert (await api.decide("fiona", approval["id"]))["approval"]["status"] == "APPROVED"

    applied = await api.ok(
        "cole",
        "applyPayment",
        {
            "serviceRequestId": request["id"],
            "paymentId": api.org.payments["PAY-18500"],
            "invoiceId": api.org.invoices["INV-RIGHT"],
            "approvalId": approval["id"],
        },
        PAYMENT,
    )
    payment = applied["payment"]
    assert payment["status"] == "POSTED"
    assert payment["invoice"]["id"] == api.org.invoices["INV-RIGHT"]
    assert Decimal(await api.outstanding("INV-RIGHT")) == right - Decimal("18500.00")
    assert Decimal(await api.outstanding("INV-WRONG")) == wrong + Decimal("18500.00")
    assert (await _events(api, request["id"]))[-1][0] == "PAYMENT_APPLIED"


async def test_kyc_not_verified_refuses_money_approvals(api: Api, engine: AsyncEngine) -> None:
    request = await api.working_request(
        "cara",
        customerId=api.org.customers["C-100"],
        type="CREDIT_LIMIT_CHANGE",
        subject="Raise the credit limit",
        description="Seasonal stock build-up.",
        financialImpact={"amount": "20000.00", "currency": "USD"},
    )
    # The customer's KYC review lapses while the request is being worked on.
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE customers SET kyc_status = 'PENDING' WHERE external_ref = 'C-100'"))
    before = await snapshot(engine)
    refused = await api.request_approval("cara", request, "CREDIT_LIMIT_CHANGE", "20000.00")
    assert codes(refused) == ["KYC_NOT_VERIFIED"]
    assert refused["approval"] is None
    assert await snapshot(engine) == before


async def test_kyc_pending_customer_may_still_ask_for_an_account_change(api: Api) -> None:
    request = await api.working_request(
        "ana",
        customerId=api.org.customers["C-200"],
        type="BILLING_DISPUTE",
        subject="Wrong address on the invoice",
        description="The invoice carries the old address.",
        invoiceId=api.org.invoices["INV-PENDING"],
        financialImpact={"amount": "2000.00", "currency": "USD"},
    )
    assert codes(await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "2000.00")) == [
        "KYC_NOT_VERIFIED"
    ]
    asked = await api.request_approval("ana", request, "ACCOUNT_CHANGE", None)
    assert asked["userErrors"] == []
    assert (asked["approval"]["requiredLevel"], asked["approval"]["requiredApprovals"]) == ("SUPERVISOR", 1)
