"""The SMTP/LMTP server of `casegraph mail-intake` (aiosmtpd), the way list servers take mail from an MTA.

`RCPT TO` an address that is no active mailbox: 550. A message above the size
limit: 552 (aiosmtpd's own check of SIZE and of the DATA stream). DATA is
answered 250 only after `process_message` committed everything the message
caused; any failure before that answers 451, so the MTA keeps the message and
retries (a second delivery of a committed message is a `duplicate`: one effect).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.mail import active_mailbox
from domain.mail import normalise_address
from mail.intake import IntakeLimits, process_message

__all__ = ["IntakeHandler", "start_intake_server"]

log = logging.getLogger("casegraph.mail")


class IntakeHandler:
    """aiosmtpd handler hooks: RCPT checks the mailbox, DATA processes and commits before answering."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime],
        limits: IntakeLimits,
        lmtp: bool = False,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.limits = limits
        self.lmtp = lmtp

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        async with self.sessionmaker() as db:
            # One read, outside a transaction: no BEGIN and no ROLLBACK round trips.
            await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            mailbox = await active_mailbox(db, addresses=[normalise_address(address)])
        if mailbox is None:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        try:
            outcome = await process_message(
                self.sessionmaker,
                raw,
                clock=self.clock,
                envelope_from=envelope.mail_from,
                recipients=[normalise_address(r) for r in envelope.rcpt_tos],
                limits=self.limits,
            )
        except Exception:
            log.exception("mail intake failed; the MTA will retry")
            status = "451 4.3.0 temporary failure, please retry"
        else:
            log.info("mail from %s: %s", envelope.mail_from, outcome)
            status = f"250 2.0.0 {outcome}"
        if self.lmtp:  # one reply per accepted recipient (RFC 2033)
            return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))
        return status


async def start_intake_server(
    handler: IntakeHandler, *, host: str, port: int, max_bytes: int
) -> asyncio.Server:
    """Listen on host:port (0: a free port) in the running loop; `server.sockets` tells the port."""
    protocol: type[SMTP] = LMTP if handler.lmtp else SMTP

    def factory() -> Any:
        return protocol(handler, data_size_limit=max_bytes, enable_SMTPUTF8=True, hostname=host)

    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host=host, port=port)
