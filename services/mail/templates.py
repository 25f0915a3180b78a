"""The texts of outbound mail: one template per kind, a plain-text and an HTML part (EMAIL.md "Sending").

Values are escaped for the HTML part; the text part carries them as they are.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from string import Template

__all__ = ["Rendered", "render"]

_TEXT: dict[str, str] = {
    "ACKNOWLEDGEMENT": (
        "Hello $name,\n\nwe received your request and registered it as $number: $subject.\n"
        "Reply to this mail to add information; keep $number in the subject.\n\n$signature"
    ),
    "COMMENT": "Hello $name,\n\n$body\n\n$signature",
    "WAITING_ON_CUSTOMER": (
        "Hello $name,\n\nto continue with $number we need information from you:\n\n$body\n\n"
        "Please reply to this mail.\n\n$signature"
    ),
    "RESOLVED": (
        "Hello $name,\n\nyour request $number is resolved.\n\n$body\n\n"
        "If the matter is not settled, reply to this mail and we will reopen it.\n\n$signature"
    ),
    "CLOSED": "Hello $name,\n\nyour request $number is closed.\n\n$body\n\n$signature",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    html: str


def render(kind: str, *, name: str, number: str, subject: str, body: str, signature: str) -> Rendered:
    """Both parts of the mail of `kind` (a key of the templates above)."""
    values = {"name": name, "number": number, "subject": subject, "body": body, "signature": signature}
    text = Template(_TEXT[kind]).substitute(values).replace("\n\n\n\n", "\n\n")
    escaped = {k: html.escape(v).replace("\n", "<br>\n") for k, v in values.items()}
    paragraphs = Template(_TEXT[kind]).substitute(escaped).split("\n\n")
    body_html = "\n".join(f"<p>{p}</p>" for p in paragraphs if p.strip())
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
        f'<body style="font-family: sans-serif">\n{body_html}\n</body></html>\n'
    )
    return Rendered(text=text, html=page)
