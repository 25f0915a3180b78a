"""SQL statements per received message, counted in-process: a new request and a reply.

    .venv/bin/python -m bench.mail_statements [--messages 20] [--show]

Seeds the demo organisation (bench.common: private PostgreSQL unless DATABASE_URL is set), then
runs `mail.intake.process_message` (the path of `casegraph mail-intake` after RCPT) on 5 KB
messages from demo contacts to the Customer Service mailbox: new requests, then replies tagged
with their numbers. Every statement SQLAlchemy sends is counted (BEGIN, COMMIT and the pool's
ping are not statements of ours; each is one more round trip per transaction). `--show` prints
the statements of the first message of each kind.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from bench.common import bench_database
from bench.mail_bench import MAILBOX, _message, verified_contacts
from db.engine import make_engine, make_sessionmaker
from mail.intake import process_message
from server.settings import sqlalchemy_url


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    rng = random.Random(7)
    async with bench_database(requests=0) as url:
        engine = make_engine(sqlalchemy_url(url), pool_size=2)
        sessionmaker = make_sessionmaker(engine)
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(" ".join(statement.split()))

        contacts = await verified_contacts(engine)
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        for kind in ("new request", "reply"):
            counts: Counter[int] = Counter()
            for i in range(args.messages):
                sender = contacts[i % len(contacts)]
                subject = f"Question {i}" if kind == "new request" else f"Re: [SR-{i + 1:06d}] more"
                raw = _message(sender, subject, 5000, rng)
                statements.clear()
                outcome = await process_message(
                    sessionmaker, raw, clock=clock, envelope_from=sender, recipients=[MAILBOX]
                )
                counts[len(statements)] += 1
                if args.show and i == 0:
                    print(f"{kind}: {outcome}")
                    for statement in statements:
                        print(f"    {statement[:150]}")
            print(f"{kind}: statements per message {dict(counts)}")
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
