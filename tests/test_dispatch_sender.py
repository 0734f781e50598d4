"""Sending one dispatch: the policy gate, the claim, the outbox, retries, and the state it ends in.

Every test runs on an injected clock: WORKDAY_NOON (Tuesday 12:00 in Shanghai) everyone may be
contacted, WORKDAY_NIGHT (23:00) nobody may.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
from dispatch_support import (
    MEDIATOR_PHONES,
    WORKDAY_NIGHT,
    WORKDAY_NOON,
    add_mediators,
    debtor_phone,
    make_debtors,
    outbox_channels,
    plan_for,
)
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.orm import Session

from connectors.base import Binding, BindRequest, DeliveryStatus, SendResult, SmsMessage
from connectors.errors import PermanentError, RetryableError
from connectors.outbox import read_outbox
from contactfix.db.dispatch_models import Dispatch, DispatchDecision, DoNotContact
from contactfix.db.engine import make_engine
from contactfix.db.models import Contact, ContactStatus, Debtor
from contactfix.dispatch.channels import Channels, ChannelsConfig, RateLimit
from contactfix.dispatch.ratelimit import RateLimiter, connector_key, recipient_key
from contactfix.dispatch.sender import DispatchSender, SenderSettings, backoff_seconds
from contactfix.dispatch.snapshot import Snapshot
from contactfix.policy import Decision, load_profile

# The ``engine`` fixture: an upgraded, empty database, once on SQLite and once on PostgreSQL.
pytest_plugins = ["dispatch_db"]

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# The morning after WORKDAY_NIGHT, 08:00 in Shanghai: when mediator (08:00-20:00) and debtor both allow.
NEXT_MORNING = dt.datetime(2026, 11, 25, 8, 0, tzinfo=SHANGHAI)
CASE = "（2025）闽0103民初{}号"
MEDIATOR_HOURS = "08:00-20:00"


class Clock:
    """A clock the test moves."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class FakeSms:
    """An SMS connector whose answer the test sets: an exception to raise, or a status to report."""

    def __init__(self, *errors: Exception, status: DeliveryStatus = DeliveryStatus.DELIVERED) -> None:
        self.errors = list(errors)
        self.status = status
        self.sent: list[SmsMessage] = []

    def send(self, message: SmsMessage) -> SendResult:
        self.sent.append(message)
        if self.errors:
            raise self.errors.pop(0)
        return SendResult((f"fake-{len(self.sent)}",), self.status, "fake")

    def close(self) -> None:
        pass


def fake_channels(sms: Any) -> Channels:
    config = ChannelsConfig(
        sms="outbox", call=None, options={}, limits={"outbox": RateLimit(1000.0, 1000.0)},
        recipient_limit=RateLimit(1000.0, 1000.0),
    )  # fmt: skip
    return Channels(config, sms, None)


def sender(engine: Engine, channels: Channels, clock: Clock, **settings: Any) -> DispatchSender:
    return DispatchSender(
        engine, channels, load_profile("cn"), SenderSettings(**settings), clock=clock, draw=lambda: 0.5
    )


def row(engine: Engine, dispatch_id: int = 1) -> Dispatch:
    with Session(engine) as session:
        found = session.get(Dispatch, dispatch_id)
        assert found is not None
        return found


def decisions(engine: Engine, dispatch_id: int = 1) -> list[DispatchDecision]:
    with Session(engine) as session:
        query = select(DispatchDecision).where(DispatchDecision.dispatch_id == dispatch_id)
        return list(session.scalars(query.order_by(DispatchDecision.id)))


def make_dispatches(engine: Engine, count: int, mediators: int = 2, hours: str = MEDIATOR_HOURS) -> None:
    """Debtors and pending dispatches to ``mediators`` mediators who work ``hours`` (Shanghai time)."""
    debtors = make_debtors(engine, count)
    add_mediators(engine, mediators, hours)
    plan_for(engine, debtors)


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox.jsonl"


# --- the way it should go ----------------------------------------------------------------------------


