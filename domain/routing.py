"""Routing (LIFECYCLE.md §5): priority, team and agent, each with the rule that fired and why.

The rule and reason are recorded on the ASSIGNED event, so every function
returns them beside its choice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from domain.enums import Priority, RequestType, RiskRating, SlaTier
from domain.rules import DEFAULT_RULES, RoutingRules

__all__ = [
    "AgentChoice",
    "Candidate",
    "PriorityChoice",
    "TeamChoice",
    "derive_priority",
    "escalate_priority",
    "pick_agent",
    "route_team",
]

_PRIORITIES = list(Priority)  # LOW .. URGENT
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PriorityChoice:
    priority: Priority
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class TeamChoice:
    team: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A member of the routed team as routing sees them."""

    staff_id: int
    skills: Collection[str]  # RequestType names
    open_workload: int  # open requests assigned to them
    last_assigned_at: datetime | None
    active: bool = True


@dataclass(frozen=True, slots=True)
class AgentChoice:
    staff_id: int | None  # None: nobody active with the skill; the request stays unassigned
    rule: str
    reason: str


def escalate_priority(priority: Priority) -> Priority:
    """One step up, at most URGENT."""
    return _PRIORITIES[min(priority.rank + 1, len(_PRIORITIES) - 1)]


def derive_priority(
    *,
    request_type: RequestType,
    impact_usd: Decimal | None,
    tier: SlaTier | None,
    risk: RiskRating,
    rules: RoutingRules = DEFAULT_RULES.routing,
) -> PriorityChoice:
    """Priority from the financial impact (USD), raised to the tier and type floors, then one
    step up for a risky customer. `rule` lists the rules that fired, joined by '+'."""
    priority = rules.default_priority
    fired = [f"default:{priority}"]
    reasons = [f"default {priority}"]
    if impact_usd is not None:
        for threshold in rules.priority_thresholds:
            if impact_usd >= threshold.min_usd:
                priority = threshold.priority
                fired = [f"impact>={threshold.min_usd}"]
                reasons = [f"financial impact {impact_usd} USD >= {threshold.min_usd} USD: {priority}"]
                break
    floors = [
        (rules.tier_floors.get(tier) if tier is not None else None, f"tier:{tier}", f"{tier} tier"),
        (rules.type_floors.get(request_type), f"type:{request_type}", f"{request_type} requests"),
    ]
    for floor, rule, why in floors:
        if floor is not None and floor.rank > priority.rank:
            priority = floor
            fired.append(rule)
            reasons.append(f"{why} are at least {floor}")
    if risk in rules.risk_raise:
        raised = escalate_priority(priority)
        fired.append(f"risk:{risk}")
        reasons.append(f"{risk} risk customer raises {priority} to {raised}")
        priority = raised
    return PriorityChoice(priority, "+".join(fired), "; ".join(reasons))


def route_team(
    *,
    request_type: RequestType,
    impact_usd: Decimal | None,
    risk: RiskRating,
    escalated: bool = False,
    rules: RoutingRules = DEFAULT_RULES.routing,
) -> TeamChoice:
    """The team's name: escalated requests, large impacts and critical-risk customers go to the
    escalation team, everything else by request type."""
    team = rules.escalation_team
    if escalated:
        return TeamChoice(team, "escalated", "escalated requests go to the escalation team")
    if impact_usd is not None and impact_usd >= rules.escalation_impact_usd:
        return TeamChoice(
            team, "impact", f"financial impact {impact_usd} USD >= {rules.escalation_impact_usd} USD"
        )
    if risk in rules.escalation_risk_ratings:
        return TeamChoice(team, "risk", f"{risk} risk customer")
    return TeamChoice(rules.team_by_type[request_type], "type", f"{request_type} requests")


def pick_agent(*, candidates: Sequence[Candidate], request_type: RequestType) -> AgentChoice:
    """Among active members with the skill: fewest open requests, then least recently assigned
    (never assigned first), then the lowest id so the choice is deterministic."""
    skilled = [c for c in candidates if c.active and request_type in c.skills]
    if not skilled:
        return AgentChoice(None, "no-skilled-agent", f"no active team member has the skill {request_type}")

    def order(candidate: Candidate) -> tuple[int, bool, datetime, int]:
        assigned = candidate.last_assigned_at
        # Never assigned sorts first (False < True); the sentinel is only compared with itself.
        return (candidate.open_workload, assigned is not None, assigned or _NEVER, candidate.staff_id)

    chosen = min(skilled, key=order)
    tied = [c for c in skilled if c.open_workload == chosen.open_workload]
    if len(tied) == 1:
        return AgentChoice(chosen.staff_id, "fewest-open", f"fewest open requests ({chosen.open_workload})")
    return AgentChoice(
        chosen.staff_id,
        "least-recently-assigned",
        f"{len(tied)} members with {chosen.open_workload} open requests; assigned least recently",
    )
