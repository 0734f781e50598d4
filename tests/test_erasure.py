"""Erasure and retention: after ``erase``, nothing of the debtor is left in any table or in Redis.

The world is built through the real pipeline (sample → submit → import-court → reconcile with repair
→ carrier repair through the sandbox → dispatch relay to the outbox → call records and outcomes), on
SQLite and PostgreSQL. The search reflects the schema, so a table added later is searched too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from dispatch_support import WORKDAY_NOON, add_mediators, make_sender, outbox_channels
from sqlalchemy import Engine, MetaData, func, inspect, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from connectors.repair.sandbox import SandboxRepairConnector
from contactfix.cli import app, load_commands
from contactfix.db.audit import find_personal_data
from contactfix.db.carrier_models import CarrierNumber
from contactfix.db.dispatch_models import CallAttempt, Dispatch, DoNotContact
from contactfix.db.engine import make_engine
from contactfix.db.identity_models import ContactRanking, IdentityMember
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import AuditEntry, Contact, Debtor, Organization, SourceRecord
from contactfix.db.outcome_models import Outcome
from contactfix.dispatch.ratelimit import RateLimiter, recipient_key
from contactfix.dispatch.receipts import record_calls
from contactfix.dispatch.relay import relay
from contactfix.errors import NotFound
from contactfix.intake.service import import_court_export, submit_bank_batch
from contactfix.pipeline.carrier import CarrierOptions, carrier_repair
from contactfix.pipeline.lock import ReconcileLocked, database_lock
from contactfix.pipeline.outcomes import record_outcome
from contactfix.pipeline.reconcile import reconcile
from contactfix.pipeline.repair import repair_contacts
from contactfix.privacy import PURPOSE_RATELIMIT, DataKey, Keyring, using_keyring
from contactfix.privacy.erasure import (
    ERASED_ACTION,
    HASHED_CHANNEL,
    erase_debtor,
    relist_erased_objections,
)
from contactfix.privacy.retention import run_retention
from contactfix.privacy.sealing import field_cipher, is_sealed
from contactfix.sample import AS_OF, write_sample
from contactfix.settings import get_settings

load_commands(["erase", "retention"])

BANK, COURT = "erase-bank", "erase-court"
AS_OF_DATE = dt.date.fromordinal(AS_OF)
DEBTORS = 40


def _repair_step(session: Session, run_id: int, debtor_ids: Any) -> dict[str, int]:
    counts = repair_contacts(session, run_id, debtor_ids=debtor_ids, as_of=AS_OF_DATE)
    return {name: int(value) for name, value in dataclasses.asdict(counts).items()}


@dataclass
class World:
    engine: Engine
    folder: Path
    keyring: Keyring


def build_world(url: str, folder: Path, keyring: Keyring) -> World:
    """The real pipeline on a small generated sample; every step the service runs, in process."""
    upgrade_database(url)
    sample = folder / "sample"
    write_sample(sample, DEBTORS, seed=5)
    engine = make_engine(url)
    submit_bank_batch(engine, sample / "bank.csv", BANK)
    import_court_export(engine, sample / "court.csv", COURT)
    add_mediators(engine, 2, "08:00-20:00")
    reconcile(engine, full=True, repair=_repair_step)
    # The carrier knows every debtor still lost that has a full ID: a number of its own each.
    with Session(engine) as session:
        lost = session.scalars(
            select(Debtor.id_number).where(Debtor.status == "lost", Debtor.id_type == "resident_id")
        ).all()
    answers = folder / "answers.csv"
    rows = [f"{id_number},+86170{n:08d}" for n, id_number in enumerate(sorted(i for i in lost if i))]
    answers.write_text("id_number,phone\n" + "\n".join(rows) + "\n", encoding="utf-8")
    connector = SandboxRepairConnector(answers_path=answers, validity_days=30, clock=lambda: WORKDAY_NOON)
    carrier_repair(engine, connector, CarrierOptions("sandbox-repair"), as_of=WORKDAY_NOON)
    channels = outbox_channels(folder / "outbox.jsonl")
    try:
        sender = make_sender(engine, channels, WORKDAY_NOON)
        sent: list[str] = []
        relay(engine, lambda i: sent.append(sender.send(i).result), now=WORKDAY_NOON, requeue_after_s=60)
        assert "delivered" in sent
    finally:
        channels.close()
    # The next night: ranking reads the carrier's numbers (an outcome on one is refused before).
    reconcile(engine, full=True, repair=_repair_step)
    return World(engine, folder, keyring)


# --- who is who in the world ------------------------------------------------------------------------


def _members(session: Session, debtor: Debtor) -> set[int]:
    identity = session.scalar(
        select(IdentityMember.identity_id).where(IdentityMember.source_record_id == debtor.source_record_id)
    )
    if identity is None:
        return {debtor.source_record_id}
    return set(
        session.scalars(select(IdentityMember.source_record_id).where(IdentityMember.identity_id == identity))
    )


def needles_of(session: Session, debtor: Debtor) -> dict[str, set[str]]:
    """What of the debtor a search must not find: names, ID numbers (18 and 15 digits), phones
    (E.164 and national), addresses, from every record of its identity and every row of the debtor."""
    members = _members(session, debtor)
    records = session.scalars(select(SourceRecord).where(SourceRecord.id.in_(members))).all()
    names = (
        {debtor.name, debtor.name_original} | {r.name for r in records} | {r.name_original for r in records}
    )
    ids = {r.id_number for r in records if r.id_number and "*" not in r.id_number} | {debtor.id_number or ""}
    ids = {i for i in ids if len(i) == 18}
    ids |= {i[:6] + i[8:17] for i in ids}  # the 15-digit form of the same ID
    contacts = session.scalars(select(Contact).where(Contact.source_record_id.in_(members))).all()
    phones = {c.value for c in contacts if c.channel == "phone"}
    for column, owner in (
        (ContactRanking.value, ContactRanking.debtor_id),
        (Dispatch.contact_value, Dispatch.debtor_id),
        (CarrierNumber.value, CarrierNumber.debtor_id),
        (Outcome.value, Outcome.debtor_id),
    ):
        phones |= set(session.scalars(select(column).where(owner == debtor.id)))
    phones = {p for p in phones if p.startswith("+")}
    national = {p.removeprefix("+86") for p in phones}
    addresses = {r.address for r in records if r.address} | {
        c.value for c in contacts if c.channel == "address"
    }
    return {"name": {n for n in names if n}, "id": ids, "phone": phones | national, "address": addresses}


def _only_in(session: Session, debtor: Debtor, needles: dict[str, set[str]]) -> bool:
    """True when no record outside the debtor's identity holds any of its needles (then nothing of
    the debtor may be left after its erasure, with no someone-else's-too to argue about)."""
    members = _members(session, debtor)
    others = session.execute(
        select(
            SourceRecord.name, SourceRecord.name_original, SourceRecord.id_number, SourceRecord.address
        ).where(SourceRecord.id.not_in(members))
    ).all()
    other_contacts = session.scalars(
        select(Contact.value).where(Contact.source_record_id.not_in(members))
    ).all()
    texts = [" ".join(str(v) for v in row if v) for row in others] + list(other_contacts)
    everything = {n for group in needles.values() for n in group}
    return not any(needle in text for text in texts for needle in everything)


