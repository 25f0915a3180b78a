"""Admission: whether an operation may run, decided before it touches the database (LIMITS.md).

`Limits.admit` is the one step every execution path takes before it runs an
operation (the HTTP view, the WebSocket handler, any planned fast path): it resolves
a persisted query, applies trusted documents, computes the document's cost (cached
per text, evaluated for the request's variables), refuses it above QUERY_COST_LIMIT,
and charges the principal's budget. Its `Admission` carries the `extensions.cost` of
the response. `Limits.admit_now` takes the same step without a coroutine when nothing
must be waited for (a document seen before, points this process holds: most requests)
and hands back a coroutine otherwise (a hash to look up, points to take from the
store). Documents that do not parse or validate, and operations of a type the
transport does not allow, are admitted uncharged: the executor reports their errors,
and a refused operation takes no points.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Collection, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode
from graphql.execution.values import get_variable_values
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.principal import Principal
from db.repositories import limits as limits_repo
from domain.enums import Role
from domain.rules import DEFAULT_RULES, RateLimitRules, parse_rules
from server.limits.documents import DocumentAnalyser, PersistedDocuments, Unknown
from server.limits.errors import QUERY_TOO_COMPLEX, RATE_LIMITED, CostReport, Refusal
from server.limits.rate import Budgets, RateLimited, principal_key
from server.limits.subscriptions import SubscriptionSlots

__all__ = ["ALL_OPERATION_TYPES", "Admission", "Limits", "OperationRequest", "RoleBudgets"]

ALL_OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})
RULES_TTL_SECONDS = 30.0
MAX_PRINCIPALS = 10_000  # principals whose budget is remembered by object


@dataclass(slots=True)
class OperationRequest:
    """One GraphQL request as sent: its text or a persisted-query hash in `extensions`."""

    query: str | None
    variables: Mapping[str, Any] | None = None
    operation_name: str | None = None
    extensions: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Admission:
    """An admitted operation: the text to run and, when charged, its parsed, valid document."""

    query: str | None
    cost: CostReport | None  # None when limits are off
    charged: bool = False
    document: DocumentNode | None = None
    operation: OperationDefinitionNode | None = None

    def extensions(self) -> dict[str, Any] | None:
        """The response's top-level `extensions` (`cost`), or None when limits are off."""
        return None if self.cost is None else {"cost": self.cost.as_dict()}


class RoleBudgets:
    """Points per minute of a principal: RATE_LIMIT_POINTS, or its role's override (business rules)."""

    def __init__(self, engine: AsyncEngine, *, default: int) -> None:
        self.engine = engine
        self.default = default
        self._rules: RateLimitRules = DEFAULT_RULES.rate_limits
        self._by_roles: dict[frozenset[Role], int] = {}
        # By principal object (one per token for a while), by id: no frozenset of roles compared.
        self._by_principal: dict[int, tuple[Principal, int]] = {}
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()

    async def points_for(self, principal: Principal) -> int:
        points = self.points_now(principal)
        if points is None:
            async with self._lock:
                if time.monotonic() - self._loaded_at > RULES_TTL_SECONDS:
                    stored = await limits_repo.rate_limit_rules(self.engine)
                    rows = {} if stored is None else {"rate_limits": stored}
                    self._rules = parse_rules(rows).rate_limits
                    self._by_roles = {}
                    self._by_principal = {}
                    self._loaded_at = time.monotonic()
            points = self._points(principal)
        return points

    def points_now(self, principal: Principal) -> int | None:
        """`points_for` without waiting; None when the rules are due to be read again."""
        if time.monotonic() - self._loaded_at > RULES_TTL_SECONDS:
            return None
        known = self._by_principal.get(id(principal))
        if known is not None and known[0] is principal:
            return known[1]
        return self._points(principal)

    def _points(self, principal: Principal) -> int:
        points = self._by_roles.get(principal.roles)
        if points is None:
            points = self._rules.points_per_minute(principal.roles, self.default)
            self._by_roles[principal.roles] = points
        if len(self._by_principal) >= MAX_PRINCIPALS:
            self._by_principal = {}
        self._by_principal[id(principal)] = (principal, points)
        return points


