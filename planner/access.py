"""The access class of a caller: what a plan may depend on, never who the caller is.

Two principals with the same roles, scopes and kind of scope get the same
plans; their identities (customer ids, staff id, subject) are parameters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from auth.permissions import Capability, has
from auth.principal import Principal
from domain.enums import ApprovalLevel, Role

__all__ = ["AccessClass", "access_class"]


@dataclass(frozen=True, slots=True)
class AccessClass:
    """The plan-relevant facts of a caller (a plan cache key part)."""

    roles: frozenset[Role]
    capabilities: frozenset[Capability]
    # Row scope: False for staff (every customer), True for CUSTOMER and PARTNER callers.
    scoped: bool
    is_customer: bool
    has_customer_id: bool
    has_staff_id: bool
    # The levels of approvals the caller may decide (approvals' decidableByViewer).
    approval_level: ApprovalLevel | None

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities


@functools.lru_cache(maxsize=4096)
def access_class(principal: Principal) -> AccessClass:
    """The access class of `principal` (principals are immutable, and reused by server.authn)."""
    return AccessClass(
        roles=principal.roles,
        capabilities=frozenset(c for c in Capability if has(principal, c)),
        scoped=principal.customer_ids is not None,
        is_customer=principal.is_customer,
        has_customer_id=principal.customer_id is not None,
        has_staff_id=principal.staff_id is not None,
        approval_level=principal.approval_level,
    )