def pick(session: Session, *, carrier: bool) -> Debtor:
    """A debtor with a delivered dispatch (of a carrier number when ``carrier``), alone in its
    identity among debtors, with court records linked when not a carrier case, its data its own."""
    delivered = select(Dispatch.debtor_id).where(Dispatch.state == "delivered")
    with_carrier = select(CarrierNumber.debtor_id)
    query = select(Debtor).where(Debtor.id.in_(delivered)).order_by(Debtor.id)
    query = query.where(Debtor.id.in_(with_carrier) if carrier else Debtor.id.not_in(with_carrier))
    for debtor in session.scalars(query):
        members = _members(session, debtor)
        alone = session.scalar(select(func.count()).where(Debtor.source_record_id.in_(members))) == 1
        if alone and (carrier or len(members) > 1) and _only_in(session, debtor, needles_of(session, debtor)):
            return debtor
    raise AssertionError(f"the sample has no debtor to erase (carrier={carrier}); change its seed")


# --- the search ----------------------------------------------------------------------------------------


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict | list):
        return [json.dumps(value, ensure_ascii=False)]
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if is_sealed(text):  # encrypted at rest: what is left is what it opens to
        text = field_cipher().open(text)
    found = [text]
    if text[:1] in "[{":  # JSON stored as text may escape non-ASCII (\u5f20): search it decoded too
        with contextlib.suppress(ValueError):
            found.append(json.dumps(json.loads(text), ensure_ascii=False))
    return found


