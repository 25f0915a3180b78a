"""Relay global IDs: opaque base64 of "TypeName:pk".

An ID that does not parse is a malformed argument (BAD_USER_INPUT); an ID
that parses but names another type than the one expected is treated as an
entity that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import re

from schema.errors import BadUserInput

__all__ = ["NO_ROW", "decode", "decode_as", "decode_optional_as", "encode", "optional_row_id", "row_id"]

_TEXT = re.compile(r"([A-Z][A-Za-z]{0,63}):(0|[1-9][0-9]{0,18})")
_MAX_BIGINT = 2**63 - 1
# Stands for an ID of another type in a mutation input: no row has it, so the service answers it
# like an unknown one (NOT_FOUND).
NO_ROW = 0


def encode(type_name: str, pk: int) -> str:
    """The global ID of row `pk` of `type_name`."""
    return base64.b64encode(f"{type_name}:{pk}".encode("ascii")).decode("ascii")


def decode(global_id: str) -> tuple[str, int]:
    """(type name, pk) of a global ID; BadUserInput when it is not one of ours."""
    if not isinstance(global_id, str) or not 0 < len(global_id) <= 120:
        raise BadUserInput("invalid ID")
    try:
        text = base64.b64decode(global_id, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"invalid ID {global_id!r}") from None
    match = _TEXT.fullmatch(text)
    if match is None or int(match[2]) > _MAX_BIGINT:
        raise BadUserInput(f"invalid ID {global_id!r}")
    return match[1], int(match[2])


def decode_as(global_id: str, type_name: str) -> int | None:
    """The pk when `global_id` is a `type_name` ID; None for another type (= not found)."""
    kind, pk = decode(global_id)
    return pk if kind == type_name else None


def decode_optional_as(global_id: str | None, type_name: str) -> tuple[int | None, bool]:
    """For optional ID filters: (pk or None, whether the filter can match anything at all)."""
    if global_id is None:
        return None, True
    pk = decode_as(global_id, type_name)
    return pk, pk is not None


def row_id(global_id: str, type_name: str) -> int:
    """The pk of a `type_name` ID for a service input; NO_ROW for an ID of another type."""
    pk = decode_as(global_id, type_name)
    return NO_ROW if pk is None else pk


def optional_row_id(global_id: str | None, type_name: str) -> int | None:
    """`row_id` of an optional ID input (None stays None)."""
    return None if global_id is None else row_id(global_id, type_name)
