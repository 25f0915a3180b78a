"""The email channel's throughput: inbound messages/s through `casegraph mail-intake`, outbound mails/s.

    .venv/bin/python -m bench.mail_bench [--messages 800] [--senders 8] [--size 5000]

Seeds the demo organisation (bench.common: private PostgreSQL unless
DATABASE_URL is set), starts `casegraph mail-intake` as one process and sends
`--messages` real SMTP messages of ~`--size` bytes from `--senders`
concurrent aiosmtplib clients (one connection each): half new requests from
demo contacts to the Customer Service mailbox, half replies tagged with the
number of a request created in a warm-up round. Each message's latency is
taken from the DATA command to the server's 250, which intake only answers
once everything the message caused is committed (so it is DATA to commit).
Then the outbound worker (in this process) plans and sends every pending
acknowledgement to a local aiosmtpd sink, and mails/s is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import bench_database, percentile
from db.engine import make_engine, make_sessionmaker
from mail.sender import MailWorker, SmtpTarget
from server.settings import sqlalchemy_url
from services.mail.outbound import MailSettings

MAILBOX = "customer-service@casegraph.example"
_WORDS = "invoice payment statement account balance remittance credit please check thanks regards".split()  # noqa: SIM905


def _body(size: int, rng: random.Random) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(_WORDS))
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    return "\n".join(lines) + "\n"


def _message(sender: str, subject: str, size: int, rng: random.Random) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="bench.example")
    msg.set_content(_body(size, rng))
    return msg.as_bytes()


async def verified_contacts(engine: AsyncEngine) -> list[str]:
    """The addresses a mail may come from and open a request (active contacts of KYC-verified customers)."""
    async with engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT c.email FROM contacts c JOIN customers k ON k.id = c.customer_id "
                "WHERE c.active AND k.kyc_status = 'VERIFIED' ORDER BY c.email"
            )
        )
        return list(result.scalars())


async def _start_intake(url: str) -> tuple[asyncio.subprocess.Process, int]:
    casegraph = os.path.join(os.path.dirname(sys.executable), "casegraph")
    proc = await asyncio.create_subprocess_exec(
        casegraph,
        "mail-intake",
        "--port",
        "0",
        env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    while True:
        line = (await proc.stderr.readline()).decode()
        if not line:
            raise RuntimeError("mail-intake exited")
        if "listening on" in line:
            return proc, int(re.findall(r":(\d+)$", line.strip())[0])


async def _sender(
    port: int, queue: asyncio.Queue[tuple[str, bytes]], latencies: list[float], outcomes: Counter[str]
) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=120)
    await client.connect()
    try:
        while True:
            try:
                sender, raw = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await client.mail(sender)
            await client.rcpt(MAILBOX)
            began = time.perf_counter()
            code, reply = await client.data(raw)
            latencies.append(time.perf_counter() - began)
            outcomes[f"{code} {reply.split()[1] if len(reply.split()) > 1 else reply}"] += 1
    finally:
        await client.quit()


async def _round(
    port: int, items: list[tuple[str, bytes]], senders: int
) -> tuple[float, list[float], Counter[str]]:
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    began = time.perf_counter()
    await asyncio.gather(*(_sender(port, queue, latencies, outcomes) for _ in range(senders)))
    return time.perf_counter() - began, sorted(latencies), outcomes


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _backends(engine: AsyncEngine) -> dict[int, float]:
    """CPU seconds so far of the database's other backends (the intake's), by pid."""
    async with engine.connect() as conn:
        pids = (
            await conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        ).scalars()
        return {int(pid): _cpu_seconds(int(pid)) for pid in pids}


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=800)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--size", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(7)
    async with bench_database(requests=0) as url:
        engine = make_engine(sqlalchemy_url(url), pool_size=4)
        contacts = await verified_contacts(engine)
        proc, port = await _start_intake(url)
        try:
            half = args.messages // 2
            warm = [(c, _message(c, f"Warm-up {i}", args.size, rng)) for i, c in enumerate(contacts)]
            await _round(port, warm, args.senders)
            async with engine.connect() as conn:
                threads = (
                    await conn.execute(
                        text(
                            "SELECT c.email, r.number FROM service_requests r "
                            "JOIN contacts c ON c.id = r.requester_contact_id ORDER BY r.id"
                        )
                    )
                ).all()
            items = [
                (c, _message(c, f"Question {i}", args.size, rng))
                for i, c in enumerate(rng.choices(contacts, k=half))
            ]
            for i, (email, number) in enumerate(rng.choices(threads, k=args.messages - half)):
                items.append((email, _message(email, f"Re: [{number}] follow-up {i}", args.size, rng)))
            rng.shuffle(items)
            # CPU per message of each party (a busy machine shares its cores: what bounds us).
            intake_cpu, own_cpu, backends = (
                _cpu_seconds(proc.pid),
                time.process_time(),
                await _backends(engine),
            )
            seconds, latencies, outcomes = await _round(port, items, args.senders)
            intake_cpu = _cpu_seconds(proc.pid) - intake_cpu
            own_cpu = time.process_time() - own_cpu
            after = await _backends(engine)
            pg_cpu = sum(cpu - backends.get(pid, 0.0) for pid, cpu in after.items())
        finally:
            proc.terminate()
            await proc.wait()
        print(
            f"inbound: {len(items)} messages ({args.size} B text, {args.senders} senders, one mail-intake "
            f"process) in {seconds:.2f} s = {len(items) / seconds:.1f} messages/s; DATA->commit "
            f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms; "
            f"outcomes {dict(outcomes)}"
        )
        per = 1000 / len(items)
        print(
            f"CPU per message: mail-intake {intake_cpu * per:.1f} ms, "
            f"PostgreSQL backends {pg_cpu * per:.1f} ms, SMTP senders (this process) {own_cpu * per:.1f} ms; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )

        sink = _Sink()
        server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(sink, hostname="sink"), host="127.0.0.1", port=0
        )
        sink_port = server.sockets[0].getsockname()[1]
        worker = MailWorker(
            make_sessionmaker(engine),
            clock=lambda: datetime.now(UTC),
            settings=MailSettings(
                mail_from="casegraph@casegraph.example", mail_domain="casegraph.example", deliver=True
            ),
            smtp=SmtpTarget("127.0.0.1", sink_port, None, None, False, False),
            batch=100,
        )
        began = time.perf_counter()
        planned = 0
        while True:
            written = await worker.plan_once()
            planned += written
            if not written and not await worker.send_once():
                break
            while await worker.send_once():
                pass
        seconds = time.perf_counter() - began
        print(
            f"outbound: {planned} mails planned and {sink.count} sent to a local sink in {seconds:.2f} s = "
            f"{sink.count / seconds:.1f} mails/s (one worker, batches of 100 over one SMTP connection each)"
        )
        server.close()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
