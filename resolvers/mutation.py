"""Mutation root: one mutation per business action (LIFECYCLE.md)."""

from __future__ import annotations

from strawberry.tools import merge_types

from resolvers.mutations.finance import FinanceMutations
from resolvers.mutations.mail import MailMutations
from resolvers.mutations.requests import RequestMutations
from resolvers.mutations.webhooks import WebhookMutations

__all__ = ["Mutation"]

Mutation = merge_types("Mutation", (RequestMutations, FinanceMutations, MailMutations, WebhookMutations))
