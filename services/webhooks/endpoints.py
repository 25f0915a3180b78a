"""Managing webhook endpoints (WEBHOOKS.md): a partner its own, an ADMIN every one.

Each operation runs in the caller's unit of work, looks the endpoint up within
what the author manages (another partner's is NOT_FOUND), and records an audit
entry. Secrets are returned once, in clear, and stored sealed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db.events import current_head, fetch_after
from db.repositories import webhooks as repo
from db.uow import UnitOfWork
from domain.enums import RequestEventKind, Role
from domain.errors import DomainError, UserErrorCode, not_found
from domain.webhooks import ROTATION_OVERLAP, new_secret
from records.events import Cursor
from records.webhooks import WebhookDeliveryRow, WebhookEndpointRow
from services.author import Author
from services.webhooks.config import WebhookConfig, check_destination
from services.webhooks.owner import event_comments, event_visible, owner_principal
from services.webhooks.secrets import seal_secret

__all__ = [
    "EndpointChange",
    "EndpointSpec",
    "create_endpoint",
    "delete_endpoint",
    "redeliver",
    "rotate_secret",
    "send_test",
    "update_endpoint",
]

_MAX_DESCRIPTION = 500
_REPLAY_PAGE = 1000


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    url: str
    event_kinds: Sequence[RequestEventKind]
    description: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """`updateWebhookEndpoint`: None leaves a field as it is."""

    url: str | None = None
    event_kinds: Sequence[RequestEventKind] | None = None
    enabled: bool | None = None


def _owner(author: Author) -> int | None:
    """The partner an author manages endpoints for; None: an ADMIN, who manages all."""
    principal = author.principal
    if principal is None or not (principal.is_partner or Role.ADMIN in principal.roles):
        raise PermissionError("only a partner or an ADMIN manages webhook endpoints")
    return principal.partner_id if principal.is_partner else None


def _kinds(kinds: Sequence[RequestEventKind]) -> list[str]:
    if not kinds:
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED, "eventKinds must name at least one kind", ("input", "eventKinds")
        )
    return sorted({RequestEventKind(k).value for k in kinds})


async def _locked(uow: UnitOfWork, author: Author, endpoint_id: int) -> WebhookEndpointRow:
    row = await repo.lock_endpoint(uow.session, endpoint_id=endpoint_id, owner=repo.owned_by(_owner(author)))
    if row is None:
        raise not_found("webhook endpoint", "id")
    return row


def _audited(row: WebhookEndpointRow) -> dict[str, object]:
    return {
        "url": row.url,
        "eventKinds": list(row.event_kinds),
        "enabled": row.enabled,
        "disabledReason": row.disabled_reason,
    }


async def create_endpoint(
    uow: UnitOfWork, *, author: Author, config: WebhookConfig, spec: EndpointSpec
) -> tuple[WebhookEndpointRow, str]:
    """A new endpoint owned by the author's partner (or by no one: ADMIN), and its secret."""
    owner = _owner(author)
    kinds = _kinds(spec.event_kinds)
    destination = await check_destination(config, spec.url)
    description = (spec.description or "").strip() or None
    if description is not None and len(description) > _MAX_DESCRIPTION:
        raise DomainError(
            UserErrorCode.VALIDATION_FAILED,
            f"description is longer than {_MAX_DESCRIPTION} characters",
            ("input", "description"),
        )
    head = await current_head(uow.session)
    row = await repo.insert_endpoint(
        uow.session,
        values={
            "url": destination.url,
            "description": description,
            "event_kinds": kinds,
            "owner_partner_id": owner,
            "created_at": uow.now,
            "created_txid": head.txid,
            "secret": "",
        },
    )
    secret = new_secret()
    await repo.update_endpoint(
        uow.session,
        endpoint_id=row.id,
        values={"secret": seal_secret(config.vault, endpoint_id=row.id, secret=secret)},
    )
    uow.audit("webhook_endpoint.create", "WebhookEndpoint", row.id, None, _audited(row))
    return row, secret


