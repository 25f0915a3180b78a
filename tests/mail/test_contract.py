"""The rules of EMAIL.md the other files of this folder leave open, one test per group of rules:
threading by References, held replies, follow-ups of cancelled requests, the limits of a new
request, routing and SLA of mailed requests, who is mailed (portal requests, MAIL_FROM), the retry
schedule, replanning, and the GraphQL access rules of contacts, mails and attachments."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mail.sender import MAX_ATTEMPTS, MailWorker
from schema import ids
from tests.conftest import Tokens, bearer
from tests.lifecycle.conftest import Api
from tests.mail.conftest import BILLING, JANE, OLD, SERVICE, MailWorld, Sink, message
from tests.mail.test_outbound import parsed, worker
from tests.mail.test_replies import _request


async def test_reply_threaded_by_references_and_replies_that_are_held(
    engine: AsyncEngine, mail_world: MailWorld, sink: Sink
) -> None:
    """EMAIL.md 2: `References` naming a mail we sent threads a reply with neither tag nor
    In-Reply-To; a reply from an unknown sender or an inactive contact is held (4)."""
    w = worker(mail_world, sink)
    created = await mail_world.deliver(message(to=SERVICE, subject="Statement"))
    await w.plan_once()
    await w.send_once()
    ack = parsed(sink.received[0][2])
    reply = message(to=SERVICE, subject="Re: Statement", body="One more thing.")
    reply["References"] = f"<unrelated@acme.example> {ack['Message-ID']}"
    assert str(await mail_world.deliver(reply)) == f"commented {created.detail}"

    tagged = f"Re: [{created.detail}] Statement"
    stranger = await mail_world.deliver(message(sender="who@nowhere.example", to=SERVICE, subject=tagged))
    inactive = await mail_world.deliver(message(sender=OLD, to=SERVICE, subject=tagged))
    assert (stranger.verb, inactive.verb) == ("held", "held")
    reasons = await mail_world.all("SELECT reason FROM inbound_mails WHERE status = 'UNMATCHED' ORDER BY id")
    assert "unknown sender" in reasons[0].reason and "inactive" in reasons[1].reason
    comments = await mail_world.all("SELECT body FROM comments")
    assert [c.body for c in comments] == ["One more thing."]


async def test_reply_to_a_cancelled_request_starts_a_follow_up(
    engine: AsyncEngine, mail_world: MailWorld
) -> None:
    number = await _request(engine, mail_world, "CANCELLED")
    outcome = await mail_world.deliver(message(to=SERVICE, subject=f"Re: [{number}]", body="Still open?"))
    assert outcome.verb == "created" and outcome.detail != number
    new = await mail_world.one("SELECT description FROM service_requests WHERE number = :n", n=outcome.detail)
    assert new.description.startswith(f"Follow-up to {number}.")
    old = await mail_world.one("SELECT status, version FROM service_requests WHERE number = :n", n=number)
    assert old.status == "CANCELLED"


async def test_new_request_limits_routing_sla_and_events(mail_world: MailWorld) -> None:
    """EMAIL.md 3: subject 200 characters, description the first 10,000 (the full text on the
    inbound mail); routed, prioritised and given SLA due times like any request; CREATED, ASSIGNED."""
    body = "The statement is wrong. " * 600  # 14,400 characters
    outcome = await mail_world.deliver(message(to=BILLING, subject="S" * 250, body=body, html="<p>x</p>"))
    # No invoice named: capture refuses BILLING_DISPUTE, the fallback is routed like any inquiry.
    row = await mail_world.one(
        "SELECT r.id, r.subject, r.description, r.priority, r.sla_policy_id, r.first_response_due_at,"
        " r.resolution_due_at, t.name AS team, s.email AS assignee"
        " FROM service_requests r LEFT JOIN teams t ON t.id = r.team_id"
        " LEFT JOIN staff s ON s.id = r.assignee_id WHERE r.number = :n",
        n=outcome.detail,
    )
    assert row.subject == "S" * 200
    assert row.description == body.strip()[:10_000]
    stored = await mail_world.one("SELECT text_body FROM inbound_mails")
    assert stored.text_body == body.strip()
    assert row.team == "Customer Service" and row.priority == "LOW"
    assert row.sla_policy_id is not None
    assert mail_world.clock() < row.first_response_due_at <= row.resolution_due_at
    events = await mail_world.all(
        "SELECT kind, actor_subject FROM request_events WHERE request_id = :r ORDER BY id", r=row.id
    )
    assert [e.kind for e in events] == ["CREATED", "ASSIGNED", "COMMENTED"]
    assert events[0].actor_subject == JANE


async def test_invoice_kept_without_an_amount_and_two_amounts_are_no_impact(mail_world: MailWorld) -> None:
    """EMAIL.md 3: the invoice is linked; an impact only when exactly one amount in its currency
    appears; when capture refuses the mailbox's type the GENERAL_INQUIRY keeps the invoice."""
    invoice = mail_world.world.invoice
    outcome = await mail_world.deliver(
        message(subject=f"{invoice.number}", body="We paid USD 100.00 and then $250.00, please check.")
    )
    row = await mail_world.one(
        "SELECT id, type, invoice_id, financial_impact_amount FROM service_requests WHERE number = :n",
        n=outcome.detail,
    )
    assert (row.type, row.invoice_id, row.financial_impact_amount) == ("GENERAL_INQUIRY", invoice.id, None)
    note = await mail_world.one("SELECT visibility, body FROM comments WHERE request_id = :r", r=row.id)
    assert note.visibility == "INTERNAL" and "financialImpact" in note.body
    # The same invoice named by a customer of another company is not linked.
    other = await mail_world.deliver(
        message(sender="otto@other.example", subject=f"About {invoice.number}", body="USD 5.00")
    )
    linked = await mail_world.one("SELECT invoice_id FROM service_requests WHERE number = :n", n=other.detail)
    assert linked.invoice_id is None


