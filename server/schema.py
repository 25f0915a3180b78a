"""Assembles the strawberry Schema with its limits, caches and error masking."""

from __future__ import annotations

import functools
import logging

import strawberry
from graphql import ASTValidationRule, GraphQLError, specified_rules
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
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
from schema.errors import CodedError
from schema.scalars import SCALAR_OVERRIDES
from server.operation_record import operation_extension

__all__ = ["MAX_TOKENS", "build_schema", "validation_rules"]

log = logging.getLogger("casegraph.graphql")

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 4000


def _should_mask(error: GraphQLError) -> bool:
    """Hide unexpected exceptions (log them); keep our coded errors and GraphQL's own."""
    original = error.original_error
    if original is None or isinstance(original, CodedError):
        return False
    log.error("unexpected error in %s", error.path, exc_info=original)
    return True


class _MaskErrors(MaskErrors):
    """MaskErrors without its per-result `isinstance` against a runtime-checkable Protocol.

    That check walks the protocol's members on every call; a subscription runs it for every
    event and subscriber (a few percent of the CPU of a fan-out to thousands of sockets).
    """

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


@functools.cache
def _limiter_rules() -> tuple[list[type[ASTValidationRule]], list[type[ASTValidationRule]]]:
    # Each QueryDepthLimiter/MaxAliasesLimiter instance builds a new rule class, and ValidationCache is
    # keyed by the rule classes: made per request, every request missed the cache and was validated
    # again. The rule classes are made once; each request still gets its own extension instances.
    return (
        QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    )


def validation_rules() -> tuple[type[ASTValidationRule], ...]:
    """Every rule the schema validates a document with (GraphQL's own, depth, aliases), for checks
    made before execution (server.limits)."""
    depth_rules, alias_rules = _limiter_rules()
    return (*specified_rules, *depth_rules, *alias_rules)


def build_schema() -> strawberry.Schema:
    """The schema of the Query, Mutation and Subscription roots, with limits, caches and masking."""
    depth_rules, alias_rules = _limiter_rules()
    return strawberry.Schema(
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
            lambda: _MaskErrors(should_mask_error=_should_mask, error_message="Internal server error."),
            # The request log's operation name, type and error codes; spans when tracing is on.
            operation_extension,
        ],
    )
