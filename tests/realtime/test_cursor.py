"""Cursors: opaque, round-trip exactly, and reject anything not made by encode_cursor."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from records.events import STREAM_START, Cursor, decode_cursor, encode_cursor

_BIGINT = st.integers(min_value=0, max_value=2**63 - 1)


@given(_BIGINT, _BIGINT)
def test_round_trip(txid: int, event_id: int) -> None:
    cursor = Cursor(txid, event_id)
    token = encode_cursor(cursor)
    assert decode_cursor(token) == cursor
    assert token.isascii() and "=" not in token and "/" not in token and "+" not in token


@given(_BIGINT, _BIGINT, _BIGINT, _BIGINT)
def test_order_is_txid_then_id(t1: int, i1: int, t2: int, i2: int) -> None:
    assert (Cursor(t1, i1) < Cursor(t2, i2)) == ((t1, i1) < (t2, i2))


def test_start_is_before_everything() -> None:
    assert decode_cursor(encode_cursor(STREAM_START)) == STREAM_START
    assert Cursor(1, 0) > STREAM_START


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a cursor",
        "@@@@",
        _b64("v2:1:2"),  # unknown version
        _b64("1:2"),  # no version
        _b64("v1:-1:2"),
        _b64("v1:01:2"),  # non-canonical number
        _b64("v1:1"),
        _b64("v1:1:2:3"),
        _b64(f"v1:{2**63}:1"),  # beyond bigint
        _b64("v1:1:2") + "==",  # padded spelling of a valid cursor
        encode_cursor(Cursor(1, 2))[:-1],  # truncated
        "A" * 200,
    ],
)
def test_bad_cursor_raises_value_error(token: str) -> None:
    with pytest.raises(ValueError):
        decode_cursor(token)


def test_non_string_raises_value_error() -> None:
    with pytest.raises(ValueError):
        decode_cursor(12)  # type: ignore[arg-type]
