"""The email channel's rules (EMAIL.md) as pure functions: what a received message is, what it names.

No I/O: the channel (mail/) parses MIME and hands these functions header
values and text; the services act on the answers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = [
    "DESCRIPTION_MAX",
    "LOOP_HEADER",
    "NO_SUBJECT",
    "SUBJECT_MAX",
    "MailFacts",
    "amounts_in",
    "dmarc_failed",
    "invoice_numbers_in",
    "loop_reason",
    "normalise_address",
    "request_number_in",
    "safe_filename",
    "thread_subject",
]

SUBJECT_MAX = 200
DESCRIPTION_MAX = 10_000
NO_SUBJECT = "(no subject)"
LOOP_HEADER = "X-Casegraph-Loop"

_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})
_DAEMONS = frozenset({"mailer-daemon", "postmaster"})
_REQUEST_TAG = re.compile(r"\[(SR-\d{6,})\]")
_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
# "9,850.00", "9850.00", "9.850,00" is not supported: amounts are read in the English notation.
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"


@dataclass(frozen=True, slots=True)
class MailFacts:
    """What the rules need of one message's headers (names lower-cased, values decoded)."""

    headers: Mapping[str, str]
    envelope_from: str | None  # the SMTP MAIL FROM (return path); "" for the null sender
    sender: str  # the From address, lower-cased

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "").strip()


def normalise_address(address: str) -> str:
    """Addresses are compared case-insensitively (EMAIL.md): the stored form is lower case."""
    return address.strip().strip("<>").strip().lower()


def loop_reason(facts: MailFacts, *, is_delivery_report: bool) -> str | None:
    """Why a message is loop, bulk or bounce mail (never acted upon, never answered), or None."""
    if facts.header(LOOP_HEADER):
        return "loop: our own X-Casegraph-Loop header"
    if is_delivery_report:
        return "bounce: delivery status report"
    auto = facts.header("auto-submitted").lower()
    if auto and auto != "no":
        return f"auto-submitted: {auto}"
    precedence = facts.header("precedence").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"precedence: {precedence}"
    if facts.header("list-id"):
        return "mailing list: List-Id"
    if facts.envelope_from is not None and facts.envelope_from.strip("<> ") == "":
        return "empty return path"
    local = facts.sender.partition("@")[0]
    if local in _DAEMONS:
        return f"sender is {local}"
    return None


def dmarc_failed(authentication_results: Iterable[str]) -> bool:
    """The receiving MTA's Authentication-Results say dmarc=fail."""
    return any(re.search(r"\bdmarc\s*=\s*fail\b", value, re.IGNORECASE) for value in authentication_results)


def request_number_in(subject: str) -> str | None:
    """The request a subject names with its tag (`[SR-000123]`), if any."""
    match = _REQUEST_TAG.search(subject)
    return match.group(1) if match else None


def thread_subject(number: str, subject: str) -> str:
    """`[SR-000123] subject`, the tag once, for every mail in a request's thread."""
    cleaned = " ".join(_REQUEST_TAG.sub("", subject).split())
    return f"[{number}] {cleaned}" if cleaned else f"[{number}]"


def invoice_numbers_in(text: str, numbers: Iterable[str]) -> list[str]:
    """The invoice numbers (of one customer) that appear in `text` as whole words, longest first."""
    found = []
    for number in sorted(set(numbers), key=lambda n: (-len(n), n)):
        if re.search(rf"(?<![\w-]){re.escape(number)}(?![\w-])", text, re.IGNORECASE):
            found.append(number)
    return found


def amounts_in(text: str, currency: str) -> list[Decimal]:
    """Distinct amounts in `currency` the text states: `USD 9,850.00`, `9850.00 USD`, `$9,850.00`."""
    code = re.escape(currency)
    patterns = [rf"\b{code}\s?({_NUMBER})\b", rf"(?<![\d.,])({_NUMBER})\s?{code}\b"]
    patterns += [
        rf"{re.escape(symbol)}\s?({_NUMBER})\b" for symbol, c in _CURRENCY_SYMBOLS.items() if c == currency
    ]
    amounts: list[Decimal] = []
    for pattern in patterns:
        for match in re.finditer(pattern, text):
            try:
                amount = Decimal(match.group(1).replace(",", ""))
            except InvalidOperation:
                continue
            if amount > 0 and amount not in amounts:
                amounts.append(amount)
    return amounts


def safe_filename(name: str | None, *, fallback: str = "attachment") -> str:
    """A filename safe to store and to send back in Content-Disposition: no path, no controls."""
    if not name:
        return fallback
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in '"<>:|?*')
    name = name.strip().lstrip(".").strip()
    if not name:
        return fallback
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 16 else name[:200]
    return name
