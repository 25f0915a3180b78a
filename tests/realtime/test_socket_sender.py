"""server.audiences.SocketSender over a real TCP connection: inline writes, a bounded queue behind a
socket that stops reading, and the overflow reported once (the handler then closes the socket)."""

from __future__ import annotations

import asyncio

from server.audiences import SocketSender


async def test_frames_are_written_inline_queued_when_the_peer_stalls_and_overflow_is_reported_once() -> None:
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    peer_reader, peer_writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    _, writer = await accepted.get()

    async def send_text(frame: str) -> None:
        writer.write(frame.encode() + b"\n")
        await writer.drain()

    overflows: list[int] = []
    sender = SocketSender(send_text, lambda: overflows.append(1), limit=5)
    try:
        # A reading peer: every frame goes out inline, nothing waits.
        for i in range(3):
            sender.push(f"small {i}".encode())
            assert not sender.waiting and sender.pending == 0
        for i in range(3):
            assert await peer_reader.readline() == f"small {i}\n".encode()

        # The peer stops reading: once the kernel and transport buffers are full, writes wait
        # and later frames queue, at most `limit` of them; the next one is an overflow.
        big = "x" * 65_536
        pushed = 0
        while not sender.waiting:
            sender.push(f"{pushed} {big}".encode())
            pushed += 1
        for i in range(5):
            sender.push(f"{pushed + i} {big}".encode())
        assert sender.pending == 5 and not overflows
        sender.push(b"one too many")
        sender.push(b"and another")
        assert overflows == [1] and sender.closed and sender.pending == 0

        # What was accepted before the overflow arrives complete and in order.
        received = 0
        async with asyncio.timeout(30):
            while received < pushed:
                line = await peer_reader.readline()
                assert line.split(b" ", 1)[0] == str(received).encode()
                received += 1
    finally:
        sender.cancel()
        peer_writer.close()
        writer.close()
        server.close()
        await server.wait_closed()
