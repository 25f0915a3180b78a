"""Demo service requests as rows ready for COPY: consistent timelines, SLA marks and events.

One request is drawn at a time: customer, type (only what capture would
accept: disputes on an open invoice inside the dispute window, credit
types for KYC-verified customers), channel, financial impact in the
invoice's (or customer's) currency, priority, team and agent by the
domain routing rules, then a path of statuses ending in the chosen one
(more recent requests are more often still open). Timestamps follow the
path; a status's column holds its latest entry. SLA due times are
`created_at` + the policy's seconds (+ resumed pause time): a 24x7
approximation even for business-hours policies, good enough for bulk
demo data. At-risk and breach instants that have passed are marked with
their SLA_AT_RISK / SLA_BREACHED events; a resolution breach escalates
the request to the escalation team, as the SLA engine does;
`next_sla_check_at` is the next instant still ahead.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from demo import texts as words
from demo.play import Batch, Draft, Play, PlayRules
from demo.timeline import plan_timeline
from demo.world import Agent, CustomerRef, World
from domain.approvals import MONEY_KINDS, required_approval
from domain.enums import ApprovalKind, Channel, Priority, RequestStatus, RequestType, SlaTier
from domain.routing import derive_priority, route_team
from domain.rules import DEFAULT_RULES, Rules

__all__ = [
    "APPROVAL_COLUMNS",
    "COMMENT_COLUMNS",
    "EVENT_COLUMNS",
    "REQUEST_COLUMNS",
    "Batch",
    "RequestGenerator",
]

REQUEST_COLUMNS = (
    "id", "customer_id", "type", "channel", "subject", "description", "priority", "status",
    "financial_impact_amount", "financial_impact_currency", "invoice_id", "payment_id", "team_id",
    "assignee_id", "escalated", "created_by_subject", "sla_policy_id", "first_response_due_at",
    "resolution_due_at", "first_responded_at", "paused_at", "paused_seconds", "first_response_breached_at",
    "resolution_breached_at", "first_response_at_risk_at", "resolution_at_risk_at", "next_sla_check_at",
    "resolution_code",
    "resolution_summary", "resolved_by_id", "triaged_at", "in_progress_at", "waiting_on_customer_at",
    "pending_approval_at", "resolved_at", "closed_at", "cancelled_at", "created_at", "updated_at", "version",
)  # fmt: skip
COMMENT_COLUMNS = (
    "id", "request_id", "body", "visibility", "author_subject", "author_name", "author_role", "created_at",
)  # fmt: skip
APPROVAL_COLUMNS = (
    "id", "request_id", "kind", "amount", "currency", "amount_usd", "required_level", "required_approvals",
    "status", "justification", "requested_by_id", "requested_at",
)  # fmt: skip
EVENT_COLUMNS = (
    "request_id", "kind", "occurred_at", "actor_subject", "actor_name", "from_status", "to_status",
    "comment_id", "approval_id", "sla_target", "due_at", "customer_id", "team_id", "details",
)  # fmt: skip

S = RequestStatus
_TYPES = list(RequestType)
_TYPE_WEIGHTS = list(itertools.accumulate([22, 12, 16, 10, 7, 9, 6, 3, 3, 12]))  # in RequestType order
_CHANNELS = list(Channel)
_CHANNEL_WEIGHTS = list(itertools.accumulate([30, 28, 12, 10, 10, 10]))
_STAFF_CHANNELS = frozenset({Channel.EMAIL, Channel.PHONE, Channel.SUPPORT_DESK, Channel.CRM})
_CREDIT_TYPES = frozenset(
    {RequestType.CREDIT_LIMIT_CHANGE, RequestType.LETTER_OF_CREDIT, RequestType.DEBT_RESTRUCTURING}
)
_INVOICE_TYPES = frozenset({RequestType.BILLING_DISPUTE, RequestType.INVOICE_CORRECTION})
_APPROVAL_KIND = {
    RequestType.BILLING_DISPUTE: ApprovalKind.INVOICE_ADJUSTMENT,
    RequestType.INVOICE_CORRECTION: ApprovalKind.INVOICE_ADJUSTMENT,
    RequestType.PAYMENT_POSTING: ApprovalKind.PAYMENT_REALLOCATION,
    RequestType.CREDIT_LIMIT_CHANGE: ApprovalKind.CREDIT_LIMIT_CHANGE,
    RequestType.DEBT_RESTRUCTURING: ApprovalKind.WRITE_OFF,
    RequestType.ACCOUNT_UPDATE: ApprovalKind.ACCOUNT_CHANGE,
}
_AMOUNT_RANGES = {  # (low, high) of the impact of credit types, in the customer's currency
    RequestType.CREDIT_LIMIT_CHANGE: (5_000, 120_000),
    RequestType.LETTER_OF_CREDIT: (20_000, 300_000),
    RequestType.DEBT_RESTRUCTURING: (3_000, 90_000),
}
_CENT = Decimal("0.01")
# Statuses with a timestamp column, in REQUEST_COLUMNS order (triaged_at .. cancelled_at).
_STAMPED = [s for s in RequestStatus if s is not RequestStatus.NEW]


class RequestGenerator:
    """Draws demo requests one by one into a Batch; deterministic for a given rng."""

    def __init__(
        self, world: World, *, now: datetime, rng: random.Random, rules: Rules = DEFAULT_RULES
    ) -> None:
        if not world.customers:
            raise ValueError("no customers to generate requests for: import master data first")
        self.world, self.now, self.rng, self.rules = world, now, rng, rules
        self._staff = [a for t in world.teams.values() for a in t.agents]
        self._play_rules = PlayRules(
            rng, world.teams.get(rules.routing.escalation_team), rules.lifecycle.auto_close_after
        )

    def add(
        self,
        batch: Batch,
        *,
        request_id: int,
        created: datetime,
        comment_ids: Iterator[int],
        approval_ids: Iterator[int],
        status: RequestStatus | None = None,
    ) -> None:
        """Append one request created at `created` (and its comments, approval and events)."""
        rng = self.rng
        customer = rng.choice(self.world.customers)
        draft = self._draft(
            customer, created, RequestType.ACCOUNT_UPDATE if status is S.PENDING_APPROVAL else None
        )
        tier = customer.tier or SlaTier.STANDARD
        priority = derive_priority(
            request_type=draft.type, impact_usd=draft.impact_usd, tier=customer.tier, risk=customer.risk
        ).priority
        if draft.channel in _STAFF_CHANNELS and rng.random() < 0.15:
            priority = rng.choice(list(Priority))  # staff may choose the priority
        policy = self.world.policies[(tier, priority)]
        routed = route_team(request_type=draft.type, impact_usd=draft.impact_usd, risk=customer.risk)
        team = self.world.teams.get(routed.team)
        skilled = team.by_skill.get(draft.type, ()) if team else ()
        assignee = rng.choice(skilled) if skilled else None
        requirement = None
        kind = _APPROVAL_KIND.get(draft.type)
        if kind is not None and (kind not in MONEY_KINDS or customer.kyc_verified):
            amount_usd = draft.impact_usd if kind in MONEY_KINDS else None
            if kind not in MONEY_KINDS or amount_usd is not None:
                needed = required_approval(
                    kind=kind, amount_usd=amount_usd, customer_risk=customer.risk, dscr=customer.dscr
                )
                requirement = needed if needed.needed else None
        timeline = plan_timeline(
            rng=rng, created=created, now=self.now, status=status, assigned=assignee is not None,
            can_request_approval=requirement is not None, policy=policy,
            at_risk_fraction=float(self.rules.sla.at_risk_fraction),
            auto_close_after=self.rules.lifecycle.auto_close_after,
        )  # fmt: skip
        subject = rng.choice(words.SUBJECTS[draft.type]).format(**draft.label)
        creator = self._creator(draft, assignee)
        state = Play(self._play_rules, batch, request_id, draft, timeline, team, assignee, creator)
        state.play(comment_ids, approval_ids, kind, requirement, priority, routed.rule, routed.reason)
        description = rng.choice(words.DESCRIPTIONS).format(subject=subject, customer=customer.name)
        t = timeline
        team_id = state.team.id if state.team else None
        assignee_id = state.assignee.id if state.assignee else None
        impact = draft.impact or (None, None)
        stamps = [t.at.get(s) for s in _STAMPED]
        batch.requests.append((
            request_id, customer.id, draft.type, draft.channel, subject, description,
            state.priority, t.status, *impact, draft.invoice_id, draft.payment_id, team_id,
            assignee_id, state.escalated, creator[0], policy.id, t.first_response_due_at, t.resolution_due_at,
            t.first_responded_at, t.paused_at, t.paused_seconds, t.first_response_breached_at,
            t.resolution_breached_at, t.first_response_at_risk_at, t.resolution_at_risk_at,
            t.next_sla_check_at, state.resolution_code, state.resolution_summary, state.resolved_by,
            *stamps, created, state.updated_at, state.version,
        ))  # fmt: skip
        batch.statuses[t.status.value] += 1

    def _draft(self, customer: CustomerRef, created: datetime, forced: RequestType | None) -> Draft:
        rng = self.rng
        day = created.date()
        rtype = forced or _TYPES[bisect.bisect(_TYPE_WEIGHTS, rng.random() * _TYPE_WEIGHTS[-1])]
        label = {"invoice": "", "payment": "", "customer": customer.name}
        invoice_id = payment_id = None
        impact: tuple[Decimal, str] | None = None
        if rtype in _INVOICE_TYPES:
            window = customer.dispute_window_days
            open_ = [
                i for i in customer.invoices if i.outstanding > 0 and 0 <= (day - i.issued_on).days <= window
            ]
            if open_:
                invoice = rng.choice(open_)
                share = Decimal(rng.randint(5, 100)) / 100
                amount = max((invoice.outstanding * share).quantize(_CENT), _CENT)
                invoice_id, impact, label["invoice"] = invoice.id, (amount, invoice.currency), invoice.number
            else:
                rtype = RequestType.PAYMENT_INQUIRY
        elif rtype is RequestType.PAYMENT_POSTING:
            if customer.payments:
                payment = rng.choice(customer.payments)
                payment_id, impact, label["payment"] = (
                    payment.id,
                    (payment.amount, payment.currency),
                    payment.reference,
                )
            else:
                rtype = RequestType.PAYMENT_INQUIRY
        elif rtype in _CREDIT_TYPES:
            if customer.kyc_verified:
                low, high = _AMOUNT_RANGES[rtype]
                impact = (Decimal(rng.randrange(low, high, 250)), customer.currency)
            else:
                rtype = RequestType.GENERAL_INQUIRY  # capture refuses credit types without verified KYC
        channel = _CHANNELS[bisect.bisect(_CHANNEL_WEIGHTS, rng.random() * _CHANNEL_WEIGHTS[-1])]
        if channel is Channel.PARTNER_API and customer.partner is None:
            channel = Channel.PORTAL
        rate = self.world.usd_rates.get(impact[1]) if impact else None
        impact_usd = (impact[0] * rate).quantize(_CENT) if impact and rate is not None else None
        return Draft(customer, rtype, channel, invoice_id, payment_id, label, impact, impact_usd)

    def _creator(self, draft: Draft, assignee: Agent | None) -> tuple[str, str, str]:
        """(subject, name, role) of whoever created the request on this channel."""
        if draft.channel is Channel.PARTNER_API and draft.customer.partner:
            return (draft.customer.partner[0], draft.customer.partner[1], "PARTNER")
        if draft.channel in _STAFF_CHANNELS:
            agent = assignee or (self.rng.choice(self._staff) if self._staff else None)
            if agent is not None:
                return (agent.email, agent.name, agent.role)
        return (draft.customer.contact, f"Accounts payable, {draft.customer.name}", "CUSTOMER")
