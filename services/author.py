"""Who performs a business operation: a token's principal, or the system (SLA engine, auto-close)."""

from __future__ import annotations

from dataclasses import dataclass

from auth.principal import Principal
from db.queries.scope import CustomerScope
from db.uow import ChangeActor
from domain.enums import Role
from domain.lifecycle import SYSTEM_ACTOR, Actor

__all__ = ["Author"]


@dataclass(frozen=True, slots=True)
class Author:
    """The caller of a service: what the rules ask of them and what the change records."""

    subject: str
    name: str
    role: Role | None  # None: the system, which writes no comments
    staff_id: int | None
    principal: Principal | None

    @classmethod
    def of(cls, principal: Principal) -> Author:
        # Staff rows have exactly one role; CUSTOMER and PARTNER tokens carry exactly one too.
        role = min(principal.roles, key=lambda r: r.value) if principal.roles else None
        return cls(principal.subject, principal.display_name, role, principal.staff_id, principal)

    @classmethod
    def system(cls) -> Author:
        return cls("system", "system", None, None, None)

    @property
    def recorded_as(self) -> ChangeActor:
        """Who the events and audit entries of the change name."""
        return ChangeActor(subject=self.subject, name=self.name, staff_id=self.staff_id)

    @property
    def scope(self) -> CustomerScope:
        """The customers whose requests exist for the author (None: all). The services look rows
        up within it in SQL, like every read, so a request outside it is NOT_FOUND."""
        return None if self.principal is None else self.principal.customer_ids

    @property
    def actor(self) -> Actor:
        """The lifecycle's view of this author, acting on a request found within their scope."""
        principal = self.principal
        if principal is None:
            return SYSTEM_ACTOR
        return Actor(roles=principal.roles, staff_id=principal.staff_id)