async def test_portal_requests_get_no_acknowledgement_and_mail_from_mail_from(
    mail_world: MailWorld, sink: Sink, api: Api
) -> None:
    """A CUSTOMER token whose subject is a contact is the requester (EMAIL.md master data); only
    emailed requests are acknowledged; without a mailbox mail comes `From` MAIL_FROM."""
    async with mail_world.sessionmaker() as s, s.begin():
        await s.execute(
            text("INSERT INTO contacts (email, name, customer_id) VALUES ('portal@c-1001', 'Pat', :c)"),
            {"c": mail_world.world.acme.id},
        )
    created = await api.create(
        "customer:C-1001",
        customerId=ids.encode("Customer", mail_world.world.acme.id),
        type="GENERAL_INQUIRY",
        channel="PORTAL",
        subject="Portal question",
        description="Where is my statement?",
    )
    w = worker(mail_world, sink)
    assert await w.plan_once() == 0  # CREATED of a portal request: no acknowledgement
    answer = await api.mutate(
        "ana@example.com",
        "addComment",
        {"serviceRequestId": created["id"], "body": "Sent today.", "visibility": "PUBLIC"},
    )
    assert answer["userErrors"] == []
    assert await w.plan_once() == 1
    await w.send_once()
    [(_, rcpt, raw)] = sink.received
    mail = parsed(raw)
    assert rcpt == ["portal@c-1001"]
    assert mail["From"] == "casegraph@casegraph.example"
    assert mail["Subject"] == f"[{created['number']}] Portal question"


async def test_retries_double_the_delay_then_fail_after_the_last_attempt(
    mail_world: MailWorld, sink: Sink
) -> None:
    """Transient failures: 30 s, 60 s, 120 s ... between attempts; FAILED after the eighth."""
    w = worker(mail_world, sink)
    sink.refuse[JANE] = "451 4.3.0 try later"
    await mail_world.deliver(message(to=SERVICE))
    await w.plan_once()
    delays = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await w.send_once() == 1
        row = await mail_world.one("SELECT status, attempts, next_attempt_at, last_error FROM outbound_mails")
        assert row.attempts == attempt and "try later" in row.last_error
        if attempt < MAX_ATTEMPTS:
            assert row.status == "PENDING"
            delays.append(row.next_attempt_at - mail_world.clock())
            mail_world.clock.advance(seconds=delays[-1].total_seconds() - 1)
            assert await w.send_once() == 0  # one second early
            mail_world.clock.advance(seconds=1)
        else:
            assert row.status == "FAILED"
    assert delays == [timedelta(seconds=30 * 2**i) for i in range(MAX_ATTEMPTS - 1)]
    assert sink.received == []


