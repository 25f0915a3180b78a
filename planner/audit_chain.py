"""`verifyAuditChain` planned: the chain's verification is the SQL function the resolvers run too
(`cg_audit_verify()`, migration 0016), so both paths answer from one definition."""

from __future__ import annotations

from graphql import FieldNode

from auth.permissions import Capability
from planner.builder import Builder, Unplannable
from planner.objects import typename
from planner.sql import json_bool, json_int, json_object

__all__ = ["verify_audit_chain"]


def verify_audit_chain(b: Builder, nodes: list[FieldNode]) -> str:
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
