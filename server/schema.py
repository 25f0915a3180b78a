"""Assembles the strawberry Schema with its limits, caches and error masking."""

from __future__ import annotations

import functools
import logging

import strawberry
from graphql import ASTValidationRule, GraphQLError, ValidationContext, specified_rules
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from resolvers.mutation import Mutation
from resolvers.query import Query
from resolvers.subscription import Subscription
from schema.scalars import SCALAR_OVERRIDES
from server.error_mapping import CodedErrors, CodingSchema
from server.input_guard import InputGuard
from server.operation_record import operation_extension

__all__ = ["MAX_TOKENS", "build_schema", "validation_rules"]

log = logging.getLogger("casegraph.graphql")

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 4000


@functools.cache
def _limiter_rules() -> tuple[list[type[ASTValidationRule]], list[type[ASTValidationRule]]]:
    # Each QueryDepthLimiter/MaxAliasesLimiter instance builds a new rule class, and ValidationCache is
    # keyed by the rule classes: made per request, every request missed the cache and was validated
    # again. The rule classes are made once; each request still gets its own extension instances.
    return (
        [_measuring_empty_sets(rule) for rule in QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules],
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    )


def _measuring_empty_sets(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """The depth rule, answering a selection set with no selection (`{}`: not GraphQL, yet
    graphql-core parses it) with the syntax error it is, instead of failing to measure it."""

    class DepthOfNonEmptySets(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            try:
                super().__init__(context)
            except ValueError:
                ASTValidationRule.__init__(self, context)
                context.report_error(
                    GraphQLError(
                        "Syntax Error: Expected Name, found '}' (a selection set selects a field).",
                        extensions={"code": "GRAPHQL_PARSE_FAILED"},
                    )
                )

    return DepthOfNonEmptySets


def validation_rules() -> tuple[type[ASTValidationRule], ...]:
    """Every rule the schema validates a document with (GraphQL's own, depth, aliases), for checks
    made before execution (server.limits)."""
    depth_rules, alias_rules = _limiter_rules()
    return (*specified_rules, *depth_rules, *alias_rules)


def build_schema() -> strawberry.Schema:
    """The schema of the Query, Mutation and Subscription roots, with limits, caches and masking."""
    depth_rules, alias_rules = _limiter_rules()
    return CodingSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        scalar_overrides=SCALAR_OVERRIDES,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            lambda: AddValidationRules(depth_rules),
            lambda: AddValidationRules(alias_rules),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            # Every error coded, the caller's mistakes named (server.error_mapping); some refused
            # before they run (server.input_guard).
            CodedErrors,
            InputGuard,
            # The request log's operation name, type and error codes; spans when tracing is on.
            operation_extension,
        ],
    )
