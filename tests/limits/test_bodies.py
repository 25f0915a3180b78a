"""Request bodies: 1 MB at most, refused while being read; batches refused with a clear message."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Message

from tests.conftest import bearer
from tests.limits.conftest import VIEWER, AppFactory, People, post


async def test_a_declared_body_past_one_megabyte_is_413(app_with: AppFactory, people: People) -> None:
    async with app_with() as (_, client):
        comment = "#" + "x" * 1_000_000 + "\n"
        response = await client.post(
            "/graphql",
            content=orjson.dumps({"query": comment + VIEWER}),
            headers={**bearer(people.admin), "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert "larger than 1,000,000 bytes" in response.json()["errors"][0]["message"]
        # Just under the limit is served (the comment is parsed and ignored).
        fits = "#" + "x" * 900_000 + "\n"
        ok = await post(client, people.admin, {"query": fits + VIEWER})
        assert ok.status_code == 200, ok.text[:200]


async def test_a_streamed_body_is_refused_before_it_is_read_whole(
    app_with: AppFactory, people: People
) -> None:
    """Chunked upload without Content-Length: 413 once 1 MB arrived; the rest is never asked for."""
    async with app_with() as (app, client):
        await post(client, people.admin, {"query": VIEWER})  # token verified and cached
        chunk = b" " * 65_536
        chunks_total = 100  # 6.5 MB offered
        asked = 0
        sent: list[Message] = []

        async def receive() -> Message:
            nonlocal asked
            asked += 1
            return {"type": "http.request", "body": chunk, "more_body": asked < chunks_total}

        async def send(message: Message) -> None:
            sent.append(message)

        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"authorization", f"Bearer {people.admin}".encode()),
            ],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        await app(scope, receive, send)
        assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
        assert asked == 1_000_000 // len(chunk) + 1  # stopped at the first chunk past the limit


async def test_batched_bodies_are_refused_with_a_clear_message(app_with: AppFactory, people: People) -> None:
    async with app_with() as (_, client):
        response = await client.post(
            "/graphql", json=[{"query": VIEWER}, {"query": VIEWER}], headers=bearer(people.admin)
        )
        assert response.status_code == 400
        assert "batched operations" in response.json()["errors"][0]["message"]