def test_at_noon_each_dispatch_is_delivered_once_with_its_key(engine: Engine, outbox: Path) -> None:
    make_dispatches(engine, 3)
    worker = sender(engine, outbox_channels(outbox), Clock(WORKDAY_NOON))
    assert [worker.send(n).result for n in (1, 2, 3)] == ["delivered"] * 3
    assert [worker.send(n).result for n in (1, 2, 3)] == ["done"] * 3  # a redelivered task: nothing
    assert worker.send(99).result == "missing"

    entries = read_outbox(outbox)
    assert Counter(entry["kind"] for entry in entries) == {"sms": 3, "bind": 3}
    for number in (1, 2, 3):
        dispatch = row(engine, number)
        key = dispatch.idempotency_key
        [sms] = [e for e in entries if e["kind"] == "sms" and e["idempotency_key"] == key]
        [bind] = [e for e in entries if e["kind"] == "bind" and e["caller"] == sms["to"]
                  and e["number"] == debtor_phone(number - 1)]  # fmt: skip
        assert bind["idempotency_key"] == hashlib.sha256(f"bind\x1f{key}".encode()).hexdigest()
        assert sms["to"] == MEDIATOR_PHONES[(number - 1) % 2]
        assert CASE.format(number) in sms["text"] and "张*丰" in sms["text"]
        assert "张三丰" not in sms["text"]
        assert debtor_phone(number - 1)[3:] not in sms["text"]  # the national number, with or without +86
        assert sms["metadata"] == {"dispatch_id": str(number)}
        assert (dispatch.state, dispatch.attempts, dispatch.connector) == ("delivered", 1, "outbox")
        assert dispatch.provider_message_id == sms["provider_message_id"]
        assert dispatch.binding_id == bind["binding_id"]
        assert dispatch.sent_at == WORKDAY_NOON == dispatch.finished_at
        assert dispatch.lease_until is None and dispatch.last_error is None
        [decision] = decisions(engine, number)
        assert (decision.allowed, decision.rule, decision.at, decision.defer_until) == (
            True, "allowed", WORKDAY_NOON, None,
        )  # fmt: skip


def test_without_a_call_connector_the_text_masks_the_number(engine: Engine, outbox: Path) -> None:
    make_dispatches(engine, 1)
    worker = sender(engine, outbox_channels(outbox, call=False), Clock(WORKDAY_NOON))
    assert worker.send(1).result == "delivered"
    [sms] = read_outbox(outbox)
    debtor_id = row(engine).debtor_id
    assert "+86 139****0000" in sms["text"]
    assert f" http://127.0.0.1:8000/cases/{debtor_id} " in sms["text"]  # the case page, between spaces
    assert "contactfix" not in sms["text"]  # a mediator has no shell on the server
    assert row(engine).binding_id is None


def test_the_text_links_to_the_configured_address(engine: Engine, outbox: Path) -> None:
    make_dispatches(engine, 1)
    base = "https://tiaojie.example.cn/m/"
    worker = sender(engine, outbox_channels(outbox, call=False), Clock(WORKDAY_NOON), public_base_url=base)
    assert worker.send(1).result == "delivered"
    [sms] = read_outbox(outbox)
    assert f" https://tiaojie.example.cn/m/cases/{row(engine).debtor_id} " in sms["text"]


def test_a_provider_that_only_accepted_the_text_leaves_it_sent(engine: Engine) -> None:
    make_dispatches(engine, 2)
    accepted = FakeSms(status=DeliveryStatus.SENT)
    assert sender(engine, fake_channels(accepted), Clock(WORKDAY_NOON)).send(1).result == "sent"
    dispatch = row(engine)
    assert (dispatch.state, dispatch.provider_message_id, dispatch.sent_at) == (
        "sent",
        "fake-1",
        WORKDAY_NOON,
    )
    assert dispatch.finished_at is None and dispatch.lease_until is None
    rejected = FakeSms(status=DeliveryStatus.REJECTED)
    assert sender(engine, fake_channels(rejected), Clock(WORKDAY_NOON)).send(2).result == "failed"
    assert row(engine, 2).finished_at == WORKDAY_NOON


