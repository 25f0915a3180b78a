"""The cost rules of LIMITS.md, one by one, on the real schema (no database)."""

from __future__ import annotations

from typing import Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, validate

from server.limits.cost import plan_cost
from server.schema import build_schema

SCHEMA = build_schema()._schema


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    document = parse(query)
    assert not validate(SCHEMA, document), "the examples are valid documents"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return plan_cost(SCHEMA, operations[0], fragments).evaluate(variables)


def thirty_aliases() -> str:
    """The document of the incident: 30 aliases of four nested pages of 100."""
    one = (
        "customers(first: 100) { nodes { serviceRequests(first: 100) { nodes {"
        " comments(first: 100) { nodes { id body } } events(first: 100) { nodes { id kind } } } } } }"
    )
    return "{ " + " ".join(f"a{i}: {one}" for i in range(30)) + " }"


def test_scalars_cost_nothing_and_object_fields_one() -> None:
    assert cost("{ __typename }") == 0
    assert cost("{ viewer { subject roles scopes } }") == 1
    assert cost("{ viewer { agent { id name } customer { id } } }") == 3


def test_a_connection_multiplies_what_is_under_it_once_by_first_last_or_twenty() -> None:
    # customers 1 + page x (edges 1 + node 1)
    assert cost("{ customers(first: 5) { edges { cursor node { id name } } } }") == 1 + 5 * 2
    assert cost("{ customers(last: 7) { nodes { id } } }") == 1 + 7 * 1
    assert cost("{ customers { nodes { id } } }") == 1 + 20 * 1
    # pageInfo and totalCount cost 1 each and are not multiplied.
    assert cost("{ customers(first: 5) { totalCount pageInfo { hasNextPage endCursor } } }") == 1 + 1 + 1
    # Objects under the node multiply with the page.
    assert cost("{ serviceRequests(first: 10) { nodes { customer { id } invoice { id } } } }") == 1 + 10 * 3


def test_connections_nest_multiplicatively() -> None:
    query = "{ customers(first: 10) { nodes { serviceRequests(first: 5) { nodes { id } } } } }"
    assert cost(query) == 1 + 10 * (1 + (1 + 5 * 1))


def test_a_plain_list_multiplies_by_ten() -> None:
    assert cost("{ teams { id } }") == 10 * 1
    assert cost("{ teams { members { id } } }") == 10 * (1 + 10 * 1)
    query = "{ serviceRequests(first: 2) { nodes { approvals { id decisions { decision } } } } }"
    assert cost(query) == 1 + 2 * (1 + 10 * (1 + 10 * 1))


def test_nodes_by_ids_multiplies_by_the_number_of_ids() -> None:
    assert cost('{ nodes(ids: ["a", "b", "c"]) { id } }') == 3
    query = "query Q($ids: [ID!]!) { nodes(ids: $ids) { id ... on Customer { invoices { totalCount } } } }"
    assert cost(query, {"ids": ["a", "b"]}) == 2 * (1 + 2)
    assert cost(query, {"ids": ["a"] * 40}) == 40 * 3


def test_fragments_and_aliases_count_wherever_they_are_used() -> None:
    query = """
      query { a: customers(first: 3) { ...Page } b: customers(first: 4) { ...Page } }
      fragment Page on CustomerConnection { nodes { ...Who } pageInfo { hasNextPage } }
      fragment Who on Customer { id serviceRequests(first: 2) { nodes { id } } }
    """
    per_customer = 1 + (1 + 2 * 1)
    assert cost(query) == (1 + 1 + 3 * per_customer) + (1 + 1 + 4 * per_customer)
    inline = '{ node(id: "x") { ... on Customer { invoices(first: 2) { nodes { id } } } } }'
    assert cost(inline) == 1 + (1 + 2 * 1)


def test_page_sizes_from_variables_are_evaluated_per_request() -> None:
    query = (
        "query Q($n: Int, $m: Int = 3)"
        " { customers(first: $n) { nodes { invoices(first: $m) { nodes { id } } } } }"
    )
    assert cost(query, {"n": 10, "m": 2}) == 1 + 10 * (1 + 1 + 2)
    assert cost(query, {"n": 10}) == 1 + 10 * (1 + 1 + 20)  # absent $m: its default, at least the field's 20
    assert cost(query, {}) == 1 + 20 * (1 + 1 + 20)
    assert cost(query, {"n": None, "m": 1}) == 1 + 20 * (1 + 1 + 1)


def test_mutations_and_subscriptions_cost_their_payloads() -> None:
    mutation = (
        'mutation { addComment(input: {serviceRequestId: "x", body: "b", visibility: PUBLIC})'
        " { comment { id } userErrors { field message } } }"
    )
    assert cost(mutation) == 1 + 1 + 10 * 1
    assert cost("subscription { requestEvents { id serviceRequest { id customer { id } } } }") == 3


def test_the_incident_document_costs_millions() -> None:
    per_request = 1 + 2 * (1 + 100)  # node, comments and events pages
    per_customer = 1 + 1 + 100 * per_request  # node, serviceRequests page
    assert cost(thirty_aliases()) == 30 * (1 + 100 * per_customer) == 60_906_030
