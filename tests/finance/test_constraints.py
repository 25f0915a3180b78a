"""The database constraints behind the locked checks, and what a violation is reported as."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.constraints import constraint_error
from db.engine import make_sessionmaker
from db.repositories.approvals import consume_approval
from db.repositories.ledger import set_invoice_outstanding
from domain.errors import UserErrorCode
from tests.support.builders import Builder


async def test_consuming_beyond_the_approval_is_refused_by_the_database(engine: AsyncEngine) -> None:
    b = Builder(engine)
    customer = await b.customer()
    agent = await b.staff()
    request = await b.request(customer=customer, status="IN_PROGRESS", assignee=agent)
    approval = await b.approval(request=request, requested_by=agent, amount="5000.00", status="APPROVED")
    async with make_sessionmaker(engine)() as session, session.begin():
        row = await consume_approval(session, approval_id=approval.id, amount=Decimal("5000.00"))
        assert row.consumed_amount == Decimal("5000.00")
        with pytest.raises(IntegrityError) as caught:
            await consume_approval(session, approval_id=approval.id, amount=Decimal("0.01"))
    error = constraint_error(caught.value)
    assert error is not None and error.code is UserErrorCode.APPROVAL_REQUIRED


async def test_a_negative_outstanding_is_refused_by_the_database(engine: AsyncEngine) -> None:
    b = Builder(engine)
    invoice = await b.invoice(customer=await b.customer(), amount="100.00")
    async with make_sessionmaker(engine)() as session, session.begin():
        with pytest.raises(IntegrityError) as caught:
            await set_invoice_outstanding(session, invoice_id=invoice.id, outstanding=Decimal("-0.01"))
    error = constraint_error(caught.value)
    assert error is not None and error.code is UserErrorCode.AMOUNT_EXCEEDS_OUTSTANDING
