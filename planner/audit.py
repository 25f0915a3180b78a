"""The audit trail as SQL: `auditLog` and its AuditEntry (LIFECYCLE.md §6).

The same rules as resolvers.reads.audit: READ_AUDIT (ADMIN, AUDITOR) or FORBIDDEN, answered by
the resolver path before any SQL; newest first (db.queries.audit.AUDIT_ORDER), optionally of one
entity under every spelling its type is recorded with (db.queries.audit.entity_type_names); an
`entityId` that is no global ID is the resolver path's BAD_USER_INPUT. `before` and `after` are
written by `cg_json` (migration 0017) as orjson writes what the resolver path decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from graphql import FieldNode

from auth.permissions import Capability
from db.queries.audit import AUDIT_ORDER, entity_type_names
from planner.builder import Binding, Builder, Unplannable
from planner.connections import Listing, compile_connection
from planner.objects import Handler, _datetime, _id, _int, _text, compile_object, typename
from planner.sql import REFUSED, json_bool, json_int, json_object, json_text

__all__ = ["HANDLERS", "ROOT_FIELDS", "TABLES"]

TABLES = {"AuditEntry": "audit_entries"}

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()


def _entity(supply: Callable[[Binding], dict[str, Any]], binding: Binding) -> tuple[str, int] | None:
    from schema import ids
    from schema.errors import BadUserInput

    memo = binding.arguments.setdefault(("auditLog", id(supply)), {})
    if "entity" not in memo:
        try:
            memo["entity"] = ids.decode(supply(binding)["entityId"])
        except BadUserInput:
            memo["entity"] = None
    return memo["entity"]  # type: ignore[no-any-return]


def _entity_check(supply: Callable[[Binding], dict[str, Any]], binding: Binding) -> str | None:
    return "bad_id" if _entity(supply, binding) is None else None


def _entity_types(supply: Callable[[Binding], dict[str, Any]], binding: Binding) -> list[str]:
    found = _entity(supply, binding)
    assert found is not None
    return entity_type_names(found[0])


def _entity_pk(supply: Callable[[Binding], dict[str, Any]], binding: Binding) -> str:
    found = _entity(supply, binding)
    assert found is not None
    return str(found[1])


def _audit_log(b: Builder, nodes: list[FieldNode]) -> str:
    """auditLog(entityId:): db.queries.audit's selection, newest first."""
    if not b.access.can(Capability.READ_AUDIT):
        raise Unplannable("forbidden", Capability.READ_AUDIT.value)
    definition = b.field_definition("Query", "auditLog")
    args = b.arguments(definition, nodes[0])
    supply = b.argument_supplier(definition, nodes[0])
    conditions: list[str] = []
    if args.get("entityId") is not None:
        b.check(partial(_entity_check, supply))
        names = b.param(partial(_entity_types, supply), "text[]")
        pk = b.param(partial(_entity_pk, supply), "text")
        conditions = [f"xrq.entity_type = ANY({names})", f"xrq.entity_id = {pk}"]
    listing = Listing(
        "audit_entries",
        "AuditEntry",
        AUDIT_ORDER,
        lambda a: [c.replace("xrq.", f"{a}.") for c in conditions],
    )
    return compile_connection(
        b,
        nodes,
        definition,
        "AuditEntryConnection",
        listing,
        lambda row, n: compile_object(b, "AuditEntry", row, n),
    )


def _ascii_capitalized(part: str) -> str:
    """str.capitalize of ASCII text, whatever the database's locale."""
    first = f"translate(left({part}, 1), '{_LOWER}', '{_UPPER}')"
    return f"{first} || translate(substr({part}, 2), '{_UPPER}', '{_LOWER}')"


def _entity_id(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """schema.types.audit._entity_gid: the entity's global ID when its id is a number and its type
    (snake_case made CamelCase) starts with a capital, else the id as recorded. What only Python
    decides exactly (non-ASCII text, numbers beyond a bigint, IDs long enough for PostgreSQL's
    base64 to wrap) is left to the resolver path."""
    kind, key = f"{row}.entity_type", f"{row}.entity_id"
    camel = (
        f"(SELECT coalesce(string_agg({_ascii_capitalized('u.part')}, '' ORDER BY u.n), '') "
        f"FROM unnest(string_to_array({kind}, '_')) WITH ORDINALITY AS u(part, n))"
    )
    name = f"CASE WHEN strpos({kind}, '_') > 0 THEN {camel} ELSE {kind} END"
    ascii_ = f"octet_length({kind}) = char_length({kind}) AND octet_length({key}) = char_length({key})"
    return (
        f"(SELECT CASE WHEN NOT ({ascii_}) THEN {REFUSED} "
        f"WHEN {key} !~ '^[0-9]+$' OR g.name !~ '^[A-Z]' THEN {json_text(key)} "
        f"WHEN {key} !~ '^[0-9]{{1,18}}$' OR length(g.name) > 36 THEN {REFUSED} "
        f"ELSE cg_global_id(g.name, {key}::bigint) END FROM (SELECT {name} AS name) g)"
    )


def _json(column: str) -> Handler:
    return lambda b, row, nodes: f"cg_json({row}.{column})"


HANDLERS: dict[str, dict[str, Handler]] = {
    "AuditEntry": {
        "id": _id("AuditEntry", "sequence"),
        "sequence": _int("sequence"),
        "occurredAt": _datetime("occurred_at"),
        "actorSubject": _text("actor_subject"),
        "action": _text("action"),
        "entityType": _text("entity_type"),
        "entityId": _entity_id,
        "before": _json("before"),
        "after": _json("after"),
        "hash": _text("hash"),
        "previousHash": _text("previous_hash"),
    },
}


def _verify_audit_chain(b: Builder, nodes: list[FieldNode]) -> str:
    """verifyAuditChain: the SQL function the resolvers run too (`cg_audit_verify()`, migration
    0016), so both paths answer from one definition."""
    if not b.access.can(Capability.READ_AUDIT):
        raise Unplannable("forbidden", Capability.READ_AUDIT.value)  # the resolvers say FORBIDDEN
    v = b.alias("v")
    columns = {
        "valid": json_bool(f"{v}.valid"),
        "checkedEntries": json_int(f"{v}.checked_entries"),
        "firstInvalidSequence": json_int(f"{v}.first_invalid_sequence"),
        "__typename": typename("AuditVerification"),
    }
    members = []
    for key, fields in b.collect("AuditVerification", nodes).items():
        name = fields[0].name.value
        if name not in columns:
            raise Unplannable("unsupported_field", f"AuditVerification.{name}")
        members.append((key, columns[name]))
    return f"(SELECT {json_object(members)} FROM cg_audit_verify() AS {v})"


ROOT_FIELDS = {"auditLog": _audit_log, "verifyAuditChain": _verify_audit_chain}
