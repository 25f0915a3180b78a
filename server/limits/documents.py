"""Documents before they run: parse, validation and cost plan once per text; persisted queries.

- `DocumentAnalyser` keeps, per document text, what admission needs: the parsed
  document, a cost plan per operation and whether it is valid (the schema's own
  rules); a cached document costs a dictionary look-up.
- `PersistedDocuments` resolves Apollo's automatic persisted queries
  (`extensions.persistedQuery.sha256Hash`) from the trusted-documents registry
  (`casegraph documents register`) and from the texts this process has been sent
  with their hash, and applies `TRUSTED_DOCUMENTS=public`: CUSTOMER and PARTNER
  callers run registered documents only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cachetools import LRUCache, TTLCache
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.schema.schema import validate_document

from auth.principal import Principal
from db.repositories import limits as limits_repo
from server.limits.cost import CostPlan, plan_cost
from server.limits.errors import PERSISTED_QUERY_NOT_FOUND, Refusal

__all__ = [
    "AnalysedDocument",
    "DocumentAnalyser",
    "PersistedDocuments",
    "PreparedOperation",
    "Unknown",
    "sha256_hex",
]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class AnalysedDocument:
    """One document text as admission sees it; `document` None when it does not parse.

    Validity is found out on first need (`DocumentAnalyser.is_valid`): a document refused for
    its cost is never validated, which for a large one is most of the work.
    """

    text: str
    document: DocumentNode | None
    operations: Mapping[str | None, OperationDefinitionNode] = field(default_factory=dict)
    plans: Mapping[str | None, CostPlan] = field(default_factory=dict)
    valid: bool | None = None
    # What admission needs per operation name requested (`prepare`).
    prepared: dict[str | None, PreparedOperation] = field(default_factory=dict)

    def operation_named(self, name: str | None) -> tuple[OperationDefinitionNode, CostPlan] | None:
        """The operation a request selects (its name; the only one when unnamed), with its plan."""
        if name:
            key: str | None = name
        elif len(self.operations) == 1:
            key = next(iter(self.operations))
        else:
            return None
        operation = self.operations.get(key)
        return None if operation is None else (operation, self.plans[key])

    def prepare(self, name: str | None) -> PreparedOperation:
        """The operation a request naming `name` selects, as admission needs it (kept in `prepared`)."""
        prepared = self.prepared.get(name)
        if prepared is None:
            selected = self.operation_named(name)
            if selected is None:
                prepared = PreparedOperation(None, CostPlan(0), 0, "")
            else:
                operation, plan = selected
                cost = None if plan.terms else plan.constant
                prepared = PreparedOperation(operation, plan, cost, operation.operation.value)
            self.prepared[name] = prepared
        return prepared


@dataclass(frozen=True, slots=True)
class PreparedOperation:
    """What admission needs of one operation of a document, found once per text and name."""

    operation: OperationDefinitionNode | None  # None: the request selects no operation
    plan: CostPlan
    cost: int | None  # the plan's cost when no variable changes it
    kind: str  # query, mutation or subscription


class DocumentAnalyser:
    """Parse, plan the cost of and validate documents, once per distinct text."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        rules: tuple[type[ASTValidationRule], ...],
        max_tokens: int,
        maxsize: int = 1024,
    ) -> None:
        self.schema = schema
        self.rules = rules
        self.max_tokens = max_tokens
        self.maxsize = maxsize
        # Oldest out first (a plain dict: the look-up is on every request; an LRU's bookkeeping
        # cost more than re-analysing the rare document that comes back after eviction).
        self._cache: dict[str, AnalysedDocument] = {}

    def analyse(self, text: str) -> AnalysedDocument:
        cached = self._cache.get(text)
        if cached is None:
            if len(self._cache) >= self.maxsize:
                del self._cache[next(iter(self._cache))]
            cached = self._cache[text] = self._analyse(text)
        return cached

    def is_valid(self, analysed: AnalysedDocument) -> bool:
        """Whether the document passes the schema's validation rules (checked once)."""
        if analysed.valid is None:
            analysed.valid = analysed.document is not None and not validate_document(
                self.schema, analysed.document, self.rules
            )
        return analysed.valid

    def _analyse(self, text: str) -> AnalysedDocument:
        try:
            # Without locations: the executor parses on its own and reports errors with them.
            document = parse(text, max_tokens=self.max_tokens, no_location=True)
        except GraphQLError:
            return AnalysedDocument(text, None, valid=False)
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        operations = {
            (d.name.value if d.name else None): d
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        }
        plans = {name: plan_cost(self.schema, op, fragments) for name, op in operations.items()}
        return AnalysedDocument(text, document, operations, plans)