def search_database(engine: Engine, needles: set[str]) -> tuple[list[tuple[str, str, str]], int]:
    """Every (table, column, needle) where a needle occurs in any column of any row of any table
    (the schema reflected, so new tables are searched too); and how many tables were searched."""
    metadata = MetaData()
    metadata.reflect(engine)
    hits: list[tuple[str, str, str]] = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    for text in _texts(value):
                        hits += [(table.name, column, n) for n in needles if n and n in text]
    return hits, len(metadata.sorted_tables)


def table_counts(engine: Engine) -> dict[str, int]:
    names = inspect(engine).get_table_names()
    metadata = MetaData()
    metadata.reflect(engine, only=names)
    with engine.connect() as connection:
        return {
            t.name: int(connection.scalar(select(func.count()).select_from(t)) or 0)
            for t in metadata.sorted_tables
        }


def fingerprint(session: Session, debtor_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """What each of ``debtor_ids`` has: its status, rankings, dispatches, outcomes, carrier numbers,
    and its identity's size: the same before and after someone else's erasure."""
    found = {}
    for debtor_id in debtor_ids:
        debtor = session.get(Debtor, debtor_id)
        assert debtor is not None
        rows = tuple(
            sorted(session.scalars(select(column).where(owner == debtor_id)))
            for column, owner in (
                (ContactRanking.value, ContactRanking.debtor_id),
                (Dispatch.contact_value, Dispatch.debtor_id),
                (Outcome.value, Outcome.debtor_id),
                (CarrierNumber.value, CarrierNumber.debtor_id),
            )
        )
        found[debtor_id] = (debtor.name, debtor.status, len(_members(session, debtor)), *rows)
    return found


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def keyring() -> Iterator[Keyring]:
    """A keyring of this test alone: its Redis keys cannot collide with another test's."""
    with using_keyring(Keyring(DataKey(secrets.token_bytes(32)), source="test")) as ring:
        yield ring


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def world(db_url: str, tmp_path: Path, keyring: Keyring) -> Iterator[World]:
    built = build_world(db_url, tmp_path, keyring)
    yield built
    built.engine.dispose()


def _redis_hits(client: Any, phones: set[str], keyring: Keyring) -> list[str]:
    """Keys naming the keyed hash of a phone (under every purpose), and values holding a phone."""
    digests = {
        keyring.keyed_hash(purpose).hexdigest(phone, 32)
        for purpose in (PURPOSE_RATELIMIT, "dispatch", "blocking")
        for phone in phones
    }
    found = []
    for key in client.scan_iter(match="contactfix:*", count=1000):
        name = key.decode()
        if any(d in name for d in digests):
            found.append(name)
        if client.type(key) == b"string":
            value = (client.get(key) or b"").decode("utf-8", "replace")
            found += [name for p in phones if p in value]
        elif client.type(key) == b"hash":
            value = " ".join(v.decode("utf-8", "replace") for v in client.hvals(key))
            found += [name for p in phones if p in value]
    return found


# --- the tests ----------------------------------------------------------------------------------------


def test_nothing_of_an_erased_debtor_remains_anywhere(world: World, redis_client: redis.Redis) -> None:
    engine, keyring = world.engine, world.keyring
    with Session(engine) as session, session.begin():
        court_case = pick(session, carrier=False)
        carrier_case = pick(session, carrier=True)
        targets = [court_case, carrier_case]
        court_id, carrier_id = court_case.id, carrier_case.id
        # A mediator dialled the court case's number (a call record), and the debtor objected; the
        # carrier case was reached, with a note; another debtor settled.
        dispatch = session.scalars(select(Dispatch).where(Dispatch.debtor_id == court_case.id)).first()
        assert dispatch is not None
        record_calls(
            session,
            [CallAttempt(provider_call_id=f"call-{dispatch.id}", value=dispatch.contact_value,
                         at=WORKDAY_NOON, answered=True, dispatch_id=dispatch.id)],
        )  # fmt: skip
        record_outcome(
            session, debtor_id=court_case.id, contact=dispatch.contact_value, result="objected", reporter="m1"
        )
        number = session.scalars(
            select(CarrierNumber.value).where(CarrierNumber.debtor_id == carrier_case.id)
        ).one()
        record_outcome(
            session,
            debtor_id=carrier_case.id,
            contact=number,
            result="reached",
            reporter="m1",
            note="本人接听，同意调解",
        )
        needles = {t.id: needles_of(session, t) for t in targets}
        references = {t.id: t.reference for t in targets}
        others = sorted(set(session.scalars(select(Debtor.id))) - set(references))
        before_others = fingerprint(session, others)
        objected_phones = {p for p in needles[court_case.id]["phone"] if p.startswith("+")}
        listed = set(session.scalars(select(DoNotContact.value)))
        assert objected_phones & listed, "the objection put the debtor's numbers on the list"
    # Rate-limit buckets keyed by the debtor's numbers (a channel limiting per debtor would make
    # them; today's SMS limit is per mediator) and one of another debtor, which must stay.
    limiter = RateLimiter(redis_client)
    hasher = keyring.keyed_hash(PURPOSE_RATELIMIT)
    all_phones = {p for n in needles.values() for p in n["phone"] if p.startswith("+")}
    for phone in all_phones:
        limiter.acquire(recipient_key(phone, hasher), 1.0, 5.0)
    bystander = recipient_key("+8613000000000", hasher)
    limiter.acquire(bystander, 1.0, 5.0)
    everything = {n for group in needles.values() for values in group.values() for n in values}
    found_before, tables = search_database(engine, everything)
    assert {table for table, _, _ in found_before} >= {
        "debtors", "source_records", "contacts", "contact_rankings", "dispatches", "outcomes",
        "carrier_numbers", "call_attempts", "do_not_contact",
    }  # fmt: skip
    assert _redis_hits(redis_client, all_phones, keyring)
    counts_before = table_counts(engine)

    reports = [
        erase_debtor(engine, BANK, references[i], actor="dpo", redis_client=redis_client)
        for i in (court_id, carrier_id)
    ]

    assert all(r.erased for r in reports)
    found_after, tables_after = search_database(engine, everything)
    assert found_after == [] and tables_after == tables >= 20
    assert _redis_hits(redis_client, all_phones, keyring) == []
    assert redis_client.exists(bystander) == 1
    redis_client.delete(bystander)
    counts_after = table_counts(engine)
    erased_rows: dict[str, int] = {}
    for report in reports:
        for name, n in report.counts.items():
            erased_rows[name] = erased_rows.get(name, 0) + n
    for table, before in counts_before.items():
        expected = before - erased_rows.get(table, 0) + (2 if table == "audit_log" else 0)
        assert counts_after[table] == expected, table
    with Session(engine) as session:
        assert fingerprint(session, others) == before_others  # nobody else lost anything
        tombstones = session.scalars(select(AuditEntry).where(AuditEntry.action == ERASED_ACTION)).all()
        assert [(e.actor, e.detail["reference"]) for e in tombstones] == [
            ("dpo", references[i]) for i in (court_id, carrier_id)
        ]
        assert all(find_personal_data(json.dumps(e.detail, ensure_ascii=False)) is None for e in tombstones)
        hashed = session.scalars(select(DoNotContact).where(DoNotContact.channel == HASHED_CHANNEL)).all()
        assert len(hashed) == len(objected_phones & listed)  # the objection outlives the erasure, hashed
    # The next nights' runs work on what is left and bring nothing back.
    reconcile(engine, repair=_repair_step)
    reconcile(engine, full=True, repair=_repair_step)
    assert search_database(engine, everything)[0] == []
    with Session(engine) as session:
        assert set(fingerprint(session, others)) == set(before_others)
    # Twice: nothing left, and it says so.
    again = erase_debtor(engine, BANK, references[court_id])
    assert not again.erased and again.counts == {} and again.erased_at is not None
    with pytest.raises(NotFound, match="no debtor with reference"):
        erase_debtor(engine, BANK, "CF9999999")
    with pytest.raises(NotFound, match="no organisation"):
        erase_debtor(engine, "no-such-bank", references[court_id])


def test_an_objection_comes_back_with_the_number(world: World) -> None:
    """A court export taken in after the erasure brings the objecting debtor's number back: it is on
    the do-not-contact list in clear again before anything is dispatched to it."""
    engine = world.engine
    with Session(engine) as session, session.begin():
        debtor = pick(session, carrier=False)
        phone = session.scalars(select(Dispatch.contact_value).where(Dispatch.debtor_id == debtor.id)).first()
        assert phone is not None
        record_outcome(session, debtor_id=debtor.id, contact=phone, result="objected", reporter="m1")
        reference = debtor.reference
    erase_debtor(engine, BANK, reference)
    with Session(engine) as session:
        assert phone not in set(session.scalars(select(DoNotContact.value)))
    later = world.folder / "court-later.csv"
    later.write_text(
        "id,case_number,role,filed_on,name,id_number,birth_date,gender,phone,address\n"
        f"C90000001,(2026)闽0103民初999号,被告,2026-10-01,某人,,1980-01-01,男,{phone},\n",
        encoding="utf-8",
    )
    import_court_export(engine, later, COURT)
    with Session(engine) as session, session.begin():
        assert relist_erased_objections(session) == 1
        assert relist_erased_objections(session) == 0  # listed once
    with Session(engine) as session:
        assert phone in set(
            session.scalars(select(DoNotContact.value).where(DoNotContact.channel == "phone"))
        )


def test_erasure_waits_for_or_refuses_a_running_reconciliation(world: World) -> None:
    engine = world.engine
    with Session(engine) as session:
        references = session.scalars(select(Debtor.reference).order_by(Debtor.id).limit(2)).all()
    with database_lock(engine), pytest.raises(ReconcileLocked):
        erase_debtor(engine, BANK, references[0])
    with Session(engine) as session:  # refused: nothing erased
        assert session.scalar(select(Debtor.id).where(Debtor.reference == references[0])) is not None
    held = threading.Event()
    release = threading.Event()

    def reconciliation() -> None:
        with database_lock(engine):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=reconciliation)
    thread.start()
    held.wait(5)
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    report = erase_debtor(engine, BANK, references[1], wait_s=10)
    thread.join()
    assert report.erased and time.monotonic() - started >= 0.4


