"""Persisted-documents manifests (`casegraph documents register MANIFEST.json`).

The manifest is what the SDK's build writes (graphql-codegen's persisted documents):
one JSON object mapping the SHA-256 of each document (hex) to the document's text.
Every entry is checked before anything is stored: the hash must be the text's, and
the document must be valid against the running code's schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from graphql import GraphQLError, GraphQLSchema, parse
from strawberry.schema.schema import validate_document

from server.limits.documents import sha256_hex
from server.schema import MAX_TOKENS, validation_rules

__all__ = ["ManifestError", "read_manifest"]


class ManifestError(ValueError):
    """The manifest cannot be registered; the message names the entry."""


def read_manifest(raw: str, schema: GraphQLSchema) -> dict[str, str]:
    """The manifest's documents by hash, each checked; ManifestError for the first bad entry."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ManifestError("a manifest is one JSON object: SHA-256 (hex) -> document")
    documents: dict[str, str] = {}
    for sha, text in data.items():
        if not isinstance(text, str):
            raise ManifestError(f"{sha}: the document must be a string")
        if sha != sha256_hex(text):
            raise ManifestError(f"{sha}: not the SHA-256 of its document (the manifest must use sha256)")
        try:
            document = parse(text, max_tokens=MAX_TOKENS)
        except GraphQLError as exc:
            raise ManifestError(f"{sha}: {exc.message}") from exc
        errors = validate_document(schema, document, validation_rules())
        if errors:
            raise ManifestError(f"{sha}: {errors[0].message}")
        documents[sha] = text
    return documents