class PrivacyNumbers:
    """A call connector that grants an AXB-style privacy number (X) for 72 hours."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.requests: list[BindRequest] = []

    def bind(self, request: BindRequest) -> Binding:
        self.requests.append(request)
        if self.errors:
            raise self.errors.pop(0)
        return Binding("1000000768790001:17100001111", request.caller, "+8617100001111", True, "fake",
                       request.expires_at)  # fmt: skip

    def unbind(self, binding_id: str) -> None:
        pass


def test_with_a_privacy_number_the_text_carries_x_never_the_debtors_number(engine: Engine) -> None:
    make_dispatches(engine, 1)
    sms, calls = FakeSms(), PrivacyNumbers()
    channels = Channels(fake_channels(sms).config, sms, calls)
    assert sender(engine, channels, Clock(WORKDAY_NOON), binding_hours=72.0).send(1).result == "delivered"
    [request] = calls.requests
    assert (request.caller, request.callee) == (MEDIATOR_PHONES[0], debtor_phone(0))
    assert request.expires_at == WORKDAY_NOON + dt.timedelta(hours=72)
    [message] = sms.sent
    assert "17100001111" in message.text and "11-27 12:00" in message.text  # until when, Shanghai time
    assert debtor_phone(0)[3:] not in message.text and "139****" not in message.text
    assert CASE.format(1) in message.text
    assert row(engine).binding_id == "1000000768790001:17100001111"


def test_a_call_path_refused_for_good_fails_the_dispatch_without_a_text(engine: Engine) -> None:
    make_dispatches(engine, 1)
    sms, calls = FakeSms(), PrivacyNumbers(PermanentError("isv.NUMBER_ILLEGAL for 13900000000"))
    channels = Channels(fake_channels(sms).config, sms, calls)
    assert sender(engine, channels, Clock(WORKDAY_NOON)).send(1).result == "failed"
    assert sms.sent == [] and "13900000000" not in (row(engine).last_error or "")


# --- the policy gate ---------------------------------------------------------------------------------


def test_at_night_it_waits_for_the_morning_then_goes(engine: Engine, outbox: Path) -> None:
    make_dispatches(engine, 1)
    clock = Clock(WORKDAY_NIGHT)
    worker = sender(engine, outbox_channels(outbox), clock)
    assert worker.send(1).result == "deferred"
    dispatch = row(engine)
    assert (dispatch.state, dispatch.rule, dispatch.attempts) == ("deferred", "mediator_hours", 0)
    assert dispatch.next_attempt_at == NEXT_MORNING
    [decision] = decisions(engine)
    assert (decision.allowed, decision.rule, decision.defer_until) == (False, "mediator_hours", NEXT_MORNING)
    assert "2026-11-25 08:00" in decision.reason and decision.at == WORKDAY_NIGHT
    assert read_outbox(outbox) == []

    clock.now = NEXT_MORNING - dt.timedelta(seconds=1)
    assert worker.send(1).result == "not_due"
    assert len(decisions(engine)) == 1 and read_outbox(outbox) == []
    clock.now = NEXT_MORNING
    assert worker.send(1).result == "delivered"
    assert [d.allowed for d in decisions(engine)] == [False, True]
    assert row(engine).sent_at == NEXT_MORNING
    assert Counter(e["kind"] for e in read_outbox(outbox)) == {"sms": 1, "bind": 1}


def test_friday_night_waits_for_monday_morning(engine: Engine) -> None:
    make_dispatches(engine, 1)
    friday_night = dt.datetime(2026, 11, 27, 23, 0, tzinfo=SHANGHAI)
    assert sender(engine, fake_channels(FakeSms()), Clock(friday_night)).send(1).result == "deferred"
    assert row(engine).next_attempt_at == dt.datetime(2026, 11, 30, 8, 0, tzinfo=SHANGHAI)


def test_the_mediators_own_hours_are_respected(engine: Engine) -> None:
    make_dispatches(engine, 1, mediators=1, hours="13:00-14:00")
    clock = Clock(WORKDAY_NOON)
    sms = FakeSms()
    worker = sender(engine, fake_channels(sms), clock)
    assert worker.send(1).result == "deferred"
    one_pm = dt.datetime(2026, 11, 24, 13, 0, tzinfo=SHANGHAI)
    assert (row(engine).rule, row(engine).next_attempt_at) == ("mediator_hours", one_pm)
    clock.now = one_pm
    assert worker.send(1).result == "delivered" and len(sms.sent) == 1


def test_the_debtors_hours_hold_a_text_the_mediator_could_take(engine: Engine) -> None:
    """The text hands the mediator a call to the debtor: it waits until the debtor may be called."""
    make_dispatches(engine, 1, mediators=1, hours="06:00-23:00")
    seven = dt.datetime(2026, 11, 24, 7, 0, tzinfo=SHANGHAI)
    assert sender(engine, fake_channels(FakeSms()), Clock(seven)).send(1).result == "deferred"
    assert (row(engine).rule, row(engine).next_attempt_at) == ("quiet_hours", seven + dt.timedelta(hours=1))


def _object(engine: Engine) -> None:
    with engine.begin() as connection:
        record = connection.execute(select(Debtor.source_record_id).where(Debtor.id == 1)).scalar_one()
        connection.execute(
            insert(Contact).values(
                source_record_id=record, channel="phone", value=debtor_phone(0),
                status=ContactStatus.OBJECTED.value,
            )
        )  # fmt: skip


def _do_not_contact(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(DoNotContact).values(channel="phone", value=debtor_phone(0), reason="complaint")
        )


@pytest.mark.parametrize(("stop", "rule"), [(_do_not_contact, "do_not_contact"), (_object, "objection")])
def test_a_stopped_contact_is_blocked_for_good(engine: Engine, outbox: Path, stop: Any, rule: str) -> None:
    make_dispatches(engine, 2)
    stop(engine)
    clock = Clock(WORKDAY_NIGHT)  # a stop outranks the hours: blocked, not deferred
    worker = sender(engine, outbox_channels(outbox), clock)
    assert worker.send(1).result == "blocked"
    dispatch = row(engine)
    assert (dispatch.state, dispatch.rule, dispatch.next_attempt_at) == ("blocked", rule, None)
    assert dispatch.finished_at == WORKDAY_NIGHT and dispatch.attempts == 0
    [decision] = decisions(engine)
    assert (decision.allowed, decision.rule, decision.defer_until) == (False, rule, None)
    clock.now = NEXT_MORNING
    assert worker.send(1).result == "done"
    assert worker.send(2).result == "delivered"  # another debtor's number is not stopped
    assert [e["idempotency_key"] for e in read_outbox(outbox) if e["kind"] == "sms"] == [
        row(engine, 2).idempotency_key
    ]


# --- errors and retries ------------------------------------------------------------------------------


def test_retryable_errors_back_off_under_a_lease_then_the_dispatch_is_dead(engine: Engine) -> None:
    make_dispatches(engine, 1)
    failing = FakeSms(*[RetryableError("SMSC timeout sending to 13912345678") for _ in range(3)])
    clock = Clock(WORKDAY_NOON)
    worker = sender(engine, fake_channels(failing), clock, max_attempts=3, backoff_base_s=2.0,
                    backoff_cap_s=240.0, lease_s=120.0)  # fmt: skip

    first = worker.send(1)
    assert (first.result, first.retry_in) == ("retrying", 1.5)  # base 2 s, half of it jittered at 0.5
    dispatch = row(engine)
    until = WORKDAY_NOON + dt.timedelta(seconds=1.5)
    assert (dispatch.state, dispatch.attempts, dispatch.lease_until, dispatch.next_attempt_at) == (
        "sending", 1, until, until,
    )  # fmt: skip
    assert dispatch.last_error is not None and "13912345678" not in dispatch.last_error
    assert dispatch.last_error.startswith("RetryableError: SMSC timeout")

    clock.advance(1.0)
    assert worker.send(1).result == "taken"  # the back-off holds the claim: no other worker sends
    assert len(failing.sent) == 1
    clock.now = until
    second = worker.send(1)
    assert (second.result, second.retry_in) == ("retrying", 3.0)
    clock.advance(3.0)
    assert worker.send(1).result == "dead"
    dispatch = row(engine)
    assert (dispatch.state, dispatch.attempts, dispatch.lease_until) == ("dead", 3, None)
    assert dispatch.finished_at == clock.now and dispatch.sent_at is None
    assert dispatch.last_error is not None and "13912345678" not in dispatch.last_error
    assert len(failing.sent) == 3
    clock.advance(3600)
    assert worker.send(1).result == "done"


def test_a_retry_that_falls_outside_the_hours_is_deferred(engine: Engine) -> None:
    make_dispatches(engine, 1)
    sms = FakeSms(RetryableError("throttled"))
    evening = dt.datetime(2026, 11, 24, 19, 59, 59, tzinfo=SHANGHAI)  # one second before 20:00
    clock = Clock(evening)
    worker = sender(engine, fake_channels(sms), clock)
    assert worker.send(1).result == "retrying"
    clock.advance(5)
    assert worker.send(1).result == "deferred"
    dispatch = row(engine)
    assert (dispatch.state, dispatch.attempts, dispatch.next_attempt_at) == ("deferred", 1, NEXT_MORNING)
    assert dispatch.lease_until is None
    clock.now = NEXT_MORNING
    assert worker.send(1).result == "delivered"
    assert row(engine).attempts == 2 and len(sms.sent) == 2


def test_a_permanent_error_fails_the_dispatch_at_once(engine: Engine) -> None:
    make_dispatches(engine, 1)
    sms = FakeSms(PermanentError("invalid number +8613912345678"))
    worker = sender(engine, fake_channels(sms), Clock(WORKDAY_NOON), max_attempts=5)
    outcome = worker.send(1)
    assert (outcome.result, outcome.retry_in) == ("failed", None)
    dispatch = row(engine)
    assert (dispatch.state, dispatch.attempts, dispatch.finished_at) == ("failed", 1, WORKDAY_NOON)
    assert dispatch.last_error is not None and "PermanentError" in dispatch.last_error
    assert "13912345678" not in dispatch.last_error
    assert worker.send(1).result == "done" and len(sms.sent) == 1


@pytest.mark.parametrize("attempt", range(0, 14))
def test_backoff_grows_twice_over_is_capped_and_half_jittered(attempt: int) -> None:
    ceiling = min(240.0, 2.0 * 2 ** max(attempt - 1, 0))
    assert backoff_seconds(attempt, 2.0, 240.0, lambda: 0.0) == ceiling / 2
    assert backoff_seconds(attempt, 2.0, 240.0, lambda: 1.0) == ceiling
    assert ceiling / 2 <= backoff_seconds(attempt, 2.0, 240.0) <= ceiling <= 240.0
    assert backoff_seconds(attempt + 1, 2.0, 240.0, lambda: 1.0) >= ceiling


# --- claims ------------------------------------------------------------------------------------------


class Killed(BaseException):
    """The worker dies (SIGKILL) after the provider took the text, before the row says so."""


class DiesAfterSending:
    def __init__(self, channels: Channels) -> None:
        self.inner = channels.sms

    def send(self, message: SmsMessage) -> SendResult:
        self.inner.send(message)
        raise Killed

    def close(self) -> None:
        pass


def test_a_claim_held_by_another_worker_is_taken_over_only_after_its_lease(
    engine: Engine, outbox: Path
) -> None:
    make_dispatches(engine, 1)
    clock = Clock(WORKDAY_NOON)
    channels = outbox_channels(outbox)
    dying = sender(engine, Channels(channels.config, DiesAfterSending(channels), channels.call), clock,
                   lease_s=60.0)  # fmt: skip
    with pytest.raises(Killed):
        dying.send(1)
    dispatch = row(engine)
    assert (dispatch.state, dispatch.attempts) == ("sending", 1)
    assert dispatch.lease_until == WORKDAY_NOON + dt.timedelta(seconds=60)

    other = sender(engine, outbox_channels(outbox), clock, lease_s=60.0)
    clock.advance(59)
    assert other.send(1).result == "taken"
    clock.advance(1)
    assert other.send(1).result == "delivered"
    assert (row(engine).state, row(engine).attempts) == ("delivered", 2)
    assert Counter(entry["kind"] for entry in read_outbox(outbox)) == {"sms": 1, "bind": 1}


def test_two_senders_racing_on_one_dispatch_claim_it_once(
    engine: Engine, engine_url: str, outbox: Path
) -> None:
    make_dispatches(engine, 1)
    barrier = threading.Barrier(2, timeout=30)

    class Racing(DispatchSender):
        def _claim_many(
            self, connection: Connection, ready: list[tuple[Snapshot, Decision]], now: dt.datetime
        ) -> dict[int, int]:
            barrier.wait()  # both have passed the gate; now both try to claim
            return super()._claim_many(connection, ready, now)

    results: list[str] = []
    engines = [make_engine(engine_url) for _ in range(2)]
    racers = [
        Racing(e, outbox_channels(outbox), load_profile("cn"), SenderSettings(), clock=lambda: WORKDAY_NOON)
        for e in engines
    ]
    threads = [threading.Thread(target=lambda s=s: results.append(s.send(1).result)) for s in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for e in engines:
        e.dispose()
    assert sorted(results) == ["delivered", "taken"]
    assert row(engine).attempts == 1
    assert Counter(entry["kind"] for entry in read_outbox(outbox)) == {"sms": 1, "bind": 1}


# --- shared rate limits ------------------------------------------------------------------------------


@pytest.mark.redis
def test_the_recipient_rate_limit_holds_the_second_text(engine: Engine, redis_url: str) -> None:
    make_dispatches(engine, 2, mediators=1)
    client = redis.Redis.from_url(redis_url)
    client.delete(connector_key("outbox"), recipient_key(MEDIATOR_PHONES[0]))
    client.close()
    config = ChannelsConfig(
        sms="outbox", call=None, options={}, limits={"outbox": RateLimit(1000.0, 1000.0)},
        recipient_limit=RateLimit(1 / 60, 1.0),
    )  # fmt: skip
    sms = FakeSms()
    seconds = [1_900_000_000.0]
    worker = DispatchSender(
        engine, Channels(config, sms, None), load_profile("cn"), SenderSettings(),
        limiter=RateLimiter.from_url(redis_url, clock=lambda: seconds[0]), clock=lambda: WORKDAY_NOON,
    )  # fmt: skip
    assert worker.send(1).result == "delivered"
    held = worker.send(2)
    assert held.result == "rate_limited" and held.retry_in == pytest.approx(60.0)
    assert row(engine, 2).state == "pending" and len(sms.sent) == 1
    seconds[0] += 60
    assert worker.send(2).result == "delivered"


def test_a_dispatch_whose_row_changed_meanwhile_is_left_alone(engine: Engine) -> None:
    """A final state written by someone else (a receipt) is never overwritten by the sender's end."""
    make_dispatches(engine, 1)
    with engine.begin() as connection:
        connection.execute(update(Dispatch).where(Dispatch.id == 1).values(state="delivered"))
    assert sender(engine, fake_channels(FakeSms()), Clock(WORKDAY_NOON)).send(1).result == "done"
    assert decisions(engine) == []


