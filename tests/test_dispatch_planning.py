"""The transactional outbox: dispatch rows planned with the repair, keyed, and given to mediators in turn."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from dispatch_support import MEDIATOR_PHONES, add_mediators, debtor_phone, make_debtors, plan_for
from repair_support import AS_OF, World
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from contactfix.db.dispatch_models import AssignmentKind, CaseAssignment, Dispatch, Mediator
from contactfix.db.identity_models import ContactRanking, ReconcileRun
from contactfix.db.models import Debtor
from contactfix.dispatch.errors import MediatorError
from contactfix.dispatch.mediators import (
    MediatorInput,
    add_mediator,
    assign_cases,
    assign_explicitly,
    find_mediator,
)
from contactfix.dispatch.planning import (
    PURPOSE_REPAIRED,
    PlannedContact,
    dispatch_hasher,
    idempotency_key,
    plan_dispatches,
    plan_undispatched,
)
from contactfix.pipeline.repair import repair_contacts
from contactfix.privacy import PURPOSE_DISPATCH, KeyedHash

# The ``engine`` fixture: an upgraded, empty database, once on SQLite and once on PostgreSQL.
pytest_plugins = ["dispatch_db"]

LOST, NEW = "+8613800000011", "+8613900000012"


def dispatches(engine: Engine) -> list[Dispatch]:
    with Session(engine) as session:
        return list(session.scalars(select(Dispatch).order_by(Dispatch.debtor_id)))


def assignments(engine: Engine) -> dict[int, tuple[int, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(CaseAssignment.debtor_id, CaseAssignment.mediator_id, CaseAssignment.kind)
        )
        return {debtor: (mediator, kind) for debtor, mediator, kind in rows}


# --- keys and idempotency ---------------------------------------------------------------------------


HASHER = KeyedHash(b"d" * 32, PURPOSE_DISPATCH, "test")


def test_the_key_is_stable_hex_free_of_the_phone_and_tells_every_part_apart() -> None:
    key = idempotency_key(7, "phone", "+8613912345678", "sms", PURPOSE_REPAIRED, HASHER)
    assert key == idempotency_key(7, "phone", "+8613912345678", "sms", PURPOSE_REPAIRED, HASHER)
    assert len(key) == 64 and set(key) <= set("0123456789abcdef")
    assert "13912345678" not in key and "5678" not in key
    variants = {
        idempotency_key(8, "phone", "+8613912345678", "sms", PURPOSE_REPAIRED, HASHER),
        idempotency_key(7, "phone", "+8613912345679", "sms", PURPOSE_REPAIRED, HASHER),
        idempotency_key(7, "phone", "+8613912345678", "call", PURPOSE_REPAIRED, HASHER),
        idempotency_key(7, "phone", "+8613912345678", "sms", "reminder", HASHER),
        idempotency_key(7, "email", "+8613912345678", "sms", PURPOSE_REPAIRED, HASHER),
        # Parts are separated: shifting characters between them is another key.
        idempotency_key(71, "phone", "+8613912345678", "sms", PURPOSE_REPAIRED, HASHER),
    }
    assert key not in variants and len(variants) == 6


def test_planning_twice_writes_one_row_per_key(engine: Engine) -> None:
    debtors = make_debtors(engine, 4)
    add_mediators(engine, 2)
    assert plan_for(engine, debtors) == 4
    with Session(engine) as session, session.begin():
        repaired = {d: PlannedContact("phone", debtor_phone(i), 0.97) for i, d in enumerate(debtors)}
        again = plan_dispatches(session, repaired, None)
    assert (again.planned, again.existing, again.unassigned) == (0, 4, 0)
    rows = dispatches(engine)
    assert len(rows) == 4 and len({row.idempotency_key for row in rows}) == 4
    with engine.begin() as connection:
        hasher = dispatch_hasher(connection)
    for index, row in enumerate(rows):
        assert row.idempotency_key == idempotency_key(row.debtor_id, "phone", debtor_phone(index), "sms",
                                                      PURPOSE_REPAIRED, hasher)  # fmt: skip
        assert debtor_phone(index)[1:] not in row.idempotency_key
        assert (row.state, row.attempts, row.channel, row.purpose) == ("pending", 0, "sms", PURPOSE_REPAIRED)
        assert (row.contact_channel, row.contact_value, row.confidence) == (
            "phone",
            debtor_phone(index),
            0.97,
        )
        assert row.next_attempt_at is None and row.lease_until is None and row.enqueued_at is None


def test_a_new_contact_for_the_same_debtor_is_a_new_dispatch(engine: Engine) -> None:
    [debtor] = make_debtors(engine, 1)
    add_mediators(engine, 1)
    with Session(engine) as session, session.begin():
        first = plan_dispatches(session, {debtor: PlannedContact("phone", debtor_phone(1))}, None)
        second = plan_dispatches(session, {debtor: PlannedContact("phone", debtor_phone(2))}, None)
    assert (first.planned, second.planned) == (1, 1)
    assert [row.contact_value for row in dispatches(engine)] == [debtor_phone(1), debtor_phone(2)]


def test_nothing_repaired_plans_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        counts = plan_dispatches(session, {}, None)
    assert (counts.planned, counts.existing, counts.unassigned) == (0, 0, 0)


def test_a_rolled_back_transaction_leaves_no_dispatch_and_no_assignment(engine: Engine) -> None:
    debtors = make_debtors(engine, 3)
    add_mediators(engine, 2)
    with Session(engine) as session:
        session.begin()
        repaired = {d: PlannedContact("phone", debtor_phone(i)) for i, d in enumerate(debtors)}
        assert plan_dispatches(session, repaired, None).planned == 3
        assert session.scalar(select(func.count()).select_from(Dispatch)) == 3  # flushed, not committed
        session.rollback()
    assert dispatches(engine) == [] and assignments(engine) == {}
    assert plan_for(engine, debtors) == 3  # the same plan commits once the transaction does


# --- who gets the case ------------------------------------------------------------------------------


def test_cases_go_round_the_mediators_in_turn_ties_to_the_lowest_id(engine: Engine) -> None:
    debtors = make_debtors(engine, 7)
    add_mediators(engine, 3)
    plan_for(engine, debtors)
    assert [row.mediator_id for row in dispatches(engine)] == [1, 2, 3, 1, 2, 3, 1]
    assert {kind for _, kind in assignments(engine).values()} == {AssignmentKind.ROUND_ROBIN.value}


def test_a_mediator_added_later_catches_up_first(engine: Engine) -> None:
    debtors = make_debtors(engine, 10)
    add_mediators(engine, 2)
    plan_for(engine, debtors[:4])  # 2 cases each
    with Session(engine) as session, session.begin():
        add_mediator(session, MediatorInput("后来者", MEDIATOR_PHONES[2], "测试调解中心"))
    plan_for(engine, debtors[4:])
    loads = Counter(mediator for mediator, _ in assignments(engine).values())
    assert loads == {1: 4, 2: 3, 3: 3}
    assert [row.mediator_id for row in dispatches(engine)][4:] == [3, 3, 1, 2, 3, 1]


def test_an_explicit_assignment_is_kept(engine: Engine) -> None:
    debtors = make_debtors(engine, 4)
    add_mediators(engine, 2)
    with Session(engine) as session, session.begin():
        assign_explicitly(session, debtors[0], find_mediator(session, "调解员1"))
    plan_for(engine, debtors)
    assert assignments(engine)[debtors[0]] == (2, AssignmentKind.EXPLICIT.value)
    assert [row.mediator_id for row in dispatches(engine)] == [2, 1, 1, 2]  # round-robin counts it
    with Session(engine) as session, session.begin():
        assign_explicitly(session, debtors[1], find_mediator(session, "调解员1", "测试调解中心"))
        assert assign_cases(session, debtors) == {debtors[0]: 2, debtors[1]: 2, debtors[2]: 1, debtors[3]: 2}
    assert assignments(engine)[debtors[1]] == (2, AssignmentKind.EXPLICIT.value)


def test_inactive_mediators_get_no_new_cases(engine: Engine) -> None:
    debtors = make_debtors(engine, 3)
    add_mediators(engine, 2)
    with engine.begin() as connection:
        connection.execute(update(Mediator).where(Mediator.id == 1).values(active=False))
    plan_for(engine, debtors)
    assert {row.mediator_id for row in dispatches(engine)} == {2}
    with Session(engine) as session, pytest.raises(MediatorError, match="no active mediator"):
        find_mediator(session, "调解员0")


def test_without_a_mediator_debtors_are_counted_not_dispatched(engine: Engine) -> None:
    debtors = make_debtors(engine, 3)
    with Session(engine) as session, session.begin():
        repaired = {d: PlannedContact("phone", debtor_phone(i)) for i, d in enumerate(debtors)}
        counts = plan_dispatches(session, repaired, None)
    assert (counts.planned, counts.existing, counts.unassigned) == (0, 0, 3)
    assert dispatches(engine) == [] and assignments(engine) == {}


def test_mediator_input_is_checked_field_by_field(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        add_mediator(session, MediatorInput(" 李调解 ", "13800000009", " 鼓楼调解中心 ", "08:30-17:30"))
        stored = session.scalars(select(Mediator)).one()
        assert (stored.name, stored.center, stored.phone, stored.hours) == (
            "李调解", "鼓楼调解中心", "+8613800000009", "08:30-17:30",
        )  # fmt: skip
        bad = [
            (MediatorInput("", "13800000001", "c"), "^name:"),
            (MediatorInput("a", "13800000001", " "), "^center:"),
            (MediatorInput("a", "12345", "c"), "^phone:"),
            (MediatorInput("a", "13800000001", "c", "25:00-26:00"), "^hours:"),
            (MediatorInput("a", "13800000001", "c", "18:00-08:00"), "^hours:"),
            (MediatorInput("a", "13800000001", "c", None, "Mars/Olympus"), "^timezone:"),
            (MediatorInput("李调解", "13800000001", "鼓楼调解中心"), "^name: .*already has"),
        ]
        for new, message in bad:
            with pytest.raises(MediatorError, match=message) as caught:
                add_mediator(session, new)
            assert "13800000001" not in str(caught.value)


# --- the outbox is the repair's own transaction ---------------------------------------------------------


def _repairable(session: Session) -> list[int]:
    """Two lost debtors, each with a newer court phone that repairs them."""
    world = World(session)
    run = world.run()
    debtors = []
    for number, name in enumerate(("张伟", "李娜")):
        debtor = world.debtor(f"CF10{number}", name, LOST)
        court = world.record(
            "court", name, reference=f"（2026）闽0103民初{number + 1}号", observed_on=dt.date(2026, 3, 1),
            phones=[NEW if number == 0 else "+8613700000013"],
        )  # fmt: skip
        world.identity(run, (world.bank_records[debtor.id], 1.0), (court, 0.999))
        debtors.append(debtor.id)
    session.flush()
    return [run, *debtors]


def test_a_repair_writes_its_dispatches_in_its_own_transaction(engine: Engine) -> None:
    add_mediators(engine, 2)
    with Session(engine) as session:
        run, *debtors = _repairable(session)
        counts = repair_contacts(session, run, as_of=AS_OF)
        assert (counts.newly_repaired, counts.dispatches_planned, counts.dispatches_unassigned) == (2, 2, 0)
        session.rollback()  # the repair fails after planning: its dispatches go with it
    assert dispatches(engine) == []
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Debtor)) == 0

    with Session(engine) as session, session.begin():
        run, *debtors = _repairable(session)
        counts = repair_contacts(session, run, as_of=AS_OF)
    rows = dispatches(engine)
    assert [(row.debtor_id, row.contact_value, row.run_id) for row in rows] == [
        (debtors[0], NEW, run), (debtors[1], "+8613700000013", run),
    ]  # fmt: skip
    assert [row.mediator_id for row in rows] == [1, 2] and all(row.confidence for row in rows)
    assert all(row.state == "pending" for row in rows)

    with Session(engine) as session, session.begin():
        second = ReconcileRun(status="running", full=True)
        session.add(second)
        session.flush()
        again = repair_contacts(session, second.id, as_of=AS_OF)
    assert (again.newly_repaired, again.dispatches_planned) == (0, 0)
    assert len(dispatches(engine)) == 2


def test_adding_a_mediator_plans_the_debtors_repaired_without_one(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        run, *debtors = _repairable(session)
        counts = repair_contacts(session, run, as_of=AS_OF)
    assert (counts.newly_repaired, counts.dispatches_planned, counts.dispatches_unassigned) == (2, 0, 2)
    assert dispatches(engine) == []
    with Session(engine) as session, session.begin():
        add_mediator(session, MediatorInput("新调解员", MEDIATOR_PHONES[0], "测试调解中心"))
        planned = plan_undispatched(session)
    assert (planned.planned, planned.unassigned) == (2, 0)
    rows = dispatches(engine)
    assert [(row.debtor_id, row.contact_value, row.mediator_id) for row in rows] == [
        (debtors[0], NEW, 1), (debtors[1], "+8613700000013", 1),
    ]  # fmt: skip
    with Session(engine) as session, session.begin():
        assert plan_undispatched(session).planned == 0  # they have theirs now


def test_a_mediator_added_later_is_sent_the_mobile_repair_chose_not_a_better_ranked_landline(
    engine: Engine,
) -> None:
    landline = "+8659187654321"
    with Session(engine) as session, session.begin():
        world = World(session)
        run = world.run()
        debtor = world.debtor("CF200", "王芳", LOST)
        court = "（{}）闽0103民初{}号".format
        fresh = [
            world.record("court", "王芳", reference=court(2026, n), observed_on=dt.date(2026, 3, n),
                         phones=[landline], line_type="fixed_line")
            for n in (1, 2)
        ]  # fmt: skip
        old = world.record(
            "court", "王芳", reference=court(2020, 9), observed_on=dt.date(2020, 6, 1), phones=[NEW]
        )
        world.identity(run, (world.bank_records[debtor.id], 1.0), *((r, 0.999) for r in (*fresh, old)))
        debtor_id = debtor.id
        repair_contacts(session, run, as_of=AS_OF)
        ranked = session.execute(
            select(ContactRanking.value, ContactRanking.flags)
            .where(ContactRanking.debtor_id == debtor_id, ContactRanking.channel == "phone")
            .order_by(ContactRanking.rank)
        ).all()
        assert [value for value, _ in ranked] == [landline, NEW, LOST]  # the landline has more evidence
        assert "repairs" in dict(ranked)[NEW] and "repairs" not in dict(ranked)[landline]
        add_mediator(session, MediatorInput("新调解员", MEDIATOR_PHONES[0], "测试调解中心"))
        assert plan_undispatched(session).planned == 1
    assert [(row.debtor_id, row.contact_value) for row in dispatches(engine)] == [(debtor_id, NEW)]
