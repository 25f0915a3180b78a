"""Routing a request to a team and an agent (LIFECYCLE.md §5), with the rule that fired and why.

The choices come from domain.routing; this module only loads the facts
(team rows, members with their open workload), stamps the chosen agent's
`last_assigned_at` and records that in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from db.repositories.staff import lock_team_by_name, mark_assigned, routing_candidates
from db.uow import UnitOfWork
from domain.enums import RequestType, RiskRating
from domain.errors import DomainError
from domain.money import Money, to_usd
from domain.routing import TeamChoice, pick_agent, route_team
from domain.rules import Rules
from records.rows import RequestRow

__all__ = ["Routed", "impact_usd", "route", "route_within"]


@dataclass(frozen=True, slots=True)
class Routed:
    team_id: int | None
    assignee_id: int | None
    # What the ASSIGNED event records: {"rule", "reason", "teamRule", "teamReason", "team"}.
    details: dict[str, Any] = field(default_factory=dict)


def impact_usd(row: RequestRow, rates: dict[str, Decimal]) -> Decimal | None:
    """A stored request's financial impact in USD (None without one or without a rate)."""
    if row.financial_impact_amount is None or row.financial_impact_currency is None:
        return None
    try:
        return to_usd(Money(row.financial_impact_amount, row.financial_impact_currency), rates)
    except DomainError:
        return None


async def route_within(
    uow: UnitOfWork, *, team_id: int, request_type: RequestType, locked: bool = False
) -> Routed:
    """The agent of `team_id` routing picks (fewest open, then least recently assigned), if any.

    `locked`: the team's members are locked already (`lock_team_by_name`).
    """
    candidates = await routing_candidates(uow.session, team_id=team_id, locked=locked)
    choice = pick_agent(candidates=candidates, request_type=request_type)
    if choice.staff_id is not None:
        previous = await mark_assigned(uow.session, staff_id=choice.staff_id, now=uow.now)
        uow.audit(
            "ROUTE", "Agent", choice.staff_id, {"lastAssignedAt": previous}, {"lastAssignedAt": uow.now}
        )
    return Routed(team_id, choice.staff_id, {"rule": choice.rule, "reason": choice.reason})


async def route(
    uow: UnitOfWork,
    *,
    request_type: RequestType,
    impact: Decimal | None,
    risk: RiskRating,
    escalated: bool,
    rules: Rules,
) -> Routed:
    """Team by the routing rules, then the agent within it; no team row of that name: unrouted."""
    team: TeamChoice = route_team(
        request_type=request_type, impact_usd=impact, risk=risk, escalated=escalated, rules=rules.routing
    )
    team_details = {"team": team.team, "teamRule": team.rule, "teamReason": team.reason}
    team_id = await lock_team_by_name(uow.session, name=team.team)
    if team_id is None:
        return Routed(None, None, {"rule": "no-team", "reason": f"no team named {team.team}", **team_details})
    routed = await route_within(uow, team_id=team_id, request_type=request_type, locked=True)
    return Routed(routed.team_id, routed.assignee_id, {**routed.details, **team_details})
