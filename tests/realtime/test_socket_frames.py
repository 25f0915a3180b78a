"""server.socket_frames on a real uvicorn connection: pushed frames written straight to the socket
arrive whole and in order, flow control still queues behind a stalled peer, and a connection
with compression negotiated goes through ASGI instead. server.socket_expiry: one timer for all."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from server.audiences import SocketSender
from server.socket_expiry import SocketExpiries
from server.socket_frames import (
    PROTOCOL_KEY,
    CaptureSocketProtocol,
    DirectFrames,
    forget_handshake,
    text_frame,
)
from tests.support.live import serving_asgi

SIZES = (0, 1, 125, 126, 65_535, 65_536, 200_000)


@pytest.mark.parametrize("size", SIZES)
def test_text_frame_is_the_frame_websockets_parses(size: int) -> None:
    payload = ("é" * size).encode()[:size]
    reader = StreamReader()
    reader.feed_data(text_frame(payload))
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame = done.value.value
    assert (frame.opcode, frame.fin, bytes(frame.data)) == (Opcode.TEXT, True, payload)


class _Pusher:
    """An ASGI app: accept, then push what the test asks through a SocketSender, then close."""

    def __init__(self) -> None:
        self.ready: asyncio.Future[tuple[SocketSender, DirectFrames | None, Any]] = asyncio.Future()
        self.done = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        forget_handshake(scope)
        direct = DirectFrames.of(scope.get(PROTOCOL_KEY))

        async def send_text(text: str) -> None:
            await send({"type": "websocket.send", "text": text})

        overflows: list[int] = []
        sender = SocketSender(send_text, lambda: overflows.append(1), limit=5, direct=direct)
        self.ready.set_result((sender, direct, overflows))
        await self.done.wait()
        sender.cancel()
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": 1000})


@contextlib.asynccontextmanager
async def _serving(app: _Pusher, *, deflate: bool) -> AsyncIterator[str]:
    served = serving_asgi(
        CaptureSocketProtocol(app), lifespan="off", ws="websockets-sansio", ws_per_message_deflate=deflate
    )
    try:
        async with served as url:
            yield url.replace("http://", "ws://") + "/"
    finally:
        app.done.set()  # the app closes its socket, so the server can stop


async def test_pushed_frames_go_straight_to_the_socket_whole_and_in_order() -> None:
    app = _Pusher()
    async with _serving(app, deflate=False) as url, connect(url, compression=None) as ws:
        sender, direct, _ = await asyncio.wait_for(app.ready, 10)
        assert direct is not None
        sent = [f"{size}:".encode() + b"x" * size for size in SIZES]
        for payload in sent:
            sender.push(payload, text_frame(payload) if len(payload) % 2 else None)
            assert not sender.waiting  # a reading peer takes every frame at once
        received = [await asyncio.wait_for(ws.recv(decode=False), 10) for _ in sent]
        assert received == sent
        app.done.set()


async def test_a_stalled_peer_pauses_direct_writes_and_the_queue_overflows_once() -> None:
    app = _Pusher()
    async with _serving(app, deflate=False) as url, connect(url, compression=None, max_queue=1) as ws:
        sender, direct, overflows = await asyncio.wait_for(app.ready, 10)
        assert direct is not None
        big = b"y" * 65_536
        ws.transport.pause_reading()  # the peer stops reading
        pushed = 0
        while not sender.waiting:
            sender.push(str(pushed).encode() + b" " + big)
            pushed += 1
            if pushed % 16 == 0:
                await asyncio.sleep(0)  # let the transport report its full buffer
        assert not direct.write(text_frame(b"late"))  # paused: not written around the queue
        for i in range(5):
            sender.push(f"{pushed + i} ".encode() + big)
        assert sender.pending == 5 and not overflows
        sender.push(b"one too many")
        sender.push(b"and another")
        assert overflows == [1] and sender.closed
        ws.transport.resume_reading()
        for i in range(pushed):  # what was accepted before the overflow arrives whole, in order
            message = await asyncio.wait_for(ws.recv(decode=True), 30)
            assert isinstance(message, str) and message.split(" ", 1)[0] == str(i)
        app.done.set()


async def test_a_connection_with_compression_is_sent_through_asgi() -> None:
    app = _Pusher()
    async with _serving(app, deflate=True) as url, connect(url, compression="deflate") as ws:
        sender, direct, _ = await asyncio.wait_for(app.ready, 10)
        assert direct is None  # compressed frames differ per socket
        sender.push(b'{"compressed":true}', text_frame(b"never written as such"))
        assert await asyncio.wait_for(ws.recv(), 10) == '{"compressed":true}'
        app.done.set()


async def test_one_timer_closes_every_socket_at_its_own_instant() -> None:
    fired: list[tuple[str, float]] = []

    async def on_expiry(target: str) -> None:
        fired.append((target, time.monotonic()))

    expiries = SocketExpiries(on_expiry)
    began = time.monotonic()
    expiries.add(0.20, "c")
    expiries.add(0.05, "a")
    gone = expiries.add(0.10, "cancelled")
    expiries.add(0.12, "b")
    expiries.add(-1.0, "already expired")
    gone.cancel()
    assert len(expiries) == 4
    await asyncio.sleep(0.4)
    assert [name for name, _ in fired] == ["already expired", "a", "b", "c"]
    offsets = dict((name, at - began) for name, at in fired)
    for name, due in (("a", 0.05), ("b", 0.12), ("c", 0.20)):
        assert due - 0.002 <= offsets[name] < due + 0.1
    assert len(expiries) == 0

    # Sockets that come and go: ended ones are forgotten, the live ones still close on time.
    fired.clear()
    entries = [expiries.add(0.05 if i % 10 == 0 else 3600, f"s{i}") for i in range(2_000)]
    for i, entry in enumerate(entries):
        if i % 10:
            entry.cancel()
            entry.cancel()  # twice: still one socket fewer
    assert len(expiries) == 200
    await asyncio.sleep(0.2)
    assert sorted(name for name, _ in fired) == sorted(f"s{i}" for i in range(0, 2_000, 10))
    assert len(expiries) == 0
    expiries.close()
