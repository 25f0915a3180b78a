"""The hash-chained audit trail: every change appends entries, verifyAuditChain recomputes the
chain and points at the first entry that does not verify, concurrent writers never fork it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.audit import GENESIS
from db.engine import make_engine, make_sessionmaker
from db.uow import ChangeActor, UnitOfWork
from server.settings import sqlalchemy_url
from tests.conftest import Tokens
from tests.finance.support import ADJUSTMENT, Api, Org, import_organisation, top_codes

VERIFY = "{ verifyAuditChain { valid checkedEntries firstInvalidSequence } }"


@pytest.fixture
async def org(engine: AsyncEngine) -> Org:
    return await import_organisation(engine)


@pytest.fixture
def api(client: httpx.AsyncClient, tokens: Tokens, org: Org) -> Api:
    return Api(client, tokens, org)


async def _entries(engine: AsyncEngine, after: int = 0) -> list[Any]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT * FROM audit_entries WHERE sequence > :after ORDER BY sequence"), {"after": after}
        )
        return list(result.all())


def canonical(
    *,
    sequence: int,
    occurred_at: datetime,
    actor_subject: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: Any,
    after: Any,
) -> str:
    """LIFECYCLE.md's canonical JSON of an entry, written independently of the SQL that defines it
    (migration 0016): sorted keys, no spaces, non-ASCII as is, the instant with microseconds."""
    body = {
        "sequence": sequence,
        "occurredAt": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actorSubject": actor_subject,
        "action": action,
        "entityType": entity_type,
        "entityId": entity_id,
        "before": before,
        "after": after,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(previous_hash: str, content: str) -> str:
    return hashlib.sha256((previous_hash + content).encode("utf-8")).hexdigest()


def _assert_chained(entries: list[Any]) -> None:
    """Contiguous sequences from 1, each linked to the previous hash, each hash recomputable."""
    previous = GENESIS
    for expected, entry in enumerate(entries, start=1):
        assert entry.sequence == expected
        assert entry.previous_hash == previous
        content = canonical(
            sequence=entry.sequence,
            occurred_at=entry.occurred_at,
            actor_subject=entry.actor_subject,
            action=entry.action,
            entity_type=entry.entity_type,
            entity_id=entry.entity_id,
            before=entry.before,
            after=entry.after,
        )
        assert entry.hash == entry_hash(previous, content)
        previous = entry.hash


async def _verify(api: Api, who: str = "audra") -> dict[str, Any]:
    body = await api.query(who, VERIFY)
    assert not body.get("errors"), body
    result: dict[str, Any] = body["data"]["verifyAuditChain"]
    return result


async def _approved_adjustment(api: Api, engine: AsyncEngine) -> dict[str, list[tuple[str, str, str]]]:
    """Run the maker-checker flow; the audit entries (action, entity type, entity id) of each step."""
    steps: dict[str, list[tuple[str, str, str]]] = {}

    async def step(name: str, call: Any) -> Any:
        last = len(await _entries(engine))
        result = await call
        steps[name] = [(e.action, e.entity_type, e.entity_id) for e in await _entries(engine, last)]
        return result

    request = await api.dispute("INV-DISPUTE", "9850.00")
    asked = await step("request", api.request_approval("ana", request, "INVOICE_ADJUSTMENT", "9850.00"))
    await step("decide", api.decide("sue", asked["approval"]["id"]))
    await step(
        "post",
        api.ok(
            "ana",
            "postAdjustment",
            {
                "serviceRequestId": request["id"],
                "invoiceId": api.org.invoices["INV-DISPUTE"],
                "kind": "CREDIT_MEMO",
                "amount": {"amount": "9850.00", "currency": "USD"},
                "approvalId": asked["approval"]["id"],
            },
            ADJUSTMENT,
        ),
    )
    return steps


async def test_every_change_appends_hash_chained_entries(api: Api, engine: AsyncEngine) -> None:
    steps = await _approved_adjustment(api, engine)
    async with engine.connect() as conn:
        request_id = str((await conn.execute(text("SELECT id FROM service_requests"))).scalar_one())
        approval_id = str((await conn.execute(text("SELECT id FROM approvals"))).scalar_one())
        adjustment_id = str((await conn.execute(text("SELECT id FROM adjustments"))).scalar_one())
        invoice_id = str(
            (await conn.execute(text("SELECT id FROM invoices WHERE number = 'INV-DISPUTE'"))).scalar_one()
        )
    assert steps["request"] == [
        ("REQUEST_APPROVAL", "Approval", approval_id),
        ("REQUEST_APPROVAL", "ServiceRequest", request_id),
    ]
    assert steps["decide"] == [
        ("DECIDE_APPROVAL", "Approval", approval_id),
        ("DECIDE_APPROVAL", "ServiceRequest", request_id),
    ]
    assert sorted(steps["post"]) == sorted(
        [
            ("POST_ADJUSTMENT", "Approval", approval_id),
            ("POST_ADJUSTMENT", "Invoice", invoice_id),
            ("POST_ADJUSTMENT", "Adjustment", adjustment_id),
            ("POST_ADJUSTMENT", "ServiceRequest", request_id),
        ]
    )
    entries = await _entries(engine)
    _assert_chained(entries)
    invoice_entry = next(e for e in entries if e.entity_type == "Invoice" and e.action == "POST_ADJUSTMENT")
    assert invoice_entry.before["outstanding"] == "9850.00"
    assert invoice_entry.after == {"outstanding": "0.00", "currency": "USD", "status": "PAID"}
    assert invoice_entry.actor_subject == "ana@example.com"
    assert await _verify(api) == {"valid": True, "checkedEntries": len(entries), "firstInvalidSequence": None}
    assert (await _verify(api, "admin"))["valid"] is True


async def test_an_edited_entry_fails_verification_at_exactly_that_sequence(
    api: Api, engine: AsyncEngine
) -> None:
    await _approved_adjustment(api, engine)
    entries = await _entries(engine)
    target = entries[len(entries) // 2]
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE audit_entries SET after = after || CAST(:forged AS jsonb) WHERE sequence = :s"),
            {"s": target.sequence, "forged": '{"status": "FORGED"}'},
        )
    assert await _verify(api) == {
        "valid": False,
        "checkedEntries": target.sequence,
        "firstInvalidSequence": target.sequence,
    }


async def test_an_edited_actor_or_relinked_hash_is_detected(api: Api, engine: AsyncEngine) -> None:
    await _approved_adjustment(api, engine)
    entries = await _entries(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE audit_entries SET actor_subject = 'someone@else' WHERE sequence = :s"),
            {"s": entries[2].sequence},
        )
    assert (await _verify(api))["firstInvalidSequence"] == entries[2].sequence


async def test_deleting_the_last_entry_is_detected(api: Api, engine: AsyncEngine) -> None:
    await _approved_adjustment(api, engine)
    last = (await _entries(engine))[-1].sequence
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_entries WHERE sequence = :s"), {"s": last})
    result = await _verify(api)
    assert result["valid"] is False
    assert result["firstInvalidSequence"] == last


async def test_deleting_an_entry_in_the_middle_is_detected(api: Api, engine: AsyncEngine) -> None:
    await _approved_adjustment(api, engine)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_entries WHERE sequence = 3"))
    result = await _verify(api)
    assert (result["valid"], result["firstInvalidSequence"]) == (False, 4)


async def test_only_admins_and_auditors_verify(api: Api) -> None:
    for who in ("ana", "sue", "fiona", "customer:C-100"):
        assert top_codes(await api.query(who, VERIFY)) == ["FORBIDDEN"], who
    token = api.tokens.staff("audra@example.com", "AUDITOR", scopes=["requests:read"])
    response = await api.client.post(
        "/graphql", json={"query": VERIFY}, headers={"Authorization": f"Bearer {token}"}
    )
    assert top_codes(response.json()) == ["FORBIDDEN"]
    assert await _verify(api) == {"valid": True, "checkedEntries": 0, "firstInvalidSequence": None}


@pytest.fixture
async def wide_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine with a connection for each of 20 writers."""
    eng = make_engine(sqlalchemy_url(db_url), pool_size=21)
    yield eng
    await eng.dispose()