class Limits:
    """The limits of one server process (cost, budgets, trusted documents, subscription slots)."""

    def __init__(
        self,
        *,
        schema: GraphQLSchema,
        analyser: DocumentAnalyser,
        documents: PersistedDocuments,
        budgets: Budgets,
        slots: SubscriptionSlots,
        client_authentications: SlidingWindowCounterRateLimiter,
        cost_limit: int,
        enabled: bool = True,
    ) -> None:
        self.schema = schema
        # Failed client authentications at /oauth/token (server.limits.oauth).
        self.client_authentications = client_authentications
        self.analyser = analyser
        self.documents = documents
        self.budgets = budgets
        self.slots = slots
        self.cost_limit = cost_limit
        self.enabled = enabled

    async def admit(
        self,
        request: OperationRequest,
        principal: Principal,
        *,
        operation_types: Collection[str] = ALL_OPERATION_TYPES,
    ) -> Admission:
        """Admit, charge and describe one operation; raises Refusal when it may not run."""
        admission = self.admit_now(request, principal, operation_types=operation_types)
        return admission if isinstance(admission, Admission) else await admission

    def admit_now(
        self,
        request: OperationRequest,
        principal: Principal,
        *,
        operation_types: Collection[str] = ALL_OPERATION_TYPES,
    ) -> Admission | Coroutine[Any, Any, Admission]:
        """`admit` without a coroutine when nothing must be waited for (a known document, points
        held by this process): the Admission, else a coroutine that finishes admitting."""
        if request.operation_name is not None and not isinstance(request.operation_name, str):
            raise Refusal("BAD_REQUEST", "operationName must be a string or null", status=400)
        text = self.documents.resolve_now(request.query, request.extensions, principal)
        if isinstance(text, Unknown):
            return self._admit_resolving(request, principal, operation_types)
        return self._admit_text(text, request, principal, operation_types)

    async def _admit_resolving(
        self, request: OperationRequest, principal: Principal, operation_types: Collection[str]
    ) -> Admission:
        text = await self.documents.resolve(request.query, request.extensions, principal)
        admission = self._admit_text(text, request, principal, operation_types)
        return admission if isinstance(admission, Admission) else await admission

    def _admit_text(
        self,
        text: str | None,
        request: OperationRequest,
        principal: Principal,
        operation_types: Collection[str],
    ) -> Admission | Coroutine[Any, Any, Admission]:
        if not self.enabled:
            return Admission(text, None)
        if text is None:
            return Admission(None, CostReport(0, self.cost_limit))
        analysed = self.analyser.analyse(text)
        name = request.operation_name
        prepared = analysed.prepared.get(name) or analysed.prepare(name)
        operation = prepared.operation
        if operation is None:
            return Admission(text, CostReport(0, self.cost_limit))
        requested = prepared.cost if prepared.cost is not None else prepared.plan.evaluate(request.variables)
        if requested > self.cost_limit:
            raise Refusal(
                QUERY_TOO_COMPLEX,
                f"the operation's cost, {requested:,}, exceeds the limit of {self.cost_limit:,}",
                status=None,
                cost=CostReport(requested, self.cost_limit),
            )
        valid = analysed.valid if analysed.valid is not None else self.analyser.is_valid(analysed)
        if not valid or prepared.kind not in operation_types:
            return Admission(text, CostReport(requested, self.cost_limit))
        if operation.variable_definitions and isinstance(
            get_variable_values(
                self.schema, operation.variable_definitions, dict(request.variables or {}), 1
            ),
            list,
        ):
            return Admission(text, CostReport(requested, self.cost_limit))  # bad variables: not run
        state = self.budgets.spend_now(principal, requested)
        if state is None:
            return self._charge(text, analysed.document, operation, principal, requested)
        return Admission(
            text,
            CostReport(requested, self.cost_limit, state.remaining, state.reset_at),
            True,
            analysed.document,
            operation,
        )

    async def _charge(
        self,
        text: str,
        document: DocumentNode | None,
        operation: OperationDefinitionNode,
        principal: Principal,
        requested: int,
    ) -> Admission:
        """The admission of an operation whose points must be taken from the shared store."""
        try:
            state = await self.budgets.spend(principal, requested)
        except RateLimited as exc:
            raise Refusal(
                RATE_LIMITED,
                f"rate limit exceeded: {requested:,} points asked, {exc.state.remaining:,} left; "
                f"retry in {exc.retry_after} s",
                status=429,
                cost=CostReport(requested, self.cost_limit, exc.state.remaining, exc.state.reset_at),
                retry_after=exc.retry_after,
            ) from exc
        report = CostReport(
            requested,
            self.cost_limit,
            None if state is None else state.remaining,
            None if state is None else state.reset_at,
        )
        return Admission(text, report, True, document, operation)

    async def take_subscription_slot(self, principal: Principal) -> str | None:
        """A lease for one more live subscription of this principal; Refusal when it has none left."""
        if not self.enabled:
            return None
        lease = await self.slots.take(principal_key(principal))
        if lease is None:
            raise Refusal(
                RATE_LIMITED,
                f"at most {self.slots.per_principal} live subscriptions per caller",
                status=429,
            )
        return lease

    async def give_back_subscription_slot(self, lease: str | None) -> None:
        if lease is not None:
            await self.slots.give_back(lease)
