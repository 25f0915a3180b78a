"""Plays a demo request's timeline into rows: comments, an approval and request events."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from demo import texts as words
from demo.timeline import Timeline
from demo.world import Agent, CustomerRef, TeamRef
from domain.approvals import MONEY_KINDS
from domain.enums import ApprovalKind, Channel, Priority, RequestStatus, RequestType
from domain.routing import escalate_priority

__all__ = ["RESOLUTION_CODES", "Batch", "Draft", "Play", "PlayRules"]

S = RequestStatus
_SYSTEM = ("system", "casegraph")
_DETAILS: dict[tuple[str, str], str] = {}  # ASSIGNED details as JSON text, shared by equal routings


@dataclass
class Batch:
    """Rows of one COPY batch, in the column orders above."""

    requests: list[tuple[Any, ...]] = field(default_factory=list)
    comments: list[tuple[Any, ...]] = field(default_factory=list)
    approvals: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Draft:
    """What is known of a request before its timeline is played."""

    customer: CustomerRef
    type: RequestType
    channel: Channel
    invoice_id: int | None
    payment_id: int | None
    label: dict[str, str]
    impact: tuple[Decimal, str] | None
    impact_usd: Decimal | None


@dataclass(frozen=True, slots=True)
class PlayRules:
    """What playing needs besides the request: the randomness and two rules."""

    rng: random.Random
    escalation_team: TeamRef | None
    auto_close_after: timedelta


class Play:
    """Plays a timeline into comments, an approval and events, tracking who holds the request."""

    def __init__(
        self,
        gen: PlayRules,
        batch: Batch,
        request_id: int,
        draft: Draft,
        timeline: Timeline,
        team: Any,
        assignee: Agent | None,
        creator: tuple[str, str, str],
    ) -> None:
        self.gen, self.batch, self.id, self.draft, self.timeline = gen, batch, request_id, draft, timeline
        self.team, self.assignee, self.creator = team, assignee, creator
        self.customer_id = draft.customer.id
        self.escalated = False
        self.priority = Priority.LOW
        self.resolution_code: str | None = None
        self.resolution_summary: str | None = None
        self.resolved_by: int | None = None
        self.updated_at = timeline.created
        self.version = 1

    def _actor(self) -> tuple[str, str]:
        return (self.assignee.email, self.assignee.name) if self.assignee else _SYSTEM

    def _event(
        self,
        kind: str,
        at: datetime,
        actor: tuple[str, str],
        *,
        frm: str | None = None,
        to: str | None = None,
        comment: int | None = None,
        approval: int | None = None,
        target: str | None = None,
        due: datetime | None = None,
        details: str = "{}",
    ) -> None:
        team_id = self.team.id if self.team else None
        self.batch.events.append(
            (
                self.id,
                kind,
                at,
                actor[0],
                actor[1],
                frm,
                to,
                comment,
                approval,
                target,
                due,
                self.customer_id,
                team_id,
                details,
            )
        )

    def _comment(
        self,
        comment_ids: Iterator[int],
        at: datetime,
        body: str,
        visibility: str,
        author: tuple[str, str, str],
    ) -> int:
        cid = next(comment_ids)
        self.batch.comments.append((cid, self.id, body, visibility, author[0], author[1], author[2], at))
        self._event("COMMENTED", at, (author[0], author[1]), comment=cid)
        return cid

    def _assigned(self, at: datetime, rule: str, reason: str) -> None:
        details = _DETAILS.get((rule, reason))
        if details is None:
            details = _DETAILS[(rule, reason)] = json.dumps({"rule": rule, "reason": reason})
        self._event("ASSIGNED", at, _SYSTEM, details=details)

    def play(
        self,
        comment_ids: Iterator[int],
        approval_ids: Iterator[int],
        kind: ApprovalKind | None,
        requirement: Any,
        priority: Priority,
        rule: str,
        reason: str,
    ) -> None:
        """Emit every event of the timeline in order; sets the final holder, priority and version."""
        rng, t, customer = self.gen.rng, self.timeline, self.draft.customer
        self.priority = priority
        self._event("CREATED", t.created, (self.creator[0], self.creator[1]), to=S.NEW)
        self._assigned(t.created, rule, reason)
        customer_actor = (customer.contact, f"Accounts payable, {customer.name}", "CUSTOMER")
        status: str = S.NEW
        for at, step in t.steps:
            self.version += 1
            self.updated_at = at
            if step == "ACK":
                self._comment(
                    comment_ids, at, rng.choice(words.ACKS), "PUBLIC", (*self._actor(), self._role())
                )
            elif step == "NOTE":
                self._comment(
                    comment_ids,
                    at,
                    rng.choice(words.INTERNAL_NOTES),
                    "INTERNAL",
                    (*self._actor(), self._role()),
                )
            elif step.startswith("RISK:") or step.startswith("BREACH:"):
                target = step.split(":")[1]
                due = t.first_response_due_at if target == "FIRST_RESPONSE" else t.resolution_due_at
                kind_name = "SLA_AT_RISK" if step.startswith("RISK:") else "SLA_BREACHED"
                self._event(kind_name, at, _SYSTEM, target=target, due=due)
                if step == "BREACH:RESOLUTION":
                    self._escalate(at)
            else:
                status = self._transition(
                    at, step, status, comment_ids, approval_ids, kind, requirement, customer_actor
                )

    def _role(self) -> str:
        return self.assignee.role if self.assignee else "ADMIN"

    def _escalate(self, at: datetime) -> None:
        self.escalated = True
        self.priority = escalate_priority(self.priority)
        self._event("ESCALATED", at, _SYSTEM)
        team = self.gen.escalation_team
        if team is not None and team is not self.team:
            self.team = team
            skilled = team.by_skill.get(self.draft.type, ())
            self.assignee = self.gen.rng.choice(skilled) if skilled else None
            self._assigned(at, "escalated", "escalated requests go to the escalation team")

    def _transition(
        self,
        at: datetime,
        to: str,
        frm: str,
        comment_ids: Iterator[int],
        approval_ids: Iterator[int],
        kind: ApprovalKind | None,
        requirement: Any,
        customer_actor: tuple[str, str, str],
    ) -> str:
        rng = self.gen.rng
        actor = self._actor()
        if to == S.TRIAGED:
            self._event("TRIAGED", at, actor, frm=frm, to=to)
            return to
        if to == S.IN_PROGRESS and frm == S.WAITING_ON_CUSTOMER:
            self._comment(comment_ids, at, rng.choice(words.CUSTOMER_REPLIES), "PUBLIC", customer_actor)
            actor = customer_actor[:2]
        elif to == S.PENDING_APPROVAL and kind is not None and requirement is not None and self.assignee:
            aid = next(approval_ids)
            level, count = requirement.for_record()
            impact = self.draft.impact if kind in MONEY_KINDS else None
            self.batch.approvals.append((
                aid, self.id, kind.value, *(impact or (None, None)),
                self.draft.impact_usd if impact else None, level.value, count, "PENDING",
                f"{self.draft.type.value.replace('_', ' ').capitalize()} for {self.draft.customer.name}",
                self.assignee.id, at,
            ))  # fmt: skip
            self._event("APPROVAL_REQUESTED", at, actor, approval=aid)
        elif to == S.CLOSED:
            actor = (
                _SYSTEM
                if at - self.timeline.at[S.RESOLVED] >= self.gen.auto_close_after
                else customer_actor[:2]
            )
        elif to == S.CANCELLED and frm != S.IN_PROGRESS and rng.random() < 0.5:
            actor = customer_actor[:2]
        self._event("STATUS_CHANGED", at, actor, frm=frm, to=to)
        if to == S.WAITING_ON_CUSTOMER:
            self._comment(comment_ids, at, rng.choice(words.WAITING), "PUBLIC", (*actor, self._role()))
        elif to == S.RESOLVED:
            code = rng.choice(RESOLUTION_CODES[self.draft.type])
            summary = rng.choice(words.RESOLUTIONS[code])
            self.resolution_code, self.resolution_summary = code, summary
            self.resolved_by = self.assignee.id if self.assignee else None
            self._comment(comment_ids, at, summary, "PUBLIC", (*actor, self._role()))
        return to


RESOLUTION_CODES: dict[RequestType, tuple[str, ...]] = {
    RequestType.BILLING_DISPUTE: ("NO_ADJUSTMENT_NEEDED", "REJECTED", "INFORMATION_PROVIDED", "DUPLICATE"),
    RequestType.INVOICE_CORRECTION: ("NO_ADJUSTMENT_NEEDED", "INFORMATION_PROVIDED", "DUPLICATE"),
    RequestType.PAYMENT_INQUIRY: ("INFORMATION_PROVIDED",),
    RequestType.PAYMENT_POSTING: ("INFORMATION_PROVIDED", "NO_ADJUSTMENT_NEEDED", "DUPLICATE"),
    RequestType.CREDIT_LIMIT_CHANGE: ("REJECTED", "INFORMATION_PROVIDED"),
    RequestType.ACCOUNT_UPDATE: ("ACCOUNT_UPDATED",),
    RequestType.CONTRACT_SERVICE: ("INFORMATION_PROVIDED", "DUPLICATE"),
    RequestType.LETTER_OF_CREDIT: ("INFORMATION_PROVIDED", "REJECTED"),
    RequestType.DEBT_RESTRUCTURING: ("REJECTED", "INFORMATION_PROVIDED"),
    RequestType.GENERAL_INQUIRY: ("INFORMATION_PROVIDED", "DUPLICATE"),
}