async def update_endpoint(
    uow: UnitOfWork, *, author: Author, config: WebhookConfig, endpoint_id: int, change: EndpointChange
) -> WebhookEndpointRow:
    """Change the URL, the kinds, or enable/disable it (re-enabling starts a clean failure record)."""
    before = await _locked(uow, author, endpoint_id)
    values: dict[str, object] = {}
    if change.url is not None:
        values["url"] = (await check_destination(config, change.url)).url
    if change.event_kinds is not None:
        values["event_kinds"] = _kinds(change.event_kinds)
    if change.enabled is not None and change.enabled != before.enabled:
        values["enabled"] = change.enabled
        values["failing_since"] = None
        values["disabled_reason"] = None if change.enabled else f"disabled by {author.subject}"
    if not values:
        return before
    row = await repo.update_endpoint(uow.session, endpoint_id=endpoint_id, values=values)
    uow.audit("webhook_endpoint.update", "WebhookEndpoint", row.id, _audited(before), _audited(row))
    return row


async def rotate_secret(
    uow: UnitOfWork, *, author: Author, config: WebhookConfig, endpoint_id: int
) -> tuple[WebhookEndpointRow, str]:
    """A new secret; the current one keeps signing beside it for 24 hours."""
    row = await _locked(uow, author, endpoint_id)
    sealed = await repo.endpoint_secrets(uow.session, endpoint_ids=[endpoint_id])
    secret = new_secret()
    await repo.update_endpoint(
        uow.session,
        endpoint_id=endpoint_id,
        values={
            "secret": seal_secret(config.vault, endpoint_id=endpoint_id, secret=secret),
            "previous_secret": sealed[endpoint_id].secret,
            "previous_secret_until": uow.now + ROTATION_OVERLAP,
        },
    )
    uow.audit("webhook_endpoint.rotate_secret", "WebhookEndpoint", endpoint_id, None, None)
    return row, secret


async def delete_endpoint(uow: UnitOfWork, *, author: Author, endpoint_id: int) -> int:
    """Delete the endpoint and its delivery log; its id."""
    row = await _locked(uow, author, endpoint_id)
    await repo.delete_endpoint(uow.session, endpoint_id=endpoint_id)
    uow.audit("webhook_endpoint.delete", "WebhookEndpoint", endpoint_id, _audited(row), None)
    return endpoint_id


async def send_test(uow: UnitOfWork, *, author: Author, endpoint_id: int) -> WebhookDeliveryRow:
    """Queue a PING for the endpoint, due now."""
    row = await _locked(uow, author, endpoint_id)
    if not row.enabled:
        raise DomainError(UserErrorCode.VALIDATION_FAILED, "the endpoint is disabled", ("input", "id"))
    return await repo.insert_ping(uow.session, endpoint_id=endpoint_id, now=uow.now)


async def redeliver(uow: UnitOfWork, *, author: Author, endpoint_id: int, after: Cursor | None) -> int:
    """Queue again, with their original webhook-id, the events after `after` (or since the
    endpoint was created) that it would have received; how many.

    The events are read as `requestEvents` replays them (db.events.fetch_after, narrowed to
    the owner's customers) and each is checked with the same rule (auth.event_access).
    """
    row = await _locked(uow, author, endpoint_id)
    principal = await owner_principal(uow.session, owner_partner_id=row.owner_partner_id)
    if principal is None:
        return 0
    position = after if after is not None else Cursor(row.created_txid, 0)
    queued = 0
    while True:
        batch = await fetch_after(
            uow.session,
            after=position,
            limit=_REPLAY_PAGE,
            kinds=list(row.event_kinds),
            customer_ids=principal.customer_ids,
        )
        if not batch:
            break
        comments = await event_comments(uow.session, batch)
        chosen = [
            (event.id, event.request_id, event.txid)
            for event in batch
            if await event_visible(principal, event, comments)
        ]
        queued += await repo.requeue_events(uow.session, endpoint_id=endpoint_id, events=chosen, now=uow.now)
        position = batch[-1].cursor
    if queued:
        uow.audit("webhook_endpoint.redeliver", "WebhookEndpoint", endpoint_id, None, {"queued": queued})
    return queued
