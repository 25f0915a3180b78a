"""The caller's mistakes are answered with a coded error naming what was wrong, never a 500.

Each case was a 500 or an uncoded "Internal server error." before: bodies that are not a JSON
object, strings PostgreSQL cannot store, values GraphQL coerced but PostgreSQL rejects,
scalar literals and variables that do not parse, subscriptions over HTTP, several operations
without operationName.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Tokens, bearer
from tests.support.builders import Builder

ADMIN = "admin@example.com"


@pytest.fixture
async def headers(engine: AsyncEngine, tokens: Tokens) -> dict[str, str]:
    b = Builder(engine, now=datetime.now(UTC))
    team = await b.team(name="Customer Service")
    await b.staff(name="Admin", email=ADMIN, role="ADMIN", approval_level="CONTROLLER", teams=[team])
    await b.customer(name="Acme")
    return bearer(tokens.staff(ADMIN))


def _coded(body: dict[str, Any]) -> list[str]:
    """The codes of the response's errors; an error without one fails the test."""
    errors = body.get("errors") or []
    codes = []
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        assert code, f"uncoded error: {error}"
        assert error["message"] != "Internal server error.", error
        codes.append(code)
    return codes


SEARCH = "query($f: ServiceRequestFilter) { serviceRequests(filter: $f) { totalCount } }"


def _filter(literal: str) -> str:
    return "{ serviceRequests(filter: {" + literal + "}) { totalCount } }"


BY_NUMBER = "query($n: String!) { serviceRequestByNumber(number: $n) { id } }"
FIRST = "query($n: Int) { serviceRequests(first: $n) { totalCount } }"
TWO = "query A { viewer { subject } } query B { viewer { roles } }"

BAD_USER_INPUT = [
    # (name, query, variables, text the message must contain)
    ("NUL in search", SEARCH, {"f": {"search": "a\x00b"}}, "search"),
    (
        "NUL in a number",
        "query($n: String!) { serviceRequestByNumber(number: $n) { id } }",
        {"n": "SR-\x00"},
        "number",
    ),
    (
        "Int out of range",
        "query($n: Int) { serviceRequests(first: $n) { totalCount } }",
        {"n": 2147483648},
        "$n",
    ),
    ("bogus enum in a list", SEARCH, {"f": {"status": ["NEW", "BOGUS"]}}, "status"),
    ("Decimal as a JSON number", SEARCH, {"f": {"minFinancialImpact": 12.5}}, "minFinancialImpact"),
    ("Decimal literal abc", _filter('minFinancialImpact: "abc"'), None, "minFinancialImpact"),
    ("Decimal literal NaN", _filter('minFinancialImpact: "NaN"'), None, "minFinancialImpact"),
    ("DateTime literal month 13", _filter('createdAfter: "2026-13-45T00:00:00Z"'), None, "createdAfter"),
    ("DateTime literal without zone", _filter('createdAfter: "2026-11-23T00:00:00"'), None, "createdAfter"),
    ("Decimal PostgreSQL cannot hold", _filter('minFinancialImpact: "1e999999"'), None, "minFinancialImpact"),
    ("year 9999 at -14:00", SEARCH, {"f": {"createdAfter": "9999-12-31T23:00:00-14:00"}}, "createdAfter"),
    ("subscription over HTTP", "subscription { slaAlerts { kind } }", None, "subscription"),
    (
        "two operations, no operationName",
        "query A { viewer { subject } } query B { viewer { roles } }",
        None,
        "operationName",
    ),
]


