"""The email channel's pure rules (domain.mail) and the parser's edges, without a database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.mail import (
    MailFacts,
    amounts_in,
    dmarc_failed,
    invoice_numbers_in,
    loop_reason,
    request_number_in,
    safe_filename,
    thread_subject,
)
from mail.parse import parse_message


def facts(
    envelope_from: str | None = "a@acme.example", sender: str = "a@acme.example", **headers: str
) -> MailFacts:
    return MailFacts({k.replace("_", "-").lower(): v for k, v in headers.items()}, envelope_from, sender)


@pytest.mark.parametrize(
    ("mail", "expected"),
    [
        (facts(), None),
        (facts(Auto_Submitted="no"), None),
        (facts(Auto_Submitted="auto-generated"), "auto-submitted: auto-generated"),
        (facts(Precedence="junk"), "precedence: junk"),
        (facts(Precedence="first-class"), None),
        (facts(List_Id="<x.example>"), "mailing list: List-Id"),
        (facts(envelope_from="<>"), "empty return path"),
        (facts(envelope_from=None), None),  # mail-import without an envelope: nothing to judge
        (facts(sender="postmaster@acme.example"), "sender is postmaster"),
        (facts(X_Casegraph_Loop="casegraph.example"), "loop: our own X-Casegraph-Loop header"),
    ],
)
def test_loop_bulk_and_bounce(mail: MailFacts, expected: str | None) -> None:
    assert loop_reason(mail, is_delivery_report=False) == expected


def test_a_delivery_report_is_a_bounce() -> None:
    assert loop_reason(facts(), is_delivery_report=True) == "bounce: delivery status report"


def test_dmarc() -> None:
    assert dmarc_failed(["mx; spf=pass smtp.mailfrom=a; dmarc=fail (p=reject) header.from=acme.example"])
    assert not dmarc_failed(["mx; dmarc=pass header.from=acme.example", "other; dkim=fail"])


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("Charged USD 9,850.00 twice", [Decimal("9850.00")]),
        ("Charged 9850.00 USD", [Decimal("9850.00")]),
        ("Charged $9,850.00", [Decimal("9850.00")]),
        ("USD 100 and USD 200.50", [Decimal("100"), Decimal("200.50")]),
        ("EUR 100 or 100 GBP", []),
    ],
)
def test_amounts_in_the_invoice_currency(text: str, amounts: list[Decimal]) -> None:
    assert amounts_in(text, "USD") == amounts


def test_invoice_numbers_whole_words_only() -> None:
    numbers = ["INV-1", "INV-10", "INV-2026-7"]
    assert invoice_numbers_in("about inv-10 and INV-2026-7.", numbers) == ["INV-2026-7", "INV-10"]
    assert invoice_numbers_in("INV-100 is not ours", numbers) == []


def test_request_tags_and_thread_subjects() -> None:
    assert request_number_in("Re: Fwd: [SR-000123] Statement") == "SR-000123"
    assert request_number_in("SR-000123 without brackets") is None
    assert thread_subject("SR-000123", "Re: [SR-000123] Statement") == "[SR-000123] Re: Statement"
    assert thread_subject("SR-000123", "") == "[SR-000123]"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\invoice.pdf", "invoice.pdf"),
        ('a"b<c>.pdf', "abc.pdf"),
        ("\x00\x1f.hidden", "hidden"),
        (None, "attachment"),
        ("...", "attachment"),
    ],
)
def test_safe_filenames(name: str | None, safe: str) -> None:
    assert safe_filename(name) == safe


def test_a_message_without_message_id_is_named_by_its_bytes() -> None:
    raw = b"From: a@acme.example\r\nTo: b@casegraph.example\r\nSubject: x\r\n\r\nhello\r\n"
    first, again = parse_message(raw), parse_message(raw)
    assert first.message_id == again.message_id and first.message_id.startswith("sha256-")
    assert parse_message(raw + b"!").message_id != first.message_id


def test_quoted_printable_and_base64_bodies() -> None:
    qp = (
        b"From: a@acme.example\r\nSubject: =?utf-8?q?R=C3=BCckfrage?=\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Gr=C3=BC=C3=9Fe\r\n"
    )
    b64 = (
        b"From: a@acme.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"aW52b2ljZSCAMTAw\r\n"
    )
    parsed = parse_message(qp)
    assert (parsed.subject, parsed.text) == ("Rückfrage", "Grüße")
    assert parse_message(b64).text == "invoice €100"


def test_smtp_urls() -> None:
    from mail.sender import SmtpTarget, parse_smtp_url

    assert parse_smtp_url("smtp://relay.example") == SmtpTarget("relay.example", 25, None, None, False, False)
    assert parse_smtp_url("smtps://u%40x:p%2Fw@relay.example") == SmtpTarget(
        "relay.example", 465, "u@x", "p/w", True, False
    )
    assert parse_smtp_url("smtp+starttls://u:p@relay.example:2587").start_tls
    assert parse_smtp_url("smtp+starttls://relay.example").port == 587
    for bad in ("http://relay.example", "smtp://", "relay.example:25"):
        with pytest.raises(ValueError):
            parse_smtp_url(bad)


def test_templates_have_text_and_escaped_html() -> None:
    from services.mail.templates import render

    mail = render(
        "COMMENT", name="Jane <Roe>", number="SR-000001", subject="x", body="1 < 2 & <b>", signature="Billing"
    )
    assert "Hello Jane <Roe>," in mail.text and "1 < 2 & <b>" in mail.text
    assert "Jane &lt;Roe&gt;" in mail.html and "1 &lt; 2 &amp; &lt;b&gt;" in mail.html
    assert "<b>" not in mail.html