def test_a_bug_in_one_send_keeps_the_outcomes_of_the_batch_before_it(engine: Engine, outbox: Path) -> None:
    make_dispatches(engine, 3)
    real = outbox_channels(outbox)

    class BrokenThird:
        def send(self, message: SmsMessage) -> SendResult:
            if message.metadata["dispatch_id"] == "3":
                raise KeyError("a bug, not a provider error")
            return real.sms.send(message)

        def close(self) -> None:
            pass

    worker = sender(engine, Channels(real.config, BrokenThird(), real.call), Clock(WORKDAY_NOON))
    with pytest.raises(KeyError):
        worker.send_many([1, 2, 3])
    assert [row(engine, n).state for n in (1, 2, 3)] == ["delivered", "delivered", "sending"]


def test_the_text_names_the_court_case_of_the_debtors_identity(engine: Engine, outbox: Path) -> None:
    """The bank record has no case number; the court record linked to it in one identity does."""
    from contactfix.db.identity_models import Identity, IdentityMember, ReconcileRun
    from contactfix.db.models import SourceRecord

    make_dispatches(engine, 2)
    with Session(engine) as session, session.begin():
        session.execute(update(SourceRecord).values(case_year=None, court_code=None, case_type=None,
                                                    case_sequence=None))  # fmt: skip
        court = SourceRecord(
            source="court", record_key="court:1", name_original="张三丰", name="张三丰", case_year=2024,
            court_code="闽0103", case_type="民初", case_sequence=1234,
        )  # fmt: skip
        run, identity = ReconcileRun(status="completed", full=True), Identity()
        session.add_all([court, run, identity])
        session.flush()
        debtor = session.get(Debtor, 1)
        assert debtor is not None
        for record_id in (debtor.source_record_id, court.id):
            session.add(IdentityMember(source_record_id=record_id, identity_id=identity.id, probability=1.0,
                                       run_id=run.id))  # fmt: skip
    worker = sender(engine, outbox_channels(outbox), Clock(WORKDAY_NOON))
    assert [worker.send(n).result for n in (1, 2)] == ["delivered", "delivered"]
    texts = {e["metadata"]["dispatch_id"]: e["text"] for e in read_outbox(outbox) if e["kind"] == "sms"}
    assert "案件（2024）闽0103民初1234号" in texts["1"]
    assert "案件R0000001" in texts["2"]  # no case anywhere in its identity: the bank's reference