async def test_bad_input_is_bad_user_input_naming_the_argument(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    wrong = []
    for case, query, variables, names in BAD_USER_INPUT:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        if response.status_code >= 500:
            wrong.append((case, response.status_code, response.text[:200]))
            continue
        body = response.json()
        errors = body.get("errors") or []
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        if codes != {"BAD_USER_INPUT"} or not any(names in e["message"] for e in errors):
            wrong.append((case, response.status_code, body))
    assert wrong == []


async def test_a_minimum_past_what_amounts_hold_is_bad_user_input(
    client: httpx.AsyncClient, headers: dict[str, str], engine: AsyncEngine
) -> None:
    """Amounts are NUMERIC(18,2): a minimum of ±10^40 is refused, naming the argument, whichever
    read path serves the operation (the read planner leaves it to the resolvers)."""
    b = Builder(engine, now=datetime.now(UTC))
    await b.request(customer=await b.customer(name="Bolt"), financial_impact="250")
    for minimum in ("1" + "0" * 40, "-1" + "0" * 40):
        variables = {"f": {"minFinancialImpact": minimum}}
        response = await client.post(
            "/graphql", json={"query": SEARCH, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert _coded(body) == ["BAD_USER_INPUT"], body
        assert "minFinancialImpact" in body["errors"][0]["message"]
    ok = await client.post(
        "/graphql", json={"query": SEARCH, "variables": {"f": {"minFinancialImpact": "100"}}}, headers=headers
    )
    assert ok.json()["data"] == {"serviceRequests": {"totalCount": 1}}


CREATE = """
mutation($input: CreateServiceRequestInput!) {
  createServiceRequest(input: $input) { serviceRequest { id } userErrors { code field message } }
}
"""


async def _customer_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    found = await client.post("/graphql", json={"query": "{ customers { nodes { id } } }"}, headers=headers)
    return str(found.json()["data"]["customers"]["nodes"][0]["id"])


async def test_money_postgresql_cannot_hold_is_validation_failed(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    customer = await _customer_id(client, headers)
    for amount in ("1e400", "1" + "0" * 40, "1e-400", "0.001"):
        response = await client.post(
            "/graphql",
            json={
                "query": CREATE,
                "variables": {
                    "input": {
                        "customerId": customer,
                        "type": "BILLING_DISPUTE",
                        "channel": "EMAIL",
                        "subject": "too much",
                        "description": "x",
                        "financialImpact": {"amount": amount, "currency": "EUR"},
                    }
                },
            },
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert _coded(body) == [], (amount, body)
        payload = body["data"]["createServiceRequest"]
        assert payload["serviceRequest"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("VALIDATION_FAILED", ["input", "financialImpact", "amount"])
        ], amount


async def test_nul_in_a_mutation_string_is_validation_failed(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    customer = await _customer_id(client, headers)
    variables = {
        "input": {
            "customerId": customer,
            "type": "GENERAL_INQUIRY",
            "channel": "EMAIL",
            "subject": "nul \x00 here",
            "description": "x",
        }
    }
    response = await client.post("/graphql", json={"query": CREATE, "variables": variables}, headers=headers)
    assert response.status_code < 500, response.text
    body = response.json()
    codes = _coded(body)
    if codes:
        assert codes == ["BAD_USER_INPUT"] and "subject" in body["errors"][0]["message"]
    else:
        errors = body["data"]["createServiceRequest"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [("VALIDATION_FAILED", ["input", "subject"])]


BODIES = {
    "string": b'"hello"',
    "number": b"42",
    "null": b"null",
    "true": b"true",
    "invalid UTF-8 inside": b'{"query": "{ viewer { subject } }\xff"}',
    "invalid UTF-8 first": b"\xff\xfe{}",
    "truncated": b"{",
}


async def test_a_body_that_is_not_a_json_object_is_400(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    wrong = []
    for case, content in BODIES.items():
        response = await client.post(
            "/graphql", content=content, headers={**headers, "Content-Type": "application/json"}
        )
        if response.status_code != 400 or not response.headers["content-type"].startswith("application/json"):
            wrong.append((case, response.status_code, response.text[:200]))
            continue
        errors = response.json()["errors"]
        if [e["extensions"]["code"] for e in errors] != ["BAD_REQUEST"]:
            wrong.append((case, response.status_code, errors))
    assert wrong == []


@pytest.mark.parametrize(
    ("document", "name"),
    [("{}", None), ("{ viewer {} }", None), ("query Q { viewer { subject } } query R { }", "R")],
)
async def test_an_empty_selection_set_is_a_syntax_error(
    client: httpx.AsyncClient, headers: dict[str, str], document: str, name: str | None
) -> None:
    response = await client.post("/graphql", json={"query": document, "operationName": name}, headers=headers)
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert "GRAPHQL_PARSE_FAILED" in _coded(body)
    assert body.get("data") is None


async def test_an_operation_name_the_document_lacks_is_a_coded_400(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {"query": "query Q { viewer { subject } }", "operationName": "Other"}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 400
    assert _coded(response.json()) == ["BAD_REQUEST"]
    assert "Other" in response.json()["errors"][0]["message"]