def test_retention_erases_closed_cases_past_their_time(world: World) -> None:
    engine = world.engine
    with Session(engine) as session, session.begin():
        debtor = pick(session, carrier=True)
        number = session.scalars(
            select(CarrierNumber.value).where(CarrierNumber.debtor_id == debtor.id)
        ).one()
        record_outcome(session, debtor_id=debtor.id, contact=number, result="mediated", reporter="m1")
        closed_reference = debtor.reference
        open_count = session.scalar(select(func.count()).select_from(Debtor).where(Debtor.status != "closed"))
    assert run_retention(engine, 0).skipped  # 0: keep
    soon = run_retention(engine, 30, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=29))
    assert soon.erased == 0  # closed, but not for 30 days yet
    due = run_retention(engine, 30, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31))
    assert due.erased == 1 and due.counts["debtors"] == 1
    with Session(engine) as session:
        assert session.scalar(select(Debtor.id).where(Debtor.reference == closed_reference)) is None
        assert session.scalar(select(func.count()).select_from(Debtor)) == open_count
        tombstone = session.scalars(select(AuditEntry).where(AuditEntry.action == ERASED_ACTION)).one()
        assert tombstone.actor == "retention" and tombstone.detail["reason"] == "retention (30 days)"
    assert run_retention(engine, 30, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31)).erased == 0


