"""Real processes: the intake killed between DATA and its answer (the MTA's retry creates the request
once), and two outbound workers on one database (every (event, recipient) mailed once)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import smtplib
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.mail.conftest import BILLING, JANE, SERVICE, MailWorld, Sink, message

CASEGRAPH = os.path.join(os.path.dirname(sys.executable), "casegraph")


@asynccontextmanager
async def casegraph(
    db_url: str, *args: str, ready: str, **env: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`casegraph ARGS` on the test's database until its stderr says `ready`; yields (process, that line)."""
    proc = await asyncio.create_subprocess_exec(
        CASEGRAPH,
        *args,
        env={**os.environ, "DATABASE_URL": db_url, "CASEGRAPH_ENV": "test", **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        while True:
            line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
            assert line, "casegraph exited before it was ready"
            if ready in line:
                break
        yield proc, line
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def send(port: int, raw: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        smtp.mail(JANE)
        smtp.rcpt(BILLING)
        return smtp.data(raw)


async def test_intake_killed_before_answering_then_the_retry_creates_once(
    mail_world: MailWorld, db_url: str, engine: AsyncEngine
) -> None:
    raw = message(subject="Crash me").as_bytes()
    async with casegraph(db_url, "mail-intake", "--port", "0", ready="listening on") as (proc, line):
        port = int(re.findall(r":(\d+)$", line.strip())[0])
        # Hold the intake's first write: the message is received, nothing is committed yet.
        async with engine.connect() as blocker:
            await blocker.execute(text("BEGIN"))
            await blocker.execute(text("LOCK TABLE inbound_mails IN SHARE ROW EXCLUSIVE MODE"))
            attempt = asyncio.ensure_future(asyncio.to_thread(send, port, raw))
            for _ in range(300):
                # pg_stat_activity is a snapshot per transaction: clear it to see the intake wait.
                await blocker.execute(text("SELECT pg_stat_clear_snapshot()"))
                waiting = await blocker.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                )
                if waiting.scalar_one():
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the intake never reached its write")
            proc.kill()  # no 250 was sent: the MTA keeps the message
            await proc.wait()
            try:
                await attempt
                raise AssertionError("the dead intake answered")
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                pass
            await blocker.execute(text("ROLLBACK"))
    assert (await mail_world.one("SELECT count(*) FROM inbound_mails"))[0] == 0

    # The MTA retries against the restarted intake, and (unsure of the outcome) once more.
    async with casegraph(db_url, "mail-intake", "--port", "0", ready="listening on") as (_, line):
        port = int(re.findall(r":(\d+)$", line.strip())[0])
        first = await asyncio.to_thread(send, port, raw)
        second = await asyncio.to_thread(send, port, raw)
    assert first[0] == second[0] == 250
    assert first[1].decode().startswith("2.0.0 created SR-")
    assert second[1].decode().startswith("2.0.0 duplicate <")
    assert (await mail_world.one("SELECT count(*) FROM service_requests"))[0] == 1


async def test_two_outbound_workers_send_each_mail_once(
    mail_world: MailWorld, db_url: str, sink: Sink
) -> None:
    env = {"SMTP_URL": f"smtp://127.0.0.1:{sink.port}", "MAIL_DOMAIN": "casegraph.example"}
    async with (
        casegraph(db_url, "mail-outbound", "--interval", "0.05", ready="worker running", **env),
        casegraph(db_url, "mail-outbound", "--interval", "0.05", ready="worker running", **env),
    ):
        numbers = []
        for i in range(12):
            created = await mail_world.deliver(message(to=SERVICE, subject=f"Request {i}"))
            numbers.append(created.detail)
        for _ in range(400):
            if len(sink.received) >= len(numbers):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # time for a second copy, were there one
    subjects = Counter(
        re.search(rb"Subject: \[(SR-\d+)\]", raw).group(1).decode()  # type: ignore[union-attr]
        for _, _, raw in sink.received
    )
    assert subjects == Counter(dict.fromkeys(numbers, 1))
    rows = await mail_world.all("SELECT status, count(*) FROM outbound_mails GROUP BY status")
    assert [tuple(r) for r in rows] == [("SENT", 12)]