@dataclass(frozen=True, slots=True)
class Unknown:
    """A hash the trusted-documents registry must be asked about (`PersistedDocuments.resolve_now`)."""

    sha: str


def _not_found() -> Refusal:
    # Apollo clients look for this message (and code) to retry with the full text.
    return Refusal(PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound", status=400)


def persisted_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The SHA-256 of `extensions.persistedQuery` (Apollo APQ, version 1), or None when absent."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    sha = persisted.get("sha256Hash") if isinstance(persisted, Mapping) else None
    if not isinstance(sha, str) or not _SHA256.match(sha.lower()) or persisted.get("version", 1) != 1:
        raise Refusal(
            "BAD_REQUEST",
            "extensions.persistedQuery needs version 1 and a sha256Hash of 64 hex digits",
            status=400,
        )
    return sha.lower()


class PersistedDocuments:
    """Document texts by hash: the trusted registry, then what this process was sent (APQ)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        mode: Literal["off", "public"],
        hash_of: Callable[[str], str] = sha256_hex,
    ) -> None:
        self.engine = engine
        self.mode = mode
        self.hash_of = hash_of
        # A hash names one text for ever: registered texts stay cached; misses are asked again soon,
        # so a document registered while the server runs is found within seconds.
        self._registered: LRUCache[str, str] = LRUCache(maxsize=10_000)
        self._unregistered: TTLCache[str, bool] = TTLCache(maxsize=10_000, ttl=2)
        self._automatic: LRUCache[str, str] = LRUCache(maxsize=2_000)
        self._hashes: LRUCache[str, str] = LRUCache(maxsize=2_000)

    def restricted(self, principal: Principal) -> bool:
        """May this caller run only registered documents?"""
        return self.mode == "public" and not principal.is_staff

    def resolve_now(
        self, query: str | None, extensions: Mapping[str, Any] | None, principal: Principal
    ) -> str | Unknown | None:
        """`resolve` from what this process holds: the text to run (None: the request has none),
        Refusal, or `Unknown(sha)` when the registry must be asked about that hash first."""
        if not extensions and (self.mode == "off" or principal.is_staff):
            return query or None  # no hash, nothing to check: most requests
        sha = persisted_hash(extensions)
        restricted = self.restricted(principal)
        if query:
            if sha is not None and self._hash(query) != sha:
                raise Refusal("BAD_REQUEST", "provided sha256Hash does not match the query", status=400)
            if restricted:
                registered = self.registered_now(sha or self._hash(query))
                if registered is None:
                    raise _not_found()
                if isinstance(registered, Unknown):
                    return registered
            elif sha is not None:
                self._automatic[sha] = query
            return query
        if sha is None:
            return None
        text = None if restricted else self._automatic.get(sha)
        if text is None:
            registered = self.registered_now(sha)
            if isinstance(registered, Unknown):
                return registered
            text = registered
        if text is None:
            raise _not_found()
        return text

    async def resolve(
        self, query: str | None, extensions: Mapping[str, Any] | None, principal: Principal
    ) -> str | None:
        """The text to run (None: the request has none); Refusal for an unknown or untrusted document."""
        resolved = self.resolve_now(query, extensions, principal)
        while isinstance(resolved, Unknown):
            await self.registered(resolved.sha)  # now known (registered or not) for a while
            resolved = self.resolve_now(query, extensions, principal)
        return resolved

    def registered_now(self, sha: str) -> str | Unknown | None:
        """The registered document with this hash as far as this process knows (Unknown: ask)."""
        text = self._registered.get(sha)
        if text is not None or sha in self._unregistered:
            return text
        return Unknown(sha)

    async def registered(self, sha: str) -> str | None:
        """The registered document with this hash, if any."""
        text = self.registered_now(sha)
        if not isinstance(text, Unknown):
            return text
        async with self.engine.connect() as conn:
            text = await limits_repo.trusted_document(conn, sha256=sha)
        if text is None:
            self._unregistered[sha] = True
        else:
            self._registered[sha] = text
        return text

    def _hash(self, query: str) -> str:
        sha = self._hashes.get(query)
        if sha is None:
            sha = self._hashes[query] = self.hash_of(query)
        return sha
