"""Carrier repair on a real database (SQLite and PostgreSQL) through the sandbox connector: who is
asked, what a repaired debtor gets, a carrier that fails halfway, expiry, renewal and the audit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from carrier_support import (
    NOW,
    CarrierWorld,
    FlakyConnector,
    carrier_phone,
    case_number,
    id_number,
    sandbox,
    write_answers,
)
from dispatch_support import add_mediators, make_sender, outbox_channels
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from connectors.errors import PermanentError
from connectors.repair import RepairConnector, RepairRequest, RepairResult
from connectors.repair.sandbox import SandboxRepairConnector
from contactfix.db.audit import find_personal_data
from contactfix.db.carrier_models import CarrierNumber, CarrierRequest
from contactfix.db.dispatch_models import Dispatch, DispatchDecision
from contactfix.db.identity_models import ContactRanking
from contactfix.db.models import AuditEntry, Debtor
from contactfix.dispatch.planning import plan_undispatched
from contactfix.pipeline.carrier import CarrierOptions, carrier_repair
from contactfix.pipeline.carrier_numbers import carrier_observations
from contactfix.pipeline.repair import repair_contacts
from contactfix.pipeline.report import funnel

pytest_plugins = ["dispatch_db"]

SANDBOX = CarrierOptions("sandbox-repair")
DAY = dt.timedelta(days=1)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def requests_of(engine: Engine, debtor_id: int) -> list[CarrierRequest]:
    with Session(engine) as session:
        query = (
            select(CarrierRequest).where(CarrierRequest.debtor_id == debtor_id).order_by(CarrierRequest.id)
        )
        return list(session.execute(query).scalars())


def dispatches(engine: Engine) -> dict[int, list[str]]:
    with engine.connect() as connection:
        found: dict[int, list[str]] = {}
        for debtor_id, value in connection.execute(select(Dispatch.debtor_id, Dispatch.contact_value)):
            found.setdefault(debtor_id, []).append(value)
        return found


def audits(engine: Engine, action: str) -> list[AuditEntry]:
    with Session(engine) as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(session.execute(query).scalars())


def test_every_lost_debtor_with_an_authorisation_the_carrier_knows_is_repaired_and_none_without(
    engine: Engine, tmp_path: Path
) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-2025-0001")
    world.debtor(1, contract="HT-2025-0002")
    world.debtor(2, court_case=True)  # a court delegation: the linked court record's case number
    world.debtor(3)  # known to the carrier, but no authorisation: never asked
    world.debtor(4, contract="HT-2025-0004")  # authorised, but the carrier does not know them
    world.debtor(5, contract="HT-2025-0005", id_type="resident_id_masked", id_value="350103********1234")
    world.debtor(6, contract="HT-2025-0006", status="closed")
    world.debtor(7, contract="HT-2025-0007", court_case=True)  # both: the contract is used
    add_mediators(engine, 2)
    answers = write_answers(tmp_path / "answers.csv", [0, 1, 2, 3, 5, 6, 7])

    counts = carrier_repair(engine, sandbox(answers), SANDBOX, run_id=world.run_id, as_of=NOW)

    assert (counts.carrier_requested, counts.carrier_answered, counts.carrier_no_match) == (5, 4, 1)
    assert (counts.carrier_repaired, counts.carrier_dispatches_planned) == (4, 4)
    assert (counts.carrier_unauthorised, counts.carrier_no_full_id, counts.carrier_failed) == (1, 1, 0)
    assert [world.status(i) for i in range(8)] == [
        "repaired", "repaired", "repaired", "lost", "lost", "lost", "closed", "repaired",
    ]  # fmt: skip
    assert dispatches(engine) == {world.debtors[i]: [carrier_phone(i)] for i in (0, 1, 2, 7)}
    [court] = requests_of(engine, world.debtors[2])
    assert (court.authorisation_kind, court.authorisation_reference, court.case_number) == (
        "court_delegation", case_number(2), case_number(2),
    )  # fmt: skip
    [both] = requests_of(engine, world.debtors[7])
    assert (both.authorisation_kind, both.authorisation_reference) == ("loan_contract", "HT-2025-0007")

    expiry = dt.datetime(2026, 12, 25, tzinfo=SHANGHAI)  # the sandbox's 30 days, through the last day
    with Session(engine) as session:
        seen = carrier_observations(session, world.debtors.values(), NOW)
        assert seen == {world.debtors[i]: [(carrier_phone(i), NOW.date(), expiry)] for i in (0, 1, 2, 7)}
        assert carrier_observations(session, world.debtors.values(), expiry) == {}

    # Every request audited with its authorisation, the ID masked; no ID or phone in clear anywhere.
    requested = audits(engine, "carrier.requested")
    assert sorted(entry.subject_id for entry in requested) == sorted(
        world.debtors[i] for i in (0, 1, 2, 4, 7)
    )
    by_debtor = {entry.subject_id: entry.detail for entry in requested}
    assert by_debtor[world.debtors[2]]["authorisation"] == {
        "kind": "court_delegation", "reference": case_number(2), "case_number": case_number(2),
    }  # fmt: skip
    assert by_debtor[world.debtors[0]]["authorisation"]["reference"] == "HT-2025-0001"
    assert by_debtor[world.debtors[0]]["id_number"] == "350103********000X"
    assert {entry.detail["outcome"] for entry in requested} == {"submitted"}
    every = json.dumps(
        [e.detail for e in audits(engine, "carrier.requested") + audits(engine, "debtor.repaired_by_carrier")]
    )
    assert find_personal_data(every) is None and id_number(0) not in every
    assert {e.detail["source"] for e in audits(engine, "debtor.repaired_by_carrier")} == {"carrier"}
    with Session(engine) as session:  # the funnel tells carrier repairs from record repairs
        stages = funnel(session)
        assert (stages["repaired_carrier"], stages["repaired_records"]) == (4, 0)

    # The next night asks nobody again: the no-match waits out the retry window.
    again = carrier_repair(engine, sandbox(answers, NOW + DAY), SANDBOX, as_of=NOW + DAY)
    assert (again.carrier_requested, again.carrier_dispatches_planned) == (0, 0)
    assert len(audits(engine, "carrier.requested")) == 5
    later = NOW + 11 * DAY
    ten_days = CarrierOptions("sandbox-repair", retry_days=10)
    retried = carrier_repair(engine, sandbox(answers, later), ten_days, as_of=later)
    assert (retried.carrier_requested, retried.carrier_no_match) == (1, 1)  # debtor 4, once more


def test_a_carrier_that_fails_halfway_loses_nothing_and_sends_nothing_twice(
    engine: Engine, tmp_path: Path
) -> None:
    world = CarrierWorld(engine)
    for index in range(5):
        world.debtor(index, contract=f"HT-{index}")
    add_mediators(engine, 1)
    answers = write_answers(tmp_path / "answers.csv", range(5))
    # Batches of two: the first is accepted but not settled yet, the second is not taken at all.
    flaky = FlakyConnector(sandbox(answers), fail_submits=[2], pending_queries=1)
    options = CarrierOptions("sandbox-repair", batch_size=2)

    first = carrier_repair(engine, flaky, options, as_of=NOW)

    assert (first.carrier_requested, first.carrier_pending, first.carrier_retrying) == (2, 2, 2)
    assert first.carrier_repaired == 0 and dispatches(engine) == {}
    [waiting] = requests_of(engine, world.debtors[2])
    assert (waiting.state, waiting.attempts) == ("pending", 1)
    assert "carrier timeout" in (waiting.last_error or "") and "+8613912345678" not in (
        waiting.last_error or ""
    )
    assert requests_of(engine, world.debtors[4]) == []  # the pass stopped: the carrier was down

    second = carrier_repair(engine, flaky, options, as_of=NOW + dt.timedelta(hours=1))

    assert (second.carrier_requested, second.carrier_answered, second.carrier_repaired) == (3, 5, 5)
    assert [world.status(i) for i in range(5)] == ["repaired"] * 5
    assert dispatches(engine) == {world.debtors[i]: [carrier_phone(i)] for i in range(5)}
    assert sorted(flaky.accepted.values()) == [1] * 5  # every debtor accepted by the carrier exactly once
    outcomes = Counter((e.subject_id, e.detail["outcome"]) for e in audits(engine, "carrier.requested"))
    assert outcomes[(world.debtors[2], "retrying")] == 1 and outcomes[(world.debtors[2], "submitted")] == 1

    third = carrier_repair(engine, flaky, options, as_of=NOW + 2 * dt.timedelta(hours=1))
    assert (third.carrier_requested, third.carrier_dispatches_planned) == (0, 0)
    assert flaky.submits == 4


class LosingConnector(FlakyConnector):
    """Accepts batches, then cannot find them (a carrier that lost its batch)."""

    def query(self, batch_id: str) -> list[RepairResult]:
        raise PermanentError(f"unknown batch {batch_id}")


def test_a_batch_the_carrier_lost_fails_with_a_clear_message_and_is_asked_again_later(
    engine: Engine, tmp_path: Path
) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-0")
    answers = write_answers(tmp_path / "answers.csv", [0])
    counts = carrier_repair(engine, LosingConnector(sandbox(answers)), SANDBOX, as_of=NOW)
    assert (counts.carrier_requested, counts.carrier_failed) == (1, 1)
    [lost] = requests_of(engine, world.debtors[0])
    assert lost.state == "failed" and "the carrier lost the batch" in (lost.last_error or "")
    later = NOW + 31 * DAY
    counts = carrier_repair(engine, sandbox(answers, later), SANDBOX, as_of=later)
    assert counts.carrier_repaired == 1 and world.status(0) == "repaired"


def test_a_dispatch_never_goes_out_after_its_carrier_number_expired(engine: Engine, tmp_path: Path) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-0")
    world.debtor(1, contract="HT-1")
    add_mediators(engine, 2, hours="08:00-20:00")
    answers = write_answers(tmp_path / "answers.csv", [0, 1])
    # Valid through Wednesday 2026-11-25 in Shanghai.
    carrier_repair(engine, sandbox(answers, validity_days=1), SANDBOX, as_of=NOW)
    with engine.connect() as connection:
        ids = dict(connection.execute(select(Dispatch.debtor_id, Dispatch.id)).all())
    channels = outbox_channels(tmp_path / "outbox.jsonl")

    before = make_sender(engine, channels, now=NOW + DAY)  # Wednesday noon: still valid
    assert before.send(ids[world.debtors[0]]).result == "delivered"
    after = make_sender(engine, channels, now=NOW + 2 * DAY)  # Thursday noon: expired
    assert after.send(ids[world.debtors[1]]).result == "blocked"
    with Session(engine) as session:
        blocked = session.get(Dispatch, ids[world.debtors[1]])
        assert blocked is not None and (blocked.state, blocked.rule) == ("blocked", "carrier_number_expired")
        decision = session.execute(
            select(DispatchDecision).where(DispatchDecision.dispatch_id == blocked.id)
        ).scalar_one()
        assert not decision.allowed and "expired" in decision.reason
    assert after.send(ids[world.debtors[1]]).result == "done"  # blocked for good, never sent later
    channels.close()


def test_a_number_about_to_expire_is_renewed_while_the_case_is_open(engine: Engine, tmp_path: Path) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-0")
    world.debtor(1, contract="HT-1")
    add_mediators(engine, 1)
    answers = write_answers(tmp_path / "answers.csv", [0, 1])
    carrier_repair(engine, sandbox(answers, validity_days=5), SANDBOX, as_of=NOW)  # through 11-29
    with engine.begin() as connection:  # debtor 1's case closes
        connection.execute(update(Debtor).where(Debtor.id == world.debtors[1]).values(status="closed"))

    early = NOW + DAY  # 4.5 days left: not yet
    counts = carrier_repair(engine, sandbox(answers, early, 5), SANDBOX, as_of=early)
    assert counts.carrier_requested == 0

    due = NOW + 3 * DAY  # 2.5 days left: renew
    counts = carrier_repair(engine, sandbox(answers, due, 5), SANDBOX, as_of=due)
    assert (counts.carrier_requested, counts.carrier_renewals_requested, counts.carrier_renewed) == (1, 1, 1)
    assert counts.carrier_dispatches_planned == 0  # the same number: the mediator has it already
    with engine.connect() as connection:
        numbers = connection.execute(
            select(CarrierNumber.debtor_id, CarrierNumber.value, CarrierNumber.expires_at)
        ).all()
        assert sorted(numbers) == sorted([
            (world.debtors[0], carrier_phone(0), dt.datetime(2026, 12, 3, tzinfo=SHANGHAI)),  # moved
            (world.debtors[1], carrier_phone(1), dt.datetime(2026, 11, 30, tzinfo=SHANGHAI)),  # closed: kept
        ])  # fmt: skip
        assert connection.scalar(select(func.count()).select_from(Dispatch)) == 2
    [renewal] = [r for r in requests_of(engine, world.debtors[0]) if r.renewal]
    assert renewal.state == "answered" and renewal.authorisation_reference == "HT-0"
    assert [e.subject_id for e in audits(engine, "carrier.renewed")] == [world.debtors[0]]

    counts = carrier_repair(engine, sandbox(answers, due, 5), SANDBOX, as_of=due + dt.timedelta(hours=1))
    assert counts.carrier_requested == 0  # renewed once, not every pass


class PrivacyNumbers(FlakyConnector):
    """A carrier that reveals no number: each repaired debtor is reached through a binding."""

    def query(self, batch_id: str) -> list[RepairResult]:
        return [dataclasses.replace(result, phones=()) for result in self.inner.query(batch_id)]


def test_without_a_number_in_the_answer_a_virtual_number_is_bound_to_the_mediator_within_hours(
    engine: Engine, tmp_path: Path
) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-0")
    answers = write_answers(tmp_path / "answers.csv", [0])
    night = NOW + dt.timedelta(hours=11)  # 23:00 in Shanghai: the provider binds 08:00-21:30 only
    clock = [night]
    carrier = PrivacyNumbers(SandboxRepairConnector(answers_path=answers, clock=lambda: clock[0]))

    counts = carrier_repair(engine, carrier, SANDBOX, as_of=night)
    assert (counts.carrier_answered, counts.carrier_waiting_bind, counts.carrier_repaired) == (1, 1, 0)
    [request] = requests_of(engine, world.debtors[0])
    assert request.last_error == "no active mediator to bind the virtual number to"

    add_mediators(engine, 1)
    counts = carrier_repair(engine, carrier, SANDBOX, as_of=night)
    assert (counts.carrier_waiting_bind, counts.carrier_repaired) == (1, 0)
    [request] = requests_of(engine, world.debtors[0])
    assert "OutsideProviderWindow" in (request.last_error or "") and world.status(0) == "lost"

    clock[0] = morning = NOW + DAY - dt.timedelta(hours=2)  # 10:00 the next day
    counts = carrier_repair(engine, carrier, SANDBOX, as_of=morning)
    assert (counts.carrier_requested, counts.carrier_repaired, counts.carrier_dispatches_planned) == (0, 1, 1)
    assert dispatches(engine) == {world.debtors[0]: [carrier_phone(0)]}
    [request] = requests_of(engine, world.debtors[0])
    assert (request.state, request.token) == ("answered", None)
    assert carrier_repair(engine, carrier, SANDBOX, as_of=morning).carrier_repaired == 0


def test_debtors_repaired_before_any_mediator_existed_are_dispatched_when_one_is_added(
    engine: Engine, tmp_path: Path
) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-0")
    answers = write_answers(tmp_path / "answers.csv", [0])
    counts = carrier_repair(engine, sandbox(answers), SANDBOX, as_of=NOW)
    assert (counts.carrier_repaired, counts.carrier_dispatches_unassigned) == (1, 1)
    assert dispatches(engine) == {}
    add_mediators(engine, 1)
    with Session(engine) as session, session.begin():
        assert plan_undispatched(session, NOW + DAY).planned == 1
    assert dispatches(engine) == {world.debtors[0]: [carrier_phone(0)]}


class LateCarrier(FlakyConnector):
    """Answers with numbers whose due date has already passed when the answer arrives."""

    def query(self, batch_id: str) -> list[RepairResult]:
        return [
            dataclasses.replace(result, valid_until=NOW - DAY) if result.phones else result
            for result in self.inner.query(batch_id)
        ]


def test_an_answer_already_past_its_due_date_fails_clearly_and_dispatches_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="13812345678")  # a contract number that looks like a phone: masked in the audit
    add_mediators(engine, 1)
    answers = write_answers(tmp_path / "answers.csv", [0])
    counts = carrier_repair(engine, LateCarrier(sandbox(answers)), SANDBOX, as_of=NOW)
    assert (counts.carrier_answered, counts.carrier_failed, counts.carrier_repaired) == (1, 1, 0)
    [request] = requests_of(engine, world.debtors[0])
    assert request.state == "failed" and "past its due date" in (request.last_error or "")
    assert world.status(0) == "lost" and dispatches(engine) == {}
    [entry] = audits(engine, "carrier.requested")
    assert entry.detail["authorisation"]["reference"] != "13812345678"
    assert find_personal_data(json.dumps(entry.detail)) is None


def test_ranking_puts_the_carrier_number_first_and_sends_nothing_twice(
    engine: Engine, tmp_path: Path
) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-2025-0001")
    add_mediators(engine, 1)
    answers = write_answers(tmp_path / "answers.csv", [0])
    carrier_repair(engine, sandbox(answers), SANDBOX, run_id=world.run_id, as_of=NOW)
    with Session(engine) as session, session.begin():
        counts = repair_contacts(session, world.run_id, as_of=NOW.date(), now=NOW)
        top = session.execute(
            select(ContactRanking.value, ContactRanking.sources, ContactRanking.confidence)
            .where(ContactRanking.debtor_id == world.debtors[0], ContactRanking.rank == 1,
                   ContactRanking.channel == "phone")
        ).one()  # fmt: skip
    assert top.value == carrier_phone(0) and top.sources[0]["source"] == "carrier" and top.confidence > 0.9
    assert counts.dispatches_planned == 0 and dispatches(engine) == {world.debtors[0]: [carrier_phone(0)]}
    # Expired, it no longer ranks at all.
    with Session(engine) as session, session.begin():
        repair_contacts(session, world.run_id, as_of=NOW.date(), now=NOW + 40 * DAY)
        values = session.scalars(
            select(ContactRanking.value).where(ContactRanking.debtor_id == world.debtors[0])
        ).all()
    assert carrier_phone(0) not in values


class _DigitBatchIds(FlakyConnector):
    """A carrier whose batch ids hold an eleven-digit run, as hex ids do now and then."""

    def __init__(self, inner: RepairConnector) -> None:
        super().__init__(inner)
        self.ids: dict[str, str] = {}

    def submit(self, requests: Sequence[RepairRequest]) -> str:
        inner = super().submit(requests)
        outer = f"b{13812345678 + len(self.ids)}f"
        self.ids[outer] = inner
        return outer

    def query(self, batch_id: str) -> list[RepairResult]:
        return [dataclasses.replace(r, batch_id=batch_id) for r in super().query(self.ids[batch_id])]


def test_a_batch_id_that_looks_like_a_phone_is_masked_in_the_audit_not_a_crash(
    engine: Engine, tmp_path: Path
) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-2025-0001")
    add_mediators(engine, 1)
    connector = _DigitBatchIds(sandbox(write_answers(tmp_path / "answers.csv", [0])))
    counts = carrier_repair(engine, connector, SANDBOX, run_id=world.run_id, as_of=NOW)
    assert counts.carrier_repaired == 1
    [entry] = audits(engine, "carrier.requested")
    assert "13812345678" not in json.dumps(entry.detail) and entry.detail["batch_id"].startswith("b138")
