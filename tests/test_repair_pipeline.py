"""repair_contacts on a real database (SQLite and PostgreSQL), with identities built by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from repair_support import AS_OF, World
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from contactfix.db.engine import make_engine, session_factory
from contactfix.db.identity_models import ContactRanking
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import AuditEntry, Contact, Debtor
from contactfix.pipeline.observations import debtors_with_changed_contacts
from contactfix.pipeline.outcomes import record_outcome
from contactfix.pipeline.repair import InvalidRepairSetting, repair_contacts
from contactfix.pipeline.shared_phones import InvalidSharedPhoneSetting, find_shared_phones

LOST, NEW, NEWER = "+8613800000001", "+8613900000002", "+8613700000003"
SWITCHBOARD = "+8659167000000"
OLD_CASE = "（2021）闽0103民初1号"


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def rankings(session: Session, debtor_id: int) -> list[tuple[str, str, int, float, list[str], int]]:
    rows = session.execute(
        select(
            ContactRanking.channel, ContactRanking.value, ContactRanking.rank, ContactRanking.confidence,
            ContactRanking.flags, ContactRanking.run_id,
        )
        .where(ContactRanking.debtor_id == debtor_id)
        .order_by(ContactRanking.channel, ContactRanking.rank)
    )  # fmt: skip
    return [tuple(row) for row in rows]  # type: ignore[misc]


def status(session: Session, debtor_id: int) -> str:
    return session.execute(select(Debtor.status).where(Debtor.id == debtor_id)).scalar_one()


def test_a_newer_court_phone_repairs_the_debtor_and_a_second_run_changes_nothing(session: Session) -> None:
    world = World(session)
    run = world.run()
    debtor = world.debtor("CF001", "张伟", LOST)
    old_case = world.record(
        "court", "张伟", reference=OLD_CASE, observed_on=dt.date(2021, 3, 1), phones=[LOST],
        addresses=["福建省福州市鼓楼区五四路1号"],
    )  # fmt: skip
    new_case = world.record(
        "court", "张伟", reference="（2026）闽0103民初9号", observed_on=dt.date(2026, 3, 1), phones=[NEW],
        addresses=["鼓楼区五四路1号"],
    )  # fmt: skip
    world.identity(run, (world.bank_records[debtor.id], 1.0), (old_case, 0.99), (new_case, 0.999))

    counts = repair_contacts(session, run, as_of=AS_OF)
    session.commit()
    assert (counts.ranked_debtors, counts.newly_repaired, counts.demoted_contacts) == (1, 1, 0)
    stored = rankings(session, debtor.id)
    assert [(channel, value, rank) for channel, value, rank, *_ in stored] == [
        ("address", "福建省福州市鼓楼区五四路1号", 1),
        ("phone", NEW, 1),
        ("phone", LOST, 2),
    ]
    assert {"bank_had", "known_failed"} <= set(stored[2][4]) and stored[1][3] > 0.6 and stored[2][3] <= 0.02
    assert status(session, debtor.id) == "repaired"
    sources = session.execute(
        select(ContactRanking.sources).where(
            ContactRanking.debtor_id == debtor.id, ContactRanking.value == LOST
        )
    ).scalar_one()
    assert [s["reference"] for s in sources] == ["CF001", OLD_CASE]
    assert sources[1] == {
        "record_id": old_case.id, "source": "court", "reference": OLD_CASE, "observed_on": "2021-03-01"
    }  # fmt: skip
    audit = session.execute(select(AuditEntry).where(AuditEntry.action == "debtor.repaired")).scalar_one()
    assert audit.subject_id == debtor.id and audit.detail["run_id"] == run

    second = world.run()
    again = repair_contacts(session, second, as_of=AS_OF)
    session.commit()
    assert (again.newly_repaired, again.rankings_written, again.rankings_deleted) == (0, 0, 0)
    assert rankings(session, debtor.id) == stored  # run ids included: nothing was rewritten


def test_outcomes_and_vanished_contacts_update_only_what_changed(session: Session) -> None:
    world = World(session)
    run = world.run()
    debtor = world.debtor("CF002", "李娜", LOST)
    newer = world.record("court", "李娜", reference="A", observed_on=dt.date(2025, 1, 1), phones=[NEW])
    newest = world.record("court", "李娜", reference="B", observed_on=dt.date(2026, 1, 1), phones=[NEWER])
    world.identity(run, (world.bank_records[debtor.id], 1.0), (newer, 0.99), (newest, 0.99))
    repair_contacts(session, run, as_of=AS_OF)
    assert [r[1] for r in rankings(session, debtor.id)] == [NEWER, NEW, LOST]

    # A mediator reports the newest number wrong: it drops to the end for good, the other moves up.
    record_outcome(session, debtor_id=debtor.id, contact=NEWER, result="wrong_number", reporter="m1")
    second = world.run()
    counts = repair_contacts(session, second, as_of=AS_OF)
    stored = rankings(session, debtor.id)
    assert [(r[1], r[2]) for r in stored] == [(NEW, 1), (LOST, 2), (NEWER, 3)]
    assert stored[2][3] == 0.0 and "wrong_number" in stored[2][4] and counts.demoted_contacts == 1
    assert all(r[5] == second for r in stored)  # every row changed rank or confidence

    # The record carrying the lost number leaves the identity's contacts: its ranking goes.
    session.execute(delete(Contact).where(Contact.source_record_id == debtor.source_record_id))
    third = world.run()
    counts = repair_contacts(session, third, as_of=AS_OF)
    assert counts.rankings_deleted == 1
    # NEW kept its rank and confidence, so its row (and run id) is untouched; NEWER moved up.
    assert [(r[1], r[2], r[5]) for r in rankings(session, debtor.id)] == [(NEW, 1, second), (NEWER, 2, third)]


def test_a_shared_phone_is_flagged_and_repairs_no_one(session: Session) -> None:
    world = World(session)
    run = world.run()
    debtors = []
    for i, name in enumerate(["王芳", "刘洋", "陈静"]):
        debtor = world.debtor(f"CF1{i}", name, None)
        case = world.record(
            "court", name, reference=f"C{i}", observed_on=dt.date(2026, 3, 1), phones=[SWITCHBOARD]
        )
        world.identity(run, (world.bank_records[debtor.id], 1.0), (case, 0.999))
        debtors.append(debtor)
    assert find_shared_phones(session, min_identities=3) == {SWITCHBOARD: 3}
    assert find_shared_phones(session, min_identities=4) == {}
    assert find_shared_phones(session, min_identities=3, values=[LOST]) == {}
    counts = repair_contacts(session, run, as_of=AS_OF)
    assert (counts.newly_repaired, counts.shared_phones, counts.demoted_contacts) == (0, 1, 3)
    for debtor in debtors:
        ((_, value, rank, confidence, flags, _),) = rankings(session, debtor.id)
        assert (value, rank, flags) == (SWITCHBOARD, 1, ["shared"]) and confidence <= 0.05
        assert status(session, debtor.id) == "lost"
    # Below the threshold the same phone is an ordinary, repairing contact.
    counts = repair_contacts(session, world.run(), as_of=AS_OF, shared_min_identities=4)
    assert counts.newly_repaired == 3 and counts.shared_phones == 0


def test_status_moves_from_lost_only_and_unresolved_debtors_rank_their_own_record(session: Session) -> None:
    world = World(session)
    run = world.run()
    reached = world.debtor("CF020", "赵敏", LOST, status="reached")
    case = world.record("court", "赵敏", reference="R", observed_on=dt.date(2026, 2, 1), phones=[NEW])
    world.identity(run, (world.bank_records[reached.id], 1.0), (case, 0.99))
    alone = world.debtor("CF021", "孙丽", LOST)  # resolve has not placed its record in any identity
    counts = repair_contacts(session, run, as_of=AS_OF)
    assert counts.ranked_debtors == 2 and counts.newly_repaired == 0
    assert status(session, reached.id) == "reached"
    assert [(r[1], r[2], r[4]) for r in rankings(session, alone.id)] == [
        (LOST, 1, ["bank_had", "known_failed"])
    ]
    assert status(session, alone.id) == "lost"
    # Limited to given debtors, only those are ranked.
    assert repair_contacts(session, world.run(), debtor_ids=[alone.id], as_of=AS_OF).ranked_debtors == 1


def test_bad_settings_are_refused(session: Session) -> None:
    run = World(session).run()
    with pytest.raises(InvalidRepairSetting, match="threshold"):
        repair_contacts(session, run, threshold=1.5)
    with pytest.raises(InvalidRepairSetting, match="link_probability"):
        repair_contacts(session, run, link_probability=-0.1)
    with pytest.raises(InvalidSharedPhoneSetting, match="min_identities"):
        repair_contacts(session, run, shared_min_identities=1)


def test_debtors_with_changed_contacts_are_found_for_the_next_incremental_run(session: Session) -> None:
    world = World(session)
    run = world.run()
    first = world.debtor("CF030", "周杰", LOST)
    case = world.record("court", "周杰", reference="K", observed_on=dt.date(2026, 2, 1), phones=[NEW])
    world.identity(run, (world.bank_records[first.id], 1.0), (case, 0.999))
    second = world.debtor("CF031", "吴磊", NEWER)  # no identity: observed through its own record
    third = world.debtor("CF032", "郑爽", SWITCHBOARD)
    session.commit()
    since = session.execute(select(func.max(Contact.updated_at))).scalar_one()
    assert debtors_with_changed_contacts(session, since) == []
    # A mediator's outcome on the court record's number reaches the debtor through its identity.
    session.execute(
        update(Contact).where(Contact.value == NEW).values(status="no_answer", updated_at=_later(since))
    )
    assert debtors_with_changed_contacts(session, since) == [first.id]
    # A new record elsewhere carrying the switchboard concerns everyone who carries it.
    other = world.record(
        "court", "王强", reference="Z", observed_on=dt.date(2026, 5, 1), phones=[SWITCHBOARD]
    )
    session.execute(
        update(Contact).where(Contact.source_record_id == other.id).values(updated_at=_later(since))
    )
    assert debtors_with_changed_contacts(session, since) == [first.id, third.id]
    assert second.id not in debtors_with_changed_contacts(session, since)


def _later(moment: dt.datetime) -> dt.datetime:
    return moment + dt.timedelta(seconds=5)