async def test_replanning_after_a_crash_adds_no_second_mail(mail_world: MailWorld) -> None:
    """One mail per (event, recipient): a planner that lost its cursor plans the same rows again."""
    w = worker(mail_world, None)
    await mail_world.deliver(message(to=SERVICE))
    assert await w.plan_once() == 1
    async with mail_world.sessionmaker() as s, s.begin():
        await s.execute(text("UPDATE mail_cursors SET txid = 0, event_id = 0"))
    assert await w.plan_once() == 0
    assert (await mail_world.one("SELECT count(*) FROM outbound_mails"))[0] == 1


CONTACTS = """query($id: ID!) { node(id: $id) { ... on Customer { contacts { email active bouncing } } } }"""
MAILS = """{ inboundMails(first: 5) { totalCount } outboundMails(first: 5, status: [SKIPPED]) {
  totalCount nodes { status } } }"""


async def test_access_to_contacts_mails_and_attachments_of_internal_comments(
    mail_world: MailWorld, api: Api, api_client: httpx.AsyncClient, tokens: Tokens
) -> None:
    created = await mail_world.deliver(message(to=SERVICE, subject="Access"))
    await worker(mail_world, None).plan_once()
    acme = ids.encode("Customer", mail_world.world.acme.id)
    other = ids.encode("Customer", mail_world.world.other.id)

    # Contacts follow the customer's visibility.
    own = await api.query("customer:C-1001", CONTACTS, {"id": acme})
    assert {c["email"] for c in own["data"]["node"]["contacts"]} == {JANE, OLD}
    assert (await api.query("customer:C-1001", CONTACTS, {"id": other}))["data"]["node"] is None
    # Mail lists: staff with requests:read (the auditor too), never customers or partners.
    for who in ("ana@example.com", "audit@example.com"):
        body = await api.query(who, MAILS)
        assert body["data"]["inboundMails"]["totalCount"] == 1
        assert body["data"]["outboundMails"]["nodes"] == [{"status": "SKIPPED"}]
    for who in ("customer:C-1001", "partner:erp-connector"):
        refused = await api.query(who, MAILS)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # An attachment of an INTERNAL comment: staff only, in the lists and for the download.
    async with mail_world.sessionmaker() as s, s.begin():
        found = await s.execute(
            text(
                "WITH c AS (INSERT INTO comments (request_id, body, visibility, author_subject, author_name,"
                " author_role, channel, created_at) SELECT id, 'note', 'INTERNAL', 'ana@example.com', 'Ana',"
                " 'AGENT', 'PORTAL', :now FROM service_requests WHERE number = :n RETURNING id, request_id)"
                " INSERT INTO attachments (request_id, comment_id, filename, content_type, size, data,"
                " created_at) SELECT request_id, id, 'ledger.csv', 'text/csv', 3, 'a,b', :now FROM c"
                " RETURNING id"
            ),
            {"n": created.detail, "now": mail_world.clock()},
        )
        attachment_id = found.scalar_one()
    query = """query($n: String!) { serviceRequestByNumber(number: $n) { attachments { filename } } }"""
    seen: dict[str, Any] = {}
    for who in ("ana@example.com", "customer:C-1001"):
        body = await api.query(who, query, {"n": created.detail})
        seen[who] = [a["filename"] for a in body["data"]["serviceRequestByNumber"]["attachments"]]
    assert seen == {"ana@example.com": ["ledger.csv"], "customer:C-1001": []}
    url = f"/attachments/{ids.encode('Attachment', attachment_id)}"
    staff = await api_client.get(url, headers=bearer(tokens.staff("ana@example.com", "AGENT")))
    customer = await api_client.get(url, headers=bearer(tokens.customer("C-1001")))
    assert (staff.status_code, customer.status_code) == (200, 404)


NODE = """query($id: ID!) { node(id: $id) { id __typename } }"""
IDS = """query($n: String!) {
  inboundMails(first: 1) { nodes { id } }
  outboundMails(first: 1) { nodes { id } }
  serviceRequestByNumber(number: $n) { requester { id } }
}"""


