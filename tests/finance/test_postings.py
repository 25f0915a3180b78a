"""postAdjustment and applyPayment: limits, outstanding amounts, currencies, approvals consumed once,
and nothing written when a rule is broken."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from tests.finance.support import ADJUSTMENT, PAYMENT, Api, codes, snapshot, top_codes


def _adjust(request: dict[str, Any], invoice: str, amount: str, **extra: Any) -> dict[str, Any]:
    currency = extra.pop("currency", "USD")
    return {
        "serviceRequestId": request["id"],
        "invoiceId": invoice,
        "kind": extra.pop("kind", "CREDIT_MEMO"),
        "amount": {"amount": amount, "currency": currency},
        **extra,
    }


async def _approved(
    api: Api, request: dict[str, Any], amount: str, kind: str = "INVOICE_ADJUSTMENT", who: str = "ana"
) -> tuple[dict[str, Any], str]:
    """An APPROVED approval of `amount` USD on the request (decided by a finance manager)."""
    asked = await api.request_approval(who, request, kind, amount)
    assert asked["userErrors"] == [], asked
    decided = await api.decide("fiona", asked["approval"]["id"])
    assert decided["approval"]["status"] == "APPROVED", decided
    return decided["serviceRequest"], asked["approval"]["id"]


async def test_within_the_own_limit_no_approval_is_needed(api: Api) -> None:
    request = await api.dispute("INV-BIG", "5000.00")
    posted = await api.ok(
        "ana", "postAdjustment", _adjust(request, api.org.invoices["INV-BIG"], "1000.00"), ADJUSTMENT
    )
    assert posted["adjustment"]["approval"] is None
    assert posted["adjustment"]["invoice"]["outstanding"]["amount"] == "19000.00"
    assert posted["adjustment"]["invoice"]["status"] == "PARTIALLY_PAID"
    debit = await api.ok(
        "ana",
        "postAdjustment",
        _adjust(request, api.org.invoices["INV-BIG"], "250.00", kind="DEBIT_MEMO"),
        ADJUSTMENT,
    )
    assert debit["adjustment"]["invoice"]["outstanding"]["amount"] == "19250.00"


async def test_refusals_write_nothing(api: Api, engine: AsyncEngine) -> None:
    request = await api.dispute("INV-BIG", "5000.00")
    inv = api.org.invoices
    before = await snapshot(engine)
    cases: list[tuple[dict[str, Any], str]] = [
        # Above the own limit without an approval.
        (_adjust(request, inv["INV-BIG"], "2000.00"), "APPROVAL_REQUIRED"),
        # Any write-off needs an approval.
        (_adjust(request, inv["INV-BIG"], "100.00", kind="WRITE_OFF"), "APPROVAL_REQUIRED"),
        # More than the invoice still owes.
        (_adjust(request, inv["INV-SMALL"], "900.00"), "AMOUNT_EXCEEDS_OUTSTANDING"),
        (_adjust(request, inv["INV-SMALL"], "800.01", kind="WRITE_OFF"), "AMOUNT_EXCEEDS_OUTSTANDING"),
        # Not the invoice's currency.
        (_adjust(request, inv["INV-BIG"], "100.00", currency="EUR"), "VALIDATION_FAILED"),
        (_adjust(request, inv["INV-EUR"], "100.00"), "VALIDATION_FAILED"),
        # Another customer's invoice.
        (_adjust(request, inv["INV-OTHER"], "100.00"), "VALIDATION_FAILED"),
        (_adjust(request, inv["INV-BIG"], "0.00"), "VALIDATION_FAILED"),
        (_adjust(request, ids.encode("Invoice", 999_999), "100.00"), "NOT_FOUND"),
        (
            _adjust(request, inv["INV-BIG"], "2000.00", approvalId=ids.encode("Approval", 999_999)),
            "NOT_FOUND",
        ),
    ]
    for input, code in cases:
        payload = await api.mutate("ana", "postAdjustment", input, ADJUSTMENT)
        assert codes(payload) == [code], (input, payload)
        assert payload["adjustment"] is None
    # Another agent works on other requests.
    assert codes(
        await api.mutate("cole", "postAdjustment", _adjust(request, inv["INV-BIG"], "10.00"), ADJUSTMENT)
    ) == ["INVALID_TRANSITION"]
    for who in ("audra", "customer:C-100"):
        body = await api.raw(who, "postAdjustment", _adjust(request, inv["INV-BIG"], "10.00"), ADJUSTMENT)
        assert top_codes(body) == ["FORBIDDEN"]
    garbage = await api.raw("ana", "postAdjustment", _adjust(request, "garbage", "10.00"), ADJUSTMENT)
    assert top_codes(garbage) == ["BAD_USER_INPUT"]
    assert await snapshot(engine) == before


async def test_an_approval_covers_only_its_own_request_kind_and_amount(api: Api) -> None:
    inv = api.org.invoices["INV-BIG"]
    request, approval_id = await _approved(api, await api.dispute("INV-BIG", "5000.00"), "5000.00")
    other = await api.dispute("INV-16750", "3000.00")
    # On another request.
    assert codes(
        await api.mutate(
            "ana",
            "postAdjustment",
            _adjust(other, api.org.invoices["INV-16750"], "3000.00", approvalId=approval_id),
            ADJUSTMENT,
        )
    ) == ["APPROVAL_REQUIRED"]
    # Of another kind (a write-off needs a WRITE_OFF approval).
    assert codes(
        await api.mutate(
            "ana",
            "postAdjustment",
            _adjust(request, inv, "3000.00", kind="WRITE_OFF", approvalId=approval_id),
            ADJUSTMENT,
        )
    ) == ["APPROVAL_REQUIRED"]
    # More than it approved.
    assert codes(
        await api.mutate(
            "ana", "postAdjustment", _adjust(request, inv, "5000.01", approvalId=approval_id), ADJUSTMENT
        )
    ) == ["APPROVAL_REQUIRED"]
    first = await api.ok(
        "ana", "postAdjustment", _adjust(request, inv, "3000.00", approvalId=approval_id), ADJUSTMENT
    )
    assert first["adjustment"]["approval"] == {"id": approval_id}
    # 2,000 remain: 2,500 is refused, 2,000 is posted, then nothing remains.
    assert codes(
        await api.mutate(
            "ana", "postAdjustment", _adjust(request, inv, "2500.00", approvalId=approval_id), ADJUSTMENT
        )
    ) == ["APPROVAL_REQUIRED"]
    await api.ok(
        "ana", "postAdjustment", _adjust(request, inv, "2000.00", approvalId=approval_id), ADJUSTMENT
    )
    assert codes(
        await api.mutate(
            "ana", "postAdjustment", _adjust(request, inv, "1500.00", approvalId=approval_id), ADJUSTMENT
        )
    ) == ["APPROVAL_REQUIRED"]
    assert await api.outstanding("INV-BIG") == "15000.00"


async def test_postings_need_an_in_progress_request(api: Api) -> None:
    request = await api.dispute("INV-BIG", "5000.00")
    asked = await api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "5000.00")
    payload = await api.mutate(
        "ana",
        "postAdjustment",
        _adjust(asked["serviceRequest"], api.org.invoices["INV-BIG"], "10.00"),
        ADJUSTMENT,
    )
    assert codes(payload) == ["INVALID_TRANSITION"]


async def test_a_finance_user_may_post_on_any_request(api: Api) -> None:
    request, approval_id = await _approved(api, await api.dispute("INV-BIG", "5000.00"), "5000.00")
    posted = await api.ok(
        "carl",
        "postAdjustment",
        _adjust(request, api.org.invoices["INV-BIG"], "4000.00", approvalId=approval_id),
        ADJUSTMENT,
    )
    assert posted["serviceRequest"]["version"] == request["version"] + 1


# ----------------------------------------------------------------- payments ----


async def _payment_request(api: Api) -> dict[str, Any]:
    return await api.working_request(
        "cole",
        customerId=api.org.customers["C-100"],
        type="PAYMENT_POSTING",
        subject="Payment on the wrong invoice",
        description="See the remittance advice.",
        paymentId=api.org.payments["PAY-18500"],
    )


def _apply(request: dict[str, Any], payment: str, invoice: str | None, **extra: Any) -> dict[str, Any]:
    return {"serviceRequestId": request["id"], "paymentId": payment, "invoiceId": invoice, **extra}


async def test_payment_refusals_write_nothing(api: Api, engine: AsyncEngine) -> None:
    request = await _payment_request(api)
    pay, inv = api.org.payments, api.org.invoices
    before = await snapshot(engine)
    cases: list[tuple[dict[str, Any], str]] = [
        (_apply(request, pay["PAY-18500"], inv["INV-RIGHT"]), "APPROVAL_REQUIRED"),
        (_apply(request, pay["PAY-18500"], inv["INV-SMALL"]), "AMOUNT_EXCEEDS_OUTSTANDING"),
        (_apply(request, pay["PAY-18500"], inv["INV-EUR"]), "VALIDATION_FAILED"),
        (_apply(request, pay["PAY-18500"], inv["INV-OTHER"]), "VALIDATION_FAILED"),
        (_apply(request, pay["PAY-OTHER"], inv["INV-RIGHT"]), "VALIDATION_FAILED"),
        (_apply(request, pay["PAY-18500"], inv["INV-WRONG"]), "VALIDATION_FAILED"),  # already there
        (_apply(request, ids.encode("Payment", 999_999), inv["INV-RIGHT"]), "NOT_FOUND"),
    ]
    for input, code in cases:
        payload = await api.mutate("cole", "applyPayment", input, PAYMENT)
        assert codes(payload) == [code], (input, payload)
    body = await api.raw(
        "audra", "applyPayment", _apply(request, pay["PAY-18500"], inv["INV-RIGHT"]), PAYMENT
    )
    assert top_codes(body) == ["FORBIDDEN"]
    assert await snapshot(engine) == before


async def test_a_payment_can_be_left_unapplied(api: Api, engine: AsyncEngine) -> None:
    request = await _payment_request(api)
    _, approval_id = await _approved(api, request, "18500.00", kind="PAYMENT_REALLOCATION", who="cole")
    payload = await api.ok(
        "cole",
        "applyPayment",
        _apply(request, api.org.payments["PAY-18500"], None, approvalId=approval_id),
        PAYMENT,
    )
    assert payload["payment"]["status"] == "UNAPPLIED"
    assert payload["payment"]["invoice"] is None
    assert await api.outstanding("INV-WRONG") == "30000.00"
    async with engine.connect() as conn:
        consumed = (
            await conn.execute(
                text("SELECT consumed_amount FROM approvals WHERE id = :id"),
                {"id": ids.decode(approval_id)[1]},
            )
        ).scalar_one()
    assert consumed == Decimal("18500.00")