# --- the command line (SQLite) ------------------------------------------------------------------------


@pytest.fixture
def cli_world(
    sqlite_url: str, tmp_path: Path, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    built = build_world(sqlite_url, tmp_path, keyring)
    monkeypatch.setenv("CONTACTFIX_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("CONTACTFIX_BROKER_URL", raising=False)
    get_settings.cache_clear()
    yield built
    get_settings.cache_clear()
    built.engine.dispose()


def test_erase_and_retention_commands(cli_world: World) -> None:
    runner = CliRunner()
    with Session(cli_world.engine) as session:
        debtor = session.scalars(select(Debtor).order_by(Debtor.id)).first()
        assert debtor is not None
        reference, name, id_number = debtor.reference, debtor.name, debtor.id_number or "-"
    first = runner.invoke(app, ["erase", reference, "--org", BANK, "--json", "--actor", "dpo"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["erased"] is True and summary["counts"]["debtors"] == 1
    assert name not in first.output and id_number not in first.output
    second = runner.invoke(app, ["erase", reference, "--org", BANK])
    assert second.exit_code == 0 and "nothing left to erase" in second.output
    for arguments, message in (
        (["erase", "CF9999999", "--org", BANK], "no debtor with reference"),
        (["erase", reference, "--org", "nobody"], "no organisation"),
    ):
        refused = runner.invoke(app, arguments)
        assert refused.exit_code == 2 and message in refused.output, refused.output
    with database_lock(cli_world.engine):
        locked = runner.invoke(app, ["erase", "CF0000002", "--org", BANK])
    assert locked.exit_code == 2 and "another reconciliation is running" in locked.output
    kept = runner.invoke(app, ["retention", "run", "--json"])
    assert kept.exit_code == 0 and json.loads(kept.stdout)["skipped"].startswith("retention_days is 0")
    ran = runner.invoke(app, ["retention", "run", "--days", "30", "--json"])
    assert ran.exit_code == 0 and json.loads(ran.stdout)["erased"] == 0  # nothing closed 30 days ago


def test_the_organisation_of_an_erasure_must_exist(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session, session.begin():
            session.add(Organization(name=BANK, kind="bank"))
        with pytest.raises(NotFound, match="no debtor"):
            erase_debtor(engine, BANK, "CF0000001")
        with pytest.raises(NotFound, match="no organisation"):
            erase_debtor(engine, "nobody", "CF0000001")
    finally:
        engine.dispose()


def test_the_nightly_task_runs_retention_only_when_set(sqlite_url: str) -> None:
    from contactfix.settings import load_settings
    from contactfix.tasks import _nightly_retention

    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        off = load_settings(environ={}, database_url=sqlite_url)
        assert off.retention_days == 0 and _nightly_retention(engine, off) == {}
        on = load_settings(environ={}, database_url=sqlite_url, retention_days=30)
        assert _nightly_retention(engine, on) == {"retention_erased": 0}
    finally:
        engine.dispose()


def test_a_person_owing_two_banks_keeps_the_other_case(
    sqlite_url: str, tmp_path: Path, keyring: Keyring
) -> None:
    """The same batch from a second bank: each person is a debtor twice, in one identity with their
    court records. Erasing the first bank's debtor erases its own record only; the court records serve
    the second bank's case and stay, and that case keeps everything."""
    upgrade_database(sqlite_url)
    write_sample(tmp_path / "sample", 12, seed=5)
    engine = make_engine(sqlite_url)
    try:
        submit_bank_batch(engine, tmp_path / "sample" / "bank.csv", BANK)
        submit_bank_batch(engine, tmp_path / "sample" / "bank.csv", "erase-bank-2")
        import_court_export(engine, tmp_path / "sample" / "court.csv", COURT)
        reconcile(engine, full=True, repair=_repair_step)
        with Session(engine) as session:
            second = session.scalar(select(Organization.id).where(Organization.name == "erase-bank-2"))
            pairs = session.execute(
                select(Debtor, IdentityMember.identity_id).join(
                    IdentityMember, IdentityMember.source_record_id == Debtor.source_record_id
                )
            ).all()
            by_identity: dict[int, list[Debtor]] = {}
            for debtor, identity in pairs:
                by_identity.setdefault(identity, []).append(debtor)
            shared = next(
                group for identity, group in by_identity.items()
                if len(group) == 2 and len(_members(session, group[0])) > 2
            )  # fmt: skip
            mine = next(d for d in shared if d.organization_id != second)
            theirs = next(d for d in shared if d.organization_id == second)
            own_record, reference = mine.source_record_id, mine.reference
            members_before = _members(session, theirs)
            theirs_before = fingerprint(session, [theirs.id])
        report = erase_debtor(engine, BANK, reference)
        assert report.counts["source_records"] == 1 and report.counts["shared_records_kept"] >= 2
        with Session(engine) as session:
            assert session.get(SourceRecord, own_record) is None
            kept = session.get(Debtor, theirs.id)
            assert kept is not None and _members(session, kept) == members_before - {own_record}
            (name, status, _, *rows), (name_b, status_b, _, *rows_b) = (
                fingerprint(session, [theirs.id])[theirs.id],
                theirs_before[theirs.id],
            )
            assert (name, status, rows) == (name_b, status_b, rows_b)  # the identity is one record smaller
    finally:
        engine.dispose()


def test_a_debtor_never_reconciled_is_erased_with_its_record(
    sqlite_url: str, tmp_path: Path, keyring: Keyring
) -> None:
    upgrade_database(sqlite_url)
    write_sample(tmp_path / "sample", 5, seed=5)
    engine = make_engine(sqlite_url)
    try:
        submit_bank_batch(engine, tmp_path / "sample" / "bank.csv", BANK)
        with Session(engine) as session:
            debtor = session.scalars(select(Debtor).order_by(Debtor.id)).first()
            assert debtor is not None
            needles = {n for group in needles_of(session, debtor).values() for n in group}
            reference = debtor.reference
        assert search_database(engine, needles)[0]
        report = erase_debtor(engine, BANK, reference)
        assert report.counts["debtors"] == report.counts["source_records"] == 1
        assert search_database(engine, needles)[0] == []
    finally:
        engine.dispose()
