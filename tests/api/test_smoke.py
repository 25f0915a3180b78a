"""Every query-side field resolves for staff on a small world."""

from __future__ import annotations

from tests.api.conftest import Run, World
from tests.support.builders import gid

FULL = """
query($id: ID!) {
  node(id: $id) {
    id
    ... on ServiceRequest {
      number type channel subject description priority status escalated createdAt updatedAt version
      financialImpact { amount currency }
      customer { id name externalRef segment country kycStatus kycReviewedAt creditLimit { amount currency }
                 riskRating paymentTermsDays openBalance { amount currency } contract { number slaTier }
                 paymentBehavior { latePaymentRatio } financialHealth { dscr }
                 invoices(first: 5) { totalCount nodes { number status } }
                 payments { totalCount nodes { reference } }
                 serviceRequests { totalCount } }
      invoice { number issuedOn dueOn amount { amount } outstanding { amount } status disputed
                payments { reference } adjustments { kind } serviceRequests { totalCount edges { cursor } } }
      payment { reference status receivedAt invoice { number } customer { name } amount { amount } }
      team { name openRequests members { name } }
      assignee { name email role approvalLevel teams { name } skills openWorkload }
      sla { state remainingSeconds pausedSeconds breachedAt firstResponseDueAt resolutionDueAt
            firstRespondedAt
            policy { name tier priority firstResponseMinutes resolutionMinutes calendar { name timeZone } } }
      approvals { id } adjustments { id } resolution { code }
      comments { totalCount nodes { body } }
      events { totalCount nodes { kind cursor actorName } }
      availableTransitions { action toStatus }
    }
  }
  viewer { subject roles scopes agent { name } customer { name } }
}
"""


async def test_every_field_resolves_for_staff(run: Run, world: World) -> None:
    result = await run(FULL, world.supervisor_p(), id=gid(world.sr_a))
    assert result.errors == []
    node = result.data["node"]
    assert node["subject"] == "Disputed freight charge"
    assert node["customer"]["openBalance"] == [{"amount": "9850.00", "currency": "USD"}]
    assert node["financialImpact"] == {"amount": "250.00", "currency": "USD"}
    assert node["assignee"]["openWorkload"] == 1
    assert node["sla"]["policy"]["name"] == "Standard Medium"
    assert {"action": "TRIAGE", "toStatus": "TRIAGED"} in node["availableTransitions"]
    assert result.data["viewer"]["agent"]["name"] == "Sam Supervisor"
