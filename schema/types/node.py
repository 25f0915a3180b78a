"""The Node interface: every object with a global ID (resolvers.nodes resolves them)."""

from __future__ import annotations

import strawberry

import schema.enums  # noqa: F401 - registers the domain enums as GraphQL enums before any type uses them

__all__ = ["Node"]


@strawberry.interface
class Node:
    id: strawberry.ID
