"""linkInboundMail and discardInboundMail: staff decide on mail held as UNMATCHED (EMAIL.md 4)."""

from __future__ import annotations

from dataclasses import dataclass

from db.repositories.configuration import load_rules
from db.repositories.customers import customer_facts
from db.repositories.mail import contact_by_email, insert_contact, lock_inbound, update_inbound
from db.uow import UnitOfWork
from domain.calendar import utc_date
from domain.enums import InboundMailStatus
from domain.errors import DomainError, UserErrorCode, not_found
from records.mail import ContactRow, InboundMailRow
from records.rows import RequestRow
from services.author import Author
from services.mail.inbound import create_from_mail

__all__ = ["LinkSpec", "discard_inbound_mail", "link_inbound_mail"]

REASON_MAX = 2000


@dataclass(frozen=True, slots=True)
class LinkSpec:
    inbound_id: int
    customer_id: int
    create_contact: bool = False


async def _held(uow: UnitOfWork, inbound_id: int) -> InboundMailRow:
    inbound = await lock_inbound(uow.session, inbound_id=inbound_id)
    if inbound is None:
        raise not_found("inbound mail", "inboundMailId")
    if inbound.status != InboundMailStatus.UNMATCHED.value:
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED,
            f"the mail is {inbound.status}, only UNMATCHED mail can be linked or discarded",
            ("input", "inboundMailId"),
        )
    return inbound


async def link_inbound_mail(uow: UnitOfWork, *, spec: LinkSpec, author: Author) -> RequestRow:
    """Create the request the held mail asks for, for `spec.customer_id`, the sender as requester.

    With `create_contact` the sender becomes an active contact of that customer (a contact of
    another customer is refused: a contact belongs to one customer). Without it, an unknown
    sender is recorded as an inactive contact, the requester mail is never sent to.
    """
    inbound = await _held(uow, spec.inbound_id)
    rules = await load_rules(uow.session)
    customer = await customer_facts(
        uow.session, customer_id=spec.customer_id, today=utc_date(uow.now), rules=rules, scope=author.scope
    )
    if customer is None:
        raise not_found("customer", "customerId")
    existing = await contact_by_email(uow.session, email=inbound.from_address)
    requester: ContactRow | None = existing
    if existing is not None and existing.customer_id != spec.customer_id:
        if spec.create_contact:
            raise DomainError(
                UserErrorCode.VALIDATION_FAILED,
                f"{inbound.from_address} is a contact of another customer",
                ("input", "createContact"),
            )
        requester = None
    elif spec.create_contact or existing is None:
        requester = await insert_contact(
            uow.session,
            email=inbound.from_address,
            name=existing.name if existing is not None else None,
            customer_id=spec.customer_id,
            active=spec.create_contact or (existing is not None and existing.active),
        )
        uow.audit(
            "LINK_MAIL", "Contact", requester.id, None, {"email": requester.email, "active": requester.active}
        )
    effect = await create_from_mail(
        uow, inbound=inbound, customer_id=spec.customer_id, requester=requester, author=author
    )
    uow.audit(
        "LINK_MAIL", "InboundMail", inbound.id, {"status": inbound.status}, {"requestId": effect.request.id}
    )
    return effect.request


async def discard_inbound_mail(
    uow: UnitOfWork, *, inbound_id: int, reason: str, author: Author
) -> InboundMailRow:
    """Held mail a person judged worthless: DISCARDED with the reason (kept, never acted upon)."""
    reason = reason.strip()
    if not 0 < len(reason) <= REASON_MAX:
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED,
            f"reason must be 1 to {REASON_MAX} characters",
            ("input", "reason"),
        )
    inbound = await _held(uow, inbound_id)
    await update_inbound(
        uow.session, inbound_id=inbound.id, status=InboundMailStatus.DISCARDED.value, reason=reason
    )
    uow.audit(
        "DISCARD_MAIL",
        "InboundMail",
        inbound.id,
        {"status": inbound.status},
        {"status": "DISCARDED", "reason": reason},
    )
    changed = await lock_inbound(uow.session, inbound_id=inbound.id)
    assert changed is not None
    return changed