async def test_twenty_concurrent_writers_never_fork_the_chain(
    wide_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    sessions = make_sessionmaker(wide_engine)
    started = asyncio.Event()

    async def writer(n: int) -> None:
        actor = ChangeActor(subject=f"writer{n}@example.com", name=f"Writer {n}")
        async with UnitOfWork(sessions, actor=actor, now=datetime.now(UTC)) as uow:
            await uow.session.connection()  # the transaction is open on its own connection
            await started.wait()  # ...before any of the 20 appends
            for k in range(3):
                uow.audit("TEST", "ServiceRequest", n, {"k": k}, {"k": k + 1})
            await uow.commit()

    tasks = [asyncio.create_task(writer(n)) for n in range(20)]
    await asyncio.sleep(0.2)
    started.set()
    await asyncio.gather(*tasks)

    entries = await _entries(engine)
    assert len(entries) == 60
    _assert_chained(entries)
    # Each writer's entries are contiguous: a writer appends its batch under the head lock.
    by_writer: dict[str, list[int]] = {}
    for entry in entries:
        by_writer.setdefault(entry.actor_subject, []).append(entry.sequence)
    assert all(seq == list(range(seq[0], seq[0] + 3)) for seq in by_writer.values())
    async with engine.connect() as conn:
        head = (await conn.execute(text("SELECT sequence, hash FROM audit_head"))).one()
    assert (head.sequence, head.hash) == (60, entries[-1].hash)


async def test_an_open_transaction_never_holds_up_another_commit(
    wide_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    """Entries are chained at COMMIT: a change that has written its entries but not committed
    blocks nobody, and the chain follows commit order."""
    sessions = make_sessionmaker(wide_engine)
    actor = ChangeActor(subject="slow@example.com", name="Slow")
    async with UnitOfWork(sessions, actor=actor, now=datetime.now(UTC)) as slow:
        slow.audit("TEST", "ServiceRequest", 1, None, {"k": "slow"})
        from db.audit import append_audit

        await append_audit(slow.session, slow._audit, now=slow.now)  # written, not committed
        fast_actor = ChangeActor(subject="fast@example.com", name="Fast")
        async with UnitOfWork(sessions, actor=fast_actor, now=datetime.now(UTC)) as fast:
            await fast.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            fast.audit("TEST", "ServiceRequest", 2, None, {"k": "fast"})
            await asyncio.wait_for(fast.commit(), 5)
        await slow.session.commit()
        slow._committed = True
    entries = await _entries(engine)
    _assert_chained(entries)
    assert [e.actor_subject for e in entries] == ["fast@example.com", "slow@example.com"]


# What the write path stores in `before`/`after` (db.audit._plain): strings (amounts and instants
# too), integers, booleans, null, and decimals written without an exponent, nested in objects and
# lists. No NUL: PostgreSQL's text and jsonb cannot hold it (the API refuses it on input).
_TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")  # UTF-8 only
_KEYS = st.text(_TEXT, max_size=8)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    # (-0.0 is stored as 0.0: NUMERIC has no negative zero, and the hash covers what is stored.)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: "e" not in repr(x) and x != 0)
    | st.text(_TEXT, max_size=20)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_VALUES)
async def test_the_sql_canonical_text_is_the_specified_json(engine: AsyncEngine, value: Any) -> None:
    written = json.dumps(value, ensure_ascii=False)  # as the write path sends jsonb
    async with engine.connect() as conn:
        found = (
            await conn.execute(text("SELECT cg_json_canonical(CAST(:v AS jsonb))"), {"v": written})
        ).scalar_one()
    assert found == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


async def test_awkward_values_chain_and_verify(api: Api, engine: AsyncEngine) -> None:
    """Unicode, escapes, control characters, nested lists and key order through a real commit."""
    sessions = make_sessionmaker(engine)
    actor = ChangeActor(subject="zoë@example.com", name="Zoë")
    async with UnitOfWork(sessions, actor=actor, now=datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) as uow:
        uow.audit(
            "TEST",
            "ServiceRequest",
            7,
            {"b": 'quote " and \\ back', "a": ["\u0001\t\n", {"Z": 1, "z": 2, "é": 3, "": None}]},
            {"emoji": "💶 €", "amount": "12.50", "n": 10**20, "ok": True, "ratio": 0.125},
        )
        await uow.commit()
    entries = await _entries(engine)
    _assert_chained(entries)
    assert await _verify(api) == {"valid": True, "checkedEntries": 1, "firstInvalidSequence": None}
