"""bench.http_client's response parser: whole, split and chunked responses, keep-alive leftovers."""

from __future__ import annotations

from bench.http_client import _parse


def test_content_length_response_is_complete_only_with_its_whole_body() -> None:
    response = b'HTTP/1.1 200 OK\r\ncontent-length: 11\r\ncontent-type: application/json\r\n\r\n{"data":{}}'
    for cut in (10, len(response) - 1):
        assert _parse(bytearray(response[:cut])) is None
    buffer = bytearray(response + b"HTTP/1.1 200")  # the next response's first bytes stay unread
    assert _parse(buffer) == (200, b'{"data":{}}', len(response))


def test_chunked_response_is_decoded() -> None:
    head = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
    response = head + b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    assert _parse(bytearray(response[:-2])) is None
    assert _parse(bytearray(response)) == (400, b'{"a":1}', len(response))
