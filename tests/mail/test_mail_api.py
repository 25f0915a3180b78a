"""The email channel over GraphQL and HTTP: held mail for staff (link, discard), outboundMails,
requester, contacts, comment channel and attachments, and the authenticated attachment download."""

from __future__ import annotations

from email.message import EmailMessage

import httpx

from schema import ids
from tests.conftest import Tokens, bearer
from tests.lifecycle.conftest import Api
from tests.mail.conftest import JANE, SERVICE, MailWorld, message

HELD = """query($status: [InboundMailStatus!]) {
  inboundMails(first: 10, status: $status) {
    totalCount nodes { id from subject status reason textBody serviceRequest { number } }
  }
}"""
LINK = """mutation($input: LinkInboundMailInput!) {
  linkInboundMail(input: $input) {
    serviceRequest { number channel requester { email active customer { externalRef } } }
    userErrors { code message field }
  }
}"""
DISCARD = """mutation($input: DiscardInboundMailInput!) {
  discardInboundMail(input: $input) { inboundMail { status reason } userErrors { code message } }
}"""


async def test_held_mail_linked_with_a_new_contact_then_known(mail_world: MailWorld, api: Api) -> None:
    stranger = "new.person@acme.example"
    held = await mail_world.deliver(message(sender=stranger, to=SERVICE, subject="Who do I ask?"))
    assert held.verb == "held"
    body = await api.query("ana@example.com", HELD, {"status": ["UNMATCHED"]})
    page = body["data"]["inboundMails"]
    assert page["totalCount"] == 1
    [mail] = page["nodes"]
    assert (mail["from"], mail["status"], mail["serviceRequest"]) == (stranger, "UNMATCHED", None)
    assert "unknown sender" in mail["reason"]

    # Neither customers nor partners see mail.
    refused = await api.query("customer:C-1001", HELD)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    acme = ids.encode("Customer", mail_world.world.acme.id)
    linked = await api.query(
        "ana@example.com",
        LINK,
        {"input": {"inboundMailId": mail["id"], "customerId": acme, "createContact": True}},
    )
    payload = linked["data"]["linkInboundMail"]
    assert payload["userErrors"] == []
    request = payload["serviceRequest"]
    assert request["channel"] == "EMAIL"
    assert request["requester"] == {"email": stranger, "active": True, "customer": {"externalRef": "C-1001"}}

    # Linked once: a second link is refused; the sender is a known contact now.
    again = await api.query(
        "ana@example.com", LINK, {"input": {"inboundMailId": mail["id"], "customerId": acme}}
    )
    assert again["data"]["linkInboundMail"]["userErrors"][0]["code"] == "VALIDATION_FAILED"
    later = await mail_world.deliver(message(sender=stranger, to=SERVICE, subject="Another one"))
    assert later.verb == "created"

    # An auditor reads mail but may not act on it.
    auditor = await api.query(
        "audit@example.com", DISCARD, {"input": {"inboundMailId": mail["id"], "reason": "x"}}
    )
    assert auditor["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_discard_held_mail(mail_world: MailWorld, api: Api) -> None:
    await mail_world.deliver(message(sender="spam@nowhere.example", to=SERVICE, subject="Cheap pills"))
    [mail] = (await api.query("ana@example.com", HELD))["data"]["inboundMails"]["nodes"]
    empty = await api.query(
        "ana@example.com", DISCARD, {"input": {"inboundMailId": mail["id"], "reason": " "}}
    )
    assert empty["data"]["discardInboundMail"]["userErrors"][0]["code"] == "VALIDATION_FAILED"
    done = await api.query(
        "ana@example.com", DISCARD, {"input": {"inboundMailId": mail["id"], "reason": "spam"}}
    )
    assert done["data"]["discardInboundMail"] == {
        "inboundMail": {"status": "DISCARDED", "reason": "spam"},
        "userErrors": [],
    }


async def test_request_fields_outbound_mails_and_attachment_download(
    mail_world: MailWorld, api: Api, api_client: httpx.AsyncClient, tokens: Tokens
) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = JANE, SERVICE, "Remittance"
    msg["Message-ID"] = "<remit@acme.example>"
    msg.set_content("See the remittance advice.")
    msg.add_attachment(b"<script>alert(1)</script>", maintype="text", subtype="html", filename="advice.html")
    created = await mail_world.deliver(msg)
    reply = message(to=SERVICE, subject=f"Re: [{created.detail}] Remittance", body="And the second page.")
    reply.add_attachment(b"page two", maintype="application", subtype="pdf", filename="page2.pdf")
    await mail_world.deliver(reply)

    from mail.sender import MailWorker
    from services.mail.outbound import MailSettings

    settings = MailSettings(
        mail_from="casegraph@casegraph.example", mail_domain="casegraph.example", deliver=False
    )
    await MailWorker(
        mail_world.sessionmaker, clock=mail_world.clock, settings=settings, smtp=None
    ).plan_once()

    query = """query($n: String!) { serviceRequestByNumber(number: $n) {
      id requester { email name } attachments { filename contentType size url }
      comments(first: 5) { nodes { channel body attachments { filename } } }
      customer { contacts { email active bouncing } }
    } }"""
    staff = await api.query("ana@example.com", query, {"n": created.detail})
    request = staff["data"]["serviceRequestByNumber"]
    assert request["requester"] == {"email": JANE, "name": "Jane Roe"}
    assert [a["filename"] for a in request["attachments"]] == ["advice.html", "page2.pdf"]
    assert request["comments"]["nodes"] == [
        {"channel": "EMAIL", "body": "And the second page.", "attachments": [{"filename": "page2.pdf"}]}
    ]
    assert {c["email"] for c in request["customer"]["contacts"]} == {JANE, "old@acme.example"}

    outbound = await api.query(
        "ana@example.com",
        """query($id: ID!) { outboundMails(serviceRequestId: $id) {
          totalCount nodes { to subject status attempts serviceRequest { number } } } }""",
        {"id": request["id"]},
    )
    [ack] = outbound["data"]["outboundMails"]["nodes"]
    assert ack == {
        "to": [JANE],
        "subject": f"[{created.detail}] Remittance",
        "status": "SKIPPED",
        "attempts": 0,
        "serviceRequest": {"number": created.detail},
    }

    url = request["attachments"][0]["url"]
    download = await api_client.get(url, headers=bearer(tokens.staff("ana@example.com", "AGENT")))
    assert download.status_code == 200 and download.content == b"<script>alert(1)</script>"
    assert download.headers["content-disposition"].startswith('attachment; filename="advice.html"')
    assert download.headers["x-content-type-options"] == "nosniff"
    own = await api_client.get(url, headers=bearer(tokens.customer("C-1001")))
    assert own.status_code == 200
    other = await api_client.get(url, headers=bearer(tokens.customer("C-2002")))
    assert other.status_code == 404
    anonymous = await api_client.get(url)
    assert anonymous.status_code == 401