async def test_node_reads_contacts_mails_and_attachments_with_their_access_rules(
    mail_world: MailWorld, api: Api
) -> None:
    """Contact, InboundMail, OutboundMail and Attachment are Nodes (EMAIL.md): `node(id:)` answers
    them to whoever may read them and null to everyone else, as the lists and the download do."""
    created = await mail_world.deliver(message(to=SERVICE, subject="Nodes"))
    await worker(mail_world, None).plan_once()
    found = (await api.query("ana@example.com", IDS, {"n": created.detail}))["data"]
    inbound = found["inboundMails"]["nodes"][0]["id"]
    outbound = found["outboundMails"]["nodes"][0]["id"]
    contact = found["serviceRequestByNumber"]["requester"]["id"]
    async with mail_world.sessionmaker() as s, s.begin():
        found_ids = await s.execute(
            text(
                "WITH c AS (INSERT INTO comments (request_id, body, visibility, author_subject, author_name,"
                " author_role, channel, created_at) SELECT id, 'note', 'INTERNAL', 'ana@example.com', 'Ana',"
                " 'AGENT', 'PORTAL', :now FROM service_requests WHERE number = :n RETURNING id, request_id)"
                " INSERT INTO attachments (request_id, comment_id, filename, content_type, size, data,"
                " created_at) SELECT request_id, NULL, 'invoice.pdf', 'application/pdf', 3, 'pdf'::bytea,"
                " :now FROM c"
                " UNION ALL SELECT request_id, id, 'ledger.csv', 'text/csv', 3, 'a,b'::bytea, :now FROM c"
                " RETURNING id, filename"
            ),
            {"n": created.detail, "now": mail_world.clock()},
        )
        attachments = {r.filename: ids.encode("Attachment", r.id) for r in found_ids}

    async def node(who: str, global_id: str) -> str | None:
        body = await api.query(who, NODE, {"id": global_id})
        assert not body.get("errors"), body
        answer = body["data"]["node"]
        assert answer is None or answer["id"] == global_id
        return None if answer is None else str(answer["__typename"])

    staff = {
        inbound: "InboundMail",
        outbound: "OutboundMail",
        contact: "Contact",
        attachments["invoice.pdf"]: "Attachment",
        attachments["ledger.csv"]: "Attachment",
    }
    for who in ("ana@example.com", "audit@example.com"):
        assert {g: await node(who, g) for g in staff} == staff
    # The customer: its own contact and the PUBLIC attachment; never mails, nor an INTERNAL
    # comment's attachment. A partner: its linked customer's contact, no mail.
    customer = {g: await node("customer:C-1001", g) for g in staff}
    assert customer == {
        inbound: None,
        outbound: None,
        contact: "Contact",
        attachments["invoice.pdf"]: "Attachment",
        attachments["ledger.csv"]: None,
    }
    assert await node("partner:erp-connector", inbound) is None
    assert await node("partner:erp-connector", outbound) is None


class _Hub:
    """The event hub as the worker sees it (nothing is announced: the worker must not need it)."""

    def on_events(self, callback: Any) -> Any:
        return lambda: None


async def test_the_running_worker_reads_past_pages_that_call_for_no_mail(
    mail_world: MailWorld, api: Api
) -> None:
    """Events nobody is mailed about (portal requests) fill whole pages: the worker reads on to the
    acknowledgement behind them instead of sleeping until the next change."""
    for i in range(3):
        await api.create(
            "ana@example.com",
            customerId=ids.encode("Customer", mail_world.world.acme.id),
            type="GENERAL_INQUIRY",
            channel="PORTAL",
            subject=f"Portal {i}",
            description="By the portal.",
        )
    await mail_world.deliver(message(to=SERVICE))
    settings = worker(mail_world, None).settings
    running = MailWorker(
        mail_world.sessionmaker, clock=mail_world.clock, settings=settings, smtp=None, hub=_Hub(), page=2
    )
    rows: list[Any] = []
    async with running:
        for _ in range(250):  # the worker's own pace; no clock is involved
            rows = await mail_world.all("SELECT kind FROM outbound_mails")
            if rows:
                break
            await asyncio.sleep(0.02)
    assert [r.kind for r in rows] == ["ACKNOWLEDGEMENT"]
