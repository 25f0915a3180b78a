"""Fixtures of the webhook tests: a small organisation, the schema executed in-process with a
webhook policy, a sender on a test-controlled clock, and real HTTP receivers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.principal import Principal
from db.engine import make_sessionmaker
from domain.enums import ApprovalLevel, Role
from records.rows import CustomerRow, RequestRow, TeamRow
from resolvers.context import AppServices, Context
from server.schema import build_schema
from server.webhook_sender import WebhookSender
from services.webhooks.config import WebhookConfig
from tests.support.builders import Builder
from tests.support.graphql import GraphQLResult, partner_principal, staff_principal
from tests.webhooks.support import Clock, Receiver, receiver


@dataclass
class Org:
    acme: CustomerRow  # linked to the partner "erp-connector"
    other: CustomerRow  # linked to no partner
    billing: TeamRow
    acme_request: RequestRow
    acme_request_2: RequestRow
    other_request: RequestRow
    partner_id: int
    other_partner_id: int
    partner: Principal
    other_partner: Principal
    admin: Principal
    agent: Principal


@pytest.fixture
async def org(engine: AsyncEngine) -> Org:
    b = Builder(engine)
    billing = await b.team(name="Billing")
    admin = await b.staff(name="Admin", email="admin@example.com", role="ADMIN", approval_level="CONTROLLER")
    agent = await b.staff(name="Ana", email="ana@example.com", teams=[billing])
    acme = await b.customer(name="Acme", external_ref="C-1001")
    other = await b.customer(name="Other", external_ref="C-2002")
    partner_id = await b.partner(customers=[acme], client_id="erp-connector")
    other_partner_id = await b.partner(customers=[other], client_id="crm-sync")
    return Org(
        acme=acme,
        other=other,
        billing=billing,
        acme_request=await b.request(customer=acme, team=billing, status="IN_PROGRESS"),
        acme_request_2=await b.request(customer=acme, team=billing, status="NEW"),
        other_request=await b.request(customer=other, team=billing, status="NEW"),
        partner_id=partner_id,
        other_partner_id=other_partner_id,
        partner=partner_principal(partner_id, frozenset({acme.id}), subject="erp-connector"),
        other_partner=partner_principal(other_partner_id, frozenset({other.id}), subject="crm-sync"),
        admin=staff_principal(admin.id, admin.email, Role.ADMIN, ApprovalLevel.CONTROLLER),
        agent=staff_principal(agent.id, agent.email, Role.AGENT),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def schema() -> strawberry.Schema:
    return build_schema()


Api = Callable[..., Any]


@pytest.fixture
def api(schema: strawberry.Schema, engine: AsyncEngine, clock: Clock) -> Api:
    """`await api(principal, query, variables, config=...)`: one operation through the real schema."""

    async def run(
        principal: Principal | None,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        config: WebhookConfig | None = None,
    ) -> GraphQLResult:
        services = AppServices(
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            clock=clock,
            webhooks=config or WebhookConfig(allow_private=True),
        )
        ctx = Context(services=services, request=None, principal_or_none=principal)
        result = await schema.execute(query, variable_values=variables, context_value=ctx)
        return GraphQLResult(data=result.data, errors=[e.formatted for e in (result.errors or [])])

    return run


@pytest.fixture
async def sender(engine: AsyncEngine, clock: Clock) -> AsyncIterator[WebhookSender]:
    """A sender driven step by step (`run_once`, `drain`); the jitter draw is the middle (none)."""
    async with WebhookSender(
        make_sessionmaker(engine),
        config=WebhookConfig(allow_private=True),
        clock=clock,
        random=lambda: 0.5,
        timeout=5,
        background=False,  # no loop of its own: the tests step it
    ) as s:
        yield s


@pytest.fixture
async def hooks() -> AsyncIterator[Receiver]:
    async with receiver() as r:
        yield r


CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    endpoint { id url eventKinds enabled disabledReason ownerClientId description }
    secret
    userErrors { code field message }
  }
}
"""


async def create_endpoint(
    api: Api,
    principal: Principal,
    url: str,
    kinds: list[str] | None = None,
    *,
    config: WebhookConfig | None = None,
    **extra: Any,
) -> tuple[str, str]:
    """An endpoint through the mutation; (its ID, its secret)."""
    variables = {"input": {"url": url, "eventKinds": kinds or ["COMMENTED"], **extra}}
    result = await api(principal, CREATE, variables, config=config)
    assert result.errors == [], result.errors
    payload = result.data["createWebhookEndpoint"]  # type: ignore[index]
    assert payload["userErrors"] == [], payload
    return payload["endpoint"]["id"], payload["secret"]


async def step(sender: WebhookSender) -> int:
    """One claim, and every attempt it started sent and recorded; how many were claimed."""
    claimed = await sender.run_once()
    await sender.drain()
    return claimed
