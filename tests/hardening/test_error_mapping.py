"""What each kind of failure becomes for the caller (server.error_mapping.classify)."""

from __future__ import annotations

import asyncpg
from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError, OperationalError

from schema.errors import Forbidden
from server.error_mapping import classify
from telemetry.outage import DatabaseOutage


def _code(error: GraphQLError) -> str:
    return str((error.extensions or {})["code"])


def test_a_refused_connection_is_service_unavailable_and_starts_one_outage() -> None:
    outage = DatabaseOutage()
    refused = OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connect call failed"))
    for _ in range(3):
        error = classify(GraphQLError("boom", path=["teams"], original_error=refused), outage)
        assert _code(error) == "SERVICE_UNAVAILABLE" and "boom" not in error.message
    assert outage.ongoing
    outage.recovered()
    assert not outage.ongoing


def test_a_value_postgresql_refused_is_bad_user_input() -> None:
    driver = DBAPIError("SELECT", {}, asyncpg.exceptions.DataError("invalid input for query argument $1"))
    error = classify(GraphQLError("x", path=["serviceRequests"], original_error=driver))
    assert _code(error) == "BAD_USER_INPUT" and error.message.startswith("serviceRequests:")


def test_coded_errors_pass_and_bugs_are_masked_with_a_code() -> None:
    forbidden = Forbidden("not allowed: teams")
    located = GraphQLError(forbidden.message, path=["teams"], original_error=forbidden)
    assert classify(located) is located
    bug = classify(GraphQLError("secret", path=["teams"], original_error=RuntimeError("secret")))
    assert (bug.message, _code(bug)) == ("Internal server error.", "INTERNAL_SERVER_ERROR")
    unknown_field = classify(GraphQLError("Cannot query field 'nope' on type 'Query'."))
    assert _code(unknown_field) == "GRAPHQL_VALIDATION_FAILED"
