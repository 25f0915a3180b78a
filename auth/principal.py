"""The authenticated caller, as every layer sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.enums import ApprovalLevel, Role

__all__ = ["Principal"]

STAFF_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.FINANCE, Role.ADMIN, Role.AUDITOR})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what their token allows.

    `customer_ids` is the set of customers whose data the caller may see:
    None means all (staff); CUSTOMER callers see their own, PARTNER callers
    their linked customers.
    """

    subject: str
    roles: frozenset[Role]
    # Scopes granted by the token (already intersected with what the roles allow).
    scopes: frozenset[str]
    expires_at: datetime
    name: str | None = None
    staff_id: int | None = None
    approval_level: ApprovalLevel | None = None
    customer_id: int | None = None
    partner_id: int | None = None
    customer_ids: frozenset[int] | None = field(default=None)

    @property
    def is_staff(self) -> bool:
        return self.staff_id is not None

    @property
    def is_customer(self) -> bool:
        return Role.CUSTOMER in self.roles

    @property
    def is_partner(self) -> bool:
        return Role.PARTNER in self.roles

    @property
    def display_name(self) -> str:
        return self.name or self.subject

    def sees_customer(self, customer_id: int) -> bool:
        return self.customer_ids is None or customer_id in self.customer_ids
