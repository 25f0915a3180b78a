"""The domain's rules about a request as SQL: its SLA view and the transitions the viewer may
perform.

The SLA state is domain.sla.evaluate over the stored columns at the clock; the at-risk instant of
a business-hours policy is counted over the open spans domain.calendar generated
(planner.calendars); where those do not cover the instants (or the calendar changed since) the
value is written as the SENTINEL and that request takes the resolver path. `availableTransitions`
is domain.lifecycle.allowed_actions itself, evaluated at plan time for every combination of the
facts it reads (status, assignee, pending approval, reopen window) into a lookup.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graphql import FieldNode

from auth.permissions import transition_capability
from domain.enums import OPEN_STATUSES, RequestStatus
from domain.lifecycle import Actor, RequestFacts, allowed_actions
from domain.rules import DEFAULT_RULES
from planner.builder import Builder, Unplannable
from planner.objects import compile_object, typename
from planner.sql import SENTINEL, json_datetime, json_object, literal

__all__ = ["available_transitions", "sla"]

_OPEN = ", ".join(literal(s.value) for s in sorted(OPEN_STATUSES))
_DONE = "('RESOLVED', 'CLOSED')"
# The Sla fields that read the request's policy (its targets, its calendar).
_NEEDS_POLICY = frozenset({"policy", "state", "pausedSeconds"})


# ------------------------------------------------------------------ SLA


def sla(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """Sla of schema.types.sla.sla_of: domain.sla.evaluate over the stored columns at the clock."""
    sp = b.alias("sp")
    now = b.now()
    r = row
    stop = (
        f"CASE WHEN {r}.status = 'WAITING_ON_CUSTOMER' THEN {r}.paused_at "
        f"WHEN {r}.status IN {_DONE} THEN coalesce({r}.resolved_at, {r}.closed_at) "
        f"WHEN {r}.status = 'CANCELLED' THEN {r}.cancelled_at END"
    )
    clock = f"(CASE WHEN ({stop}) IS NULL THEN {now} ELSE least({stop}, {now}) END)"
    done = f"({r}.status IN {_DONE} AND {r}.resolved_at IS NOT NULL)"
    first_breach = (
        f"(CASE WHEN {r}.first_response_breached_at IS NOT NULL THEN {r}.first_response_breached_at "
        f"WHEN ({r}.first_responded_at IS NOT NULL AND {r}.first_responded_at > {r}.first_response_due_at) "
        f"OR ({r}.first_responded_at IS NULL AND {clock} >= {r}.first_response_due_at) "
        f"THEN {r}.first_response_due_at END)"
    )
    resolution_breach = (
        f"(CASE WHEN {r}.resolution_breached_at IS NOT NULL THEN {r}.resolution_breached_at "
        f"WHEN {done} THEN CASE WHEN {r}.resolved_at > {r}.resolution_due_at THEN {r}.resolution_due_at END "
        f"WHEN {clock} >= {r}.resolution_due_at THEN {r}.resolution_due_at END)"
    )
    breached_at = f"least({first_breach}, {resolution_breach})"
    first_due = (
        f"(CASE WHEN {r}.first_responded_at IS NULL OR {first_breach} IS NOT NULL "
        f"THEN {r}.first_response_due_at END)"
    )
    resolution_due = (
        f"(CASE WHEN NOT {done} OR {resolution_breach} IS NOT NULL THEN {r}.resolution_due_at END)"
    )
    earliest = f"least({first_due}, {resolution_due})"
    fraction = literal(str(DEFAULT_RULES.sla.at_risk_fraction))

    def wall_at_risk(due: str, target: str) -> str:
        # domain.sla.at_risk_instant counted in wall-clock time: exact for 24x7 policies, and never
        # before the business-hours instant (so "at risk" by it is at risk by the calendar too).
        rest = f"({sp}.{target} - ceil({sp}.{target} * {fraction}::numeric))"
        return f"({due} - {rest} * interval '1 second' <= {now})"

    at_risk = (
        f"({wall_at_risk(first_due, 'first_response_seconds')} "
        f"OR {wall_at_risk(resolution_due, 'resolution_seconds')})"
    )

    def open_between(a: str, z: str) -> str:
        # Open seconds of the policy's calendar from `a` to `z` (planner.calendars' spans; a span
        # lies within one local day, so none opening more than 26 hours before `a` reaches it).
        return (
            f"(SELECT coalesce(sum(extract(epoch FROM "
            f"least(s.closes_at, {z}) - greatest(s.opens_at, {a}))), 0) "
            f"FROM calendar_open_spans s WHERE s.calendar_id = {sp}.calendar_id "
            f"AND s.opens_at >= {a} - interval '26 hours' AND s.opens_at < {z} AND s.closes_at > {a})"
        )

    def spans_cover(a: str, z: str) -> str:
        return (
            f"EXISTS (SELECT 1 FROM calendar_span_sets ss "
            f"JOIN business_calendars bc ON bc.id = ss.calendar_id "
            f"WHERE ss.calendar_id = {sp}.calendar_id AND ss.time_zone = bc.time_zone "
            f"AND ss.weekly_hours = bc.weekly_hours AND ss.holidays = bc.holidays "
            f"AND ss.covers_from <= {a} AND ss.covers_to >= {z})"
        )

    open_now = (
        f"EXISTS (SELECT 1 FROM calendar_open_spans s WHERE s.calendar_id = {sp}.calendar_id "
        f"AND s.opens_at <= {now} AND s.opens_at >= {now} - interval '26 hours' AND s.closes_at > {now})"
    )

    def calendar_at_risk(due: str, target: str) -> str:
        # domain.sla.at_risk_instant walks `rest` open seconds back from the due time and lands on
        # a span's start when it exhausts a span: it is not after now exactly when fewer than
        # `rest` open seconds remain, or `rest` and now is open.
        rest = f"({sp}.{target} - ceil({sp}.{target} * {fraction}::numeric))"
        remaining = open_between(now, due)
        return f"({due} IS NOT NULL AND ({remaining} < {rest} OR ({remaining} = {rest} AND {open_now})))"

    calendar_risk = (
        f"({calendar_at_risk(first_due, 'first_response_seconds')} "
        f"OR {calendar_at_risk(resolution_due, 'resolution_seconds')})"
    )
    running_states = f"{r}.status = 'WAITING_ON_CUSTOMER' OR {done} OR {r}.status NOT IN ({_OPEN})"

    def seconds(interval: str) -> str:
        return f"floor(extract(epoch FROM {interval}))::bigint"

    members = []
    selected = b.collect("Sla", nodes)
    for key, fields in selected.items():
        name = fields[0].name.value
        if name == "policy":
            members.append((key, compile_object(b, "SlaPolicy", sp, fields)))
        elif name == "state":
            state = (
                f"CASE WHEN {breached_at} IS NOT NULL THEN '\"BREACHED\"' "
                f"WHEN {r}.status = 'WAITING_ON_CUSTOMER' THEN '\"PAUSED\"' "
                f"WHEN {done} THEN '\"MET\"' "
                f"WHEN {r}.status NOT IN ({_OPEN}) THEN '\"ON_TRACK\"' "
                f"WHEN {sp}.calendar_id IS NULL THEN CASE WHEN {at_risk} THEN '\"AT_RISK\"' "
                f"ELSE '\"ON_TRACK\"' END "
                f"WHEN NOT {spans_cover(now, f'greatest({first_due}, {resolution_due})')} THEN {SENTINEL} "
                f"WHEN {calendar_risk} THEN '\"AT_RISK\"' "
                f"ELSE '\"ON_TRACK\"' END"
            )
            members.append((key, state))
        elif name == "remainingSeconds":
            remaining = (
                f"CASE WHEN {breached_at} IS NOT NULL THEN {seconds(f'{earliest} - {clock}')}::text "
                f"WHEN {running_states} THEN 'null' "
                f"ELSE {seconds(f'{earliest} - {now}')}::text END"
            )
            members.append((key, remaining))
        elif name == "breachedAt":
            members.append((key, json_datetime(breached_at)))
        elif name == "firstResponseDueAt":
            members.append((key, json_datetime(f"{r}.first_response_due_at")))
        elif name == "firstRespondedAt":
            members.append((key, json_datetime(f"{r}.first_responded_at")))
        elif name == "resolutionDueAt":
            members.append((key, json_datetime(f"{r}.resolution_due_at")))
        elif name == "pausedSeconds":
            running_pause = f"{r}.status = 'WAITING_ON_CUSTOMER' AND {r}.paused_at IS NOT NULL"
            paused_at = f"{r}.paused_at"
            in_calendar = f"floor({open_between(paused_at, now)})::bigint"
            paused = (
                f"CASE WHEN NOT ({running_pause}) THEN {r}.paused_seconds::text "
                f"WHEN {sp}.calendar_id IS NULL THEN ({r}.paused_seconds + "
                f"greatest({seconds(f'{now} - {paused_at}')}, 0))::text "
                f"WHEN NOT {spans_cover(f'least({paused_at}, {now})', now)} THEN {SENTINEL} "
                f"ELSE ({r}.paused_seconds + greatest({in_calendar}, 0))::text END"
            )
            members.append((key, paused))
        elif name == "__typename":
            members.append((key, typename("Sla")))
        else:
            raise Unplannable("unsupported_field", f"Sla.{name}")
    if not any(fields[0].name.value in _NEEDS_POLICY for fields in selected.values()):
        return json_object(members)  # due times, breach, remaining seconds: the request's own columns
    return f"(SELECT {json_object(members)} FROM sla_policies {sp} WHERE {sp}.id = {r}.sla_policy_id)"


# ------------------------------------------------------------------ transitions

_ME, _OTHER = 1, 2
_PLAN_NOW = datetime(2000, 1, 1, tzinfo=UTC)


def available_transitions(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """ServiceRequest.availableTransitions: allowed_actions for each combination of its facts."""
    access = b.access
    actor = Actor(roles=access.roles, staff_id=_ME if access.has_staff_id else None)
    # The stored business rules decide (as for the mutations): the one fact they feed is whether
    # the reopen window has passed, computed in SQL from the stored `lifecycle` set (defaults when
    # none is stored). Evaluated at plan time with the default set and resolved_at on either side
    # of its window, so each answer depends on that fact alone.
    lifecycle = DEFAULT_RULES.lifecycle
    window = lifecycle.reopen_window
    fields = b.collect("Transition", nodes)

    def element(action: str, to_status: str) -> str:
        parts = []
        for key, found in fields.items():
            name = found[0].name.value
            if name == "action":
                parts.append(f'"{key}":"{action}"')
            elif name == "toStatus":
                parts.append(f'"{key}":"{to_status}"')
            elif name == "__typename":
                parts.append(f'"{key}":"Transition"')
            else:
                raise Unplannable("unsupported_field", f"Transition.{name}")
        return "{" + ",".join(parts) + "}"

    answers: dict[str, list[str]] = {}
    for status in RequestStatus:
        for assignee in (0, _ME, _OTHER):
            for pending in (False, True):
                if pending and status not in OPEN_STATUSES:
                    continue  # only open requests look at their approvals
                for expired in (False, True):
                    facts = RequestFacts(
                        status=status,
                        customer_id=1,
                        version=1,
                        assignee_id=assignee or None,
                        resolved_at=_PLAN_NOW - window - timedelta(seconds=1) if expired else _PLAN_NOW,
                        has_pending_approval=pending,
                    )
                    possible = allowed_actions(request=facts, actor=actor, now=_PLAN_NOW, rules=lifecycle)
                    allowed = [
                        element(action.value, to_status.value)
                        for action, to_status in possible
                        if access.can(transition_capability(action))
                    ]
                    key = f"{status.value}:{assignee}:{int(pending)}:{int(expired)}"
                    answers.setdefault("[" + ",".join(allowed) + "]", []).append(key)
    now = b.now()
    if access.has_staff_id:
        me = b.shared("staff_id", lambda binding: binding.principal.staff_id, "bigint")
        assignee_sql = (
            f"CASE WHEN {row}.assignee_id IS NULL THEN 0 WHEN {row}.assignee_id = {me} THEN 1 ELSE 2 END"
        )
    else:
        assignee_sql = f"CASE WHEN {row}.assignee_id IS NULL THEN 0 ELSE 2 END"
    pending_sql = (
        f"CASE WHEN {row}.status IN ({_OPEN}) AND EXISTS (SELECT 1 FROM approvals ap WHERE "
        f"ap.request_id = {row}.id AND ap.status = 'PENDING') THEN 1 ELSE 0 END"
    )
    stored_days = (
        "(SELECT (br.rules->>'reopen_window_days')::int FROM business_rules br WHERE br.name = 'lifecycle')"
    )
    expired_sql = (
        f"CASE WHEN {row}.resolved_at IS NOT NULL AND {now} > {row}.resolved_at + "
        f"make_interval(days => COALESCE({stored_days}, {window.days})) THEN 1 ELSE 0 END"
    )
    key_sql = f"{row}.status || ':' || ({assignee_sql}) || ':' || ({pending_sql}) || ':' || ({expired_sql})"
    if len(answers) == 1:
        return literal(next(iter(answers)))
    branches = " ".join(
        f"WHEN k.key IN ({', '.join(literal(k) for k in keys)}) THEN {literal(answer)}"
        for answer, keys in answers.items()
    )
    return f"(SELECT CASE {branches} ELSE '[]' END FROM (SELECT {key_sql} AS key) k)"
