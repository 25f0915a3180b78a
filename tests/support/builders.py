"""Typed test-data builders with sensible defaults (SQLAlchemy Core inserts, no ORM).

    b = Builder(engine)                      # or an AsyncConnection / AsyncSession
    c = await b.customer(name="Acme")
    inv = await b.invoice(customer=c, amount="9850.00")
    agent = await b.staff(role="AGENT", teams=[await b.team(name="Billing")])
    sr = await b.request(customer=c, invoice=inv, assignee=agent, status="IN_PROGRESS")
    await b.comment(request=sr, visibility="INTERNAL")

With an engine every call commits on its own (what in-process GraphQL
execution needs: it reads on pooled connections of its own). With a
connection or session the caller owns the transaction. Every builder returns
the inserted row as a plain record (records.rows), so `row.id` is at hand;
`gid(row)` gives its global ID.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from db.tables import ADJUSTMENTS, APPROVALS, AUDIT, COMMENTS, DECISIONS, EVENTS, REQUESTS
from records.events import EventRow
from records.rows import (
    AdjustmentRow,
    ApprovalRow,
    AuditRow,
    CommentRow,
    CustomerRow,
    DecisionRow,
    InvoiceRow,
    PaymentRow,
    PolicyRow,
    RequestRow,
    StaffRow,
    TeamRow,
)
from tests.support.builders_core import Amount, BuilderCore, dec, gid, next_n

__all__ = ["Builder", "gid"]

_DONE = ("RESOLVED", "CLOSED")


class Builder(BuilderCore):
    """Every builder: BuilderCore's master data plus requests, timelines, approvals and audit."""

    # ------------------------------------------------------------- requests --

    async def request(
        self,
        *,
        customer: CustomerRow,
        type: str = "BILLING_DISPUTE",
        channel: str = "PORTAL",
        subject: str | None = None,
        description: str = "Please check the amount invoiced.",
        priority: str = "MEDIUM",
        status: str = "NEW",
        invoice: InvoiceRow | None = None,
        payment: PaymentRow | None = None,
        team: TeamRow | None = None,
        assignee: StaffRow | None = None,
        financial_impact: Amount | None = None,
        currency: str = "USD",
        escalated: bool = False,
        policy: PolicyRow | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        first_response_due_at: datetime | None = None,
        resolution_due_at: datetime | None = None,
        first_responded_at: datetime | None = None,
        paused_at: datetime | None = None,
        paused_seconds: int = 0,
        first_response_breached_at: datetime | None = None,
        resolution_breached_at: datetime | None = None,
        resolved_at: datetime | None = None,
        resolution_code: str | None = None,
        resolution_summary: str | None = None,
        resolved_by: StaffRow | None = None,
        version: int = 1,
        created_by_subject: str = "builder@example.com",
        **columns_: Any,
    ) -> RequestRow:
        """A request; due times default to createdAt + the policy's targets in wall-clock time."""
        policy = policy or await self.policy(priority=priority)
        created = created_at or self.now
        if status == "WAITING_ON_CUSTOMER" and paused_at is None:
            paused_at = created
        if status in _DONE:
            resolved_at = resolved_at or created + timedelta(hours=1)
            resolution_code = resolution_code or "NO_ADJUSTMENT_NEEDED"
            resolution_summary = resolution_summary or "Checked and explained."
            resolved_by = resolved_by or assignee or await self.staff()
        values: dict[str, Any] = {
            "customer_id": customer.id,
            "type": type,
            "channel": channel,
            "subject": subject or f"Request {next_n()}",
            "description": description,
            "priority": priority,
            "status": status,
            "invoice_id": invoice.id if invoice else None,
            "payment_id": payment.id if payment else None,
            "team_id": team.id if team else None,
            "assignee_id": assignee.id if assignee else None,
            "financial_impact_amount": dec(financial_impact),
            "financial_impact_currency": currency if financial_impact is not None else None,
            "escalated": escalated,
            "created_by_subject": created_by_subject,
            "sla_policy_id": policy.id,
            "first_response_due_at": first_response_due_at
            or created + timedelta(seconds=policy.first_response_seconds),
            "resolution_due_at": resolution_due_at or created + timedelta(seconds=policy.resolution_seconds),
            "first_responded_at": first_responded_at,
            "paused_at": paused_at,
            "paused_seconds": paused_seconds,
            "first_response_breached_at": first_response_breached_at,
            "resolution_breached_at": resolution_breached_at,
            "resolved_at": resolved_at,
            "resolution_code": resolution_code,
            "resolution_summary": resolution_summary,
            "resolved_by_id": resolved_by.id if resolved_by else None,
            "closed_at": resolved_at if status == "CLOSED" else None,
            "cancelled_at": created if status == "CANCELLED" else None,
            "created_at": created,
            "updated_at": updated_at or created,
            "version": version,
            **columns_,
        }
        return await self._insert(REQUESTS, RequestRow, values)

    async def comment(
        self,
        *,
        request: RequestRow,
        body: str = "Thanks, we are looking into it.",
        visibility: str = "PUBLIC",
        author_name: str = "Agent Smith",
        author_role: str = "AGENT",
        author_subject: str = "agent.smith@example.com",
        created_at: datetime | None = None,
    ) -> CommentRow:
        return await self._insert(
            COMMENTS,
            CommentRow,
            {
                "request_id": request.id,
                "body": body,
                "visibility": visibility,
                "author_name": author_name,
                "author_role": author_role,
                "author_subject": author_subject,
                "created_at": created_at or self.now,
            },
        )

    async def event(
        self,
        *,
        request: RequestRow,
        kind: str = "CREATED",
        actor_name: str = "system",
        actor_subject: str = "system",
        from_status: str | None = None,
        to_status: str | None = None,
        comment: CommentRow | None = None,
        approval: ApprovalRow | None = None,
        occurred_at: datetime | None = None,
    ) -> EventRow:
        return await self._insert(
            EVENTS,
            EventRow,
            {
                "request_id": request.id,
                "customer_id": request.customer_id,
                "team_id": request.team_id,
                "kind": kind,
                "actor_name": actor_name,
                "actor_subject": actor_subject,
                "from_status": from_status,
                "to_status": to_status,
                "comment_id": comment.id if comment else None,
                "approval_id": approval.id if approval else None,
                "occurred_at": occurred_at or self.now,
            },
        )

    # ------------------------------------------------------------ approvals --

    async def approval(
        self,
        *,
        request: RequestRow,
        requested_by: StaffRow,
        kind: str = "INVOICE_ADJUSTMENT",
        amount: Amount | None = "5000.00",
        currency: str = "USD",
        required_level: str = "SUPERVISOR",
        required_approvals: int = 1,
        status: str = "PENDING",
        justification: str = "Customer was double-billed.",
        requested_at: datetime | None = None,
    ) -> ApprovalRow:
        return await self._insert(
            APPROVALS,
            ApprovalRow,
            {
                "request_id": request.id,
                "kind": kind,
                "amount": dec(amount),
                "currency": currency if amount is not None else None,
                "amount_usd": dec(amount),
                "required_level": required_level,
                "required_approvals": required_approvals,
                "status": status,
                "justification": justification,
                "requested_by_id": requested_by.id,
                "requested_at": requested_at or self.now,
            },
        )

    async def decision(
        self,
        *,
        approval: ApprovalRow,
        approver: StaffRow,
        decision: str = "APPROVE",
        comment: str | None = None,
    ) -> DecisionRow:
        return await self._insert(
            DECISIONS,
            DecisionRow,
            {
                "approval_id": approval.id,
                "approver_id": approver.id,
                "decision": decision,
                "comment": comment,
                "decided_at": self.now,
            },
        )

    async def adjustment(
        self,
        *,
        request: RequestRow,
        invoice: InvoiceRow,
        posted_by: StaffRow,
        kind: str = "CREDIT_MEMO",
        amount: Amount = "100.00",
        currency: str | None = None,
        approval: ApprovalRow | None = None,
        posted_at: datetime | None = None,
    ) -> AdjustmentRow:
        return await self._insert(
            ADJUSTMENTS,
            AdjustmentRow,
            {
                "request_id": request.id,
                "invoice_id": invoice.id,
                "kind": kind,
                "amount": dec(amount),
                "currency": currency or invoice.currency,
                "approval_id": approval.id if approval else None,
                "posted_by_id": posted_by.id,
                "posted_at": posted_at or self.now,
            },
        )

    # ---------------------------------------------------------------- audit --

    async def audit_entry(
        self,
        *,
        entity_type: str = "ServiceRequest",
        entity_id: int | str = 1,
        action: str = "update",
        actor_subject: str = "agent@example.com",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditRow:
        """An audit row with placeholder hashes (for read tests; the chain is not valid)."""
        last = (await self._execute(select(func.coalesce(func.max(AUDIT.c.sequence), 0).label("s"))))[0]["s"]
        return await self._insert(
            AUDIT,
            AuditRow,
            {
                "sequence": int(last) + 1,
                "occurred_at": self.now,
                "actor_subject": actor_subject,
                "action": action,
                "entity_type": entity_type,
                "entity_id": str(entity_id),
                "before": before,
                "after": after,
                "previous_hash": "0" * 64,
                "hash": f"{int(last) + 1:064x}",
            },
        )
