"""slaAlerts (staff, team filter, resumable) and approvalRequests (who may decide) over WebSockets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from records.events import STREAM_START, encode_cursor
from records.rows import RequestRow, StaffRow
from tests.conftest import Tokens
from tests.realtime_api.conftest import LiveApp, Org, write_event
from tests.realtime_api.support import WsClient
from tests.support.builders import Builder, gid

pytestmark = pytest.mark.clock  # reads the real clock: run again at a hostile instant (.ci/run)

Sockets = Callable[..., Awaitable[WsClient]]

SLA = """
subscription($team: ID, $after: String) {
  slaAlerts(teamId: $team, after: $after) { kind target dueAt occurredAt cursor serviceRequest { id status } }
}
"""
APPROVALS = """
subscription { approvalRequests { id status requiredLevel requestedBy { email } serviceRequest { id } } }
"""
BEGINNING = encode_cursor(STREAM_START)


async def test_sla_alerts_for_staff_with_team_filter_and_resume(
    server_a: LiveApp, org: Org, engine: AsyncEngine, tokens: Tokens, sockets: Sockets
) -> None:
    unrouted = await Builder(engine).request(customer=org.acme)
    agent = tokens.staff("ana@example.com", "AGENT")
    ws = await sockets(server_a.url, agent)
    everything = await ws.subscribe(SLA, {"after": BEGINNING})
    billing = await ws.subscribe(SLA, {"team": gid(org.billing), "after": BEGINNING})
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=12)

    await write_event(engine, org.acme_request, "COMMENTED")  # not an alert
    await write_event(engine, org.acme_request, "SLA_AT_RISK", sla_target="FIRST_RESPONSE", due_at=due)
    await write_event(engine, unrouted, "SLA_BREACHED", sla_target="RESOLUTION", due_at=due)
    await write_event(engine, org.other_request, "SLA_AT_RISK", sla_target="RESOLUTION", due_at=due)

    alerts = await ws.take(everything, "slaAlerts", 3)
    assert [(a["kind"], a["target"], a["serviceRequest"]["id"]) for a in alerts] == [
        ("SLA_AT_RISK", "FIRST_RESPONSE", gid(org.acme_request)),
        ("SLA_BREACHED", "RESOLUTION", gid(unrouted)),
        ("SLA_AT_RISK", "RESOLUTION", gid(org.other_request)),
    ]
    assert datetime.fromisoformat(alerts[0]["dueAt"]) == due
    team_alerts = await ws.take(billing, "slaAlerts", 2)
    assert [a["serviceRequest"]["id"] for a in team_alerts] == [gid(org.acme_request), gid(org.other_request)]
    await ws.silent(everything, 0.3)
    await ws.silent(billing, 0.1)

    # Resume after the first alert: exactly the two later ones.
    again = await sockets(server_a.url, agent)
    resumed = await again.subscribe(SLA, {"after": alerts[0]["cursor"]})
    assert [a["cursor"] for a in await again.take(resumed, "slaAlerts", 2)] == [
        a["cursor"] for a in alerts[1:]
    ]
    await again.silent(resumed, 0.3)


async def test_approval_requests_reach_only_those_who_may_decide(
    server_a: LiveApp, org: Org, engine: AsyncEngine, tokens: Tokens, sockets: Sockets
) -> None:
    b = Builder(engine)
    viewers = {
        "ana": ("ana@example.com", "AGENT"),  # AGENT level; assignee of acme_request
        "sup": ("sup@example.com", "SUPERVISOR"),
        "fin": ("fin@example.com", "FINANCE"),
        "admin": ("admin@example.com", "ADMIN"),
    }
    sockets_by_name = {}
    ops = {}
    for name, (email, role) in viewers.items():
        ws = await sockets(server_a.url, tokens.staff(email, role))
        sockets_by_name[name] = ws
        ops[name] = await ws.subscribe(APPROVALS)
    for name, ws in sockets_by_name.items():
        await ws.silent(ops[name], 0.1)  # live from here on
    on_sups_desk = await b.request(
        customer=org.other, team=org.billing, assignee=org.sup, status="IN_PROGRESS"
    )

    async def requested(request: RequestRow, by: StaffRow, level: str, status: str = "PENDING") -> str:
        approval = await b.approval(request=request, requested_by=by, required_level=level, status=status)
        await write_event(engine, request, "APPROVAL_REQUESTED", approval_id=approval.id)
        return gid(approval)

    by_fin_sup_level = await requested(org.acme_request, org.fin, "SUPERVISOR")
    by_sup_fin_level = await requested(org.acme_request, org.sup, "FINANCE_MANAGER")
    already_decided = await requested(org.acme_request, org.fin, "AGENT", status="APPROVED")
    on_sups_request = await requested(on_sups_desk, org.fin, "AGENT")
    assert already_decided  # delivered to nobody

    expected = {
        # ana: below SUPERVISOR, FINANCE_MANAGER; assignee of acme_request (segregation of duties)
        "ana": [on_sups_request],
        # sup: not FINANCE_MANAGER level, and never on a request assigned to them
        "sup": [by_fin_sup_level],
        # fin: never what they requested
        "fin": [by_sup_fin_level],
        "admin": [by_fin_sup_level, by_sup_fin_level, on_sups_request],
    }
    for name, approvals in expected.items():
        got = await sockets_by_name[name].take(ops[name], "approvalRequests", len(approvals))
        assert [a["id"] for a in got] == approvals, name
        assert all(a["status"] == "PENDING" for a in got)
    for name, ws in sockets_by_name.items():
        await ws.silent(ops[name], 0.3)
