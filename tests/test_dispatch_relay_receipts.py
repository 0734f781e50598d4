"""From the database to the queue (the relay), and the providers' later word back (receipts, call records)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dispatch_support import WORKDAY_NOON, add_mediators, debtor_phone, make_debtors, plan_for
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from connectors.base import DeliveryStatus, SendResult, SmsMessage
from contactfix.db.dispatch_models import CallAttempt, Dispatch
from contactfix.dispatch.channels import Channels, ChannelsConfig, RateLimit
from contactfix.dispatch.receipts import Receipt, apply_receipts, dispatch_of_binding, record_calls
from contactfix.dispatch.relay import due_dispatches, relay, relay_batches
from contactfix.dispatch.sender import DispatchSender, SenderSettings
from contactfix.policy import load_profile

# The ``engine`` fixture: an upgraded, empty database, once on SQLite and once on PostgreSQL.
pytest_plugins = ["dispatch_db"]

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = WORKDAY_NOON
REQUEUE_S = 60.0


def make_dispatches(engine: Engine, count: int) -> None:
    """``count`` pending dispatches to two mediators who work 08:00-20:00 (Shanghai time)."""
    debtors = make_debtors(engine, count)
    add_mediators(engine, 2, "08:00-20:00")
    plan_for(engine, debtors)


def set_rows(engine: Engine, values: dict[int, dict[str, Any]]) -> None:
    with engine.begin() as connection:
        for dispatch_id, changes in values.items():
            connection.execute(update(Dispatch).where(Dispatch.id == dispatch_id).values(**changes))


def states(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        return {
            dispatch_id: state
            for dispatch_id, state in connection.execute(select(Dispatch.id, Dispatch.state))
        }


def row(engine: Engine, dispatch_id: int) -> Dispatch:
    with Session(engine) as session:
        found = session.get(Dispatch, dispatch_id)
        assert found is not None
        return found


def at(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


class Queue:
    """An enqueue that records ids, and fails on the calls the test names (the broker is down)."""

    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.ids: list[int] = []
        self.calls = 0
        self.fail_on = fail_on or set()

    def __call__(self, dispatch_id: int) -> None:
        self.calls += 1
        if self.calls in self.fail_on:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.ids.append(dispatch_id)


# --- the relay ---------------------------------------------------------------------------------------


def test_the_relay_enqueues_exactly_what_is_due(engine: Engine) -> None:
    make_dispatches(engine, 10)
    set_rows(engine, {
        2: {"state": "deferred", "next_attempt_at": at(-1)},      # due
        3: {"state": "deferred", "next_attempt_at": at(0)},       # due this very instant
        4: {"state": "deferred", "next_attempt_at": at(3600)},    # not yet
        5: {"state": "sending", "lease_until": at(-1), "attempts": 1},   # its worker died
        6: {"state": "sending", "lease_until": at(30), "attempts": 1},   # a worker has it
        7: {"state": "sent"}, 8: {"state": "delivered"}, 9: {"state": "blocked"}, 10: {"state": "dead"},
    })  # fmt: skip
    queue = Queue()
    assert relay(engine, queue, now=NOW, requeue_after_s=REQUEUE_S) == 4
    assert queue.ids == [1, 2, 3, 5]
    with engine.connect() as connection:
        marked = {i: when for i, when in connection.execute(select(Dispatch.id, Dispatch.enqueued_at))}
    assert {i for i, when in marked.items() if when is not None} == {1, 2, 3, 5}
    assert marked[1] == NOW
    assert states(engine)[1] == "pending"  # enqueueing changes no state


def test_recently_enqueued_rows_wait_for_requeue_after(engine: Engine) -> None:
    make_dispatches(engine, 3)
    assert relay(engine, Queue(), now=NOW, requeue_after_s=REQUEUE_S) == 3
    queue = Queue()
    assert relay(engine, queue, now=at(REQUEUE_S - 1), requeue_after_s=REQUEUE_S) == 0
    set_rows(engine, {2: {"state": "delivered"}})
    # Still pending a minute later: the broker lost them (a Redis restart); enqueue them again.
    assert relay(engine, queue, now=at(REQUEUE_S), requeue_after_s=REQUEUE_S) == 2
    assert queue.ids == [1, 3]


def test_the_relay_takes_at_most_limit_oldest_first(engine: Engine) -> None:
    make_dispatches(engine, 5)
    queue = Queue()
    assert relay(engine, queue, now=NOW, requeue_after_s=REQUEUE_S, limit=2) == 2
    assert relay(engine, queue, now=NOW, requeue_after_s=REQUEUE_S, limit=2) == 2
    assert queue.ids == [1, 2, 3, 4]
    assert due_dispatches(engine, NOW, REQUEUE_S, 10) == [5]


def test_a_failing_enqueue_stops_and_the_rows_come_back_later(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    make_dispatches(engine, 4)
    broken = Queue(fail_on={2})
    assert relay(engine, broken, now=NOW, requeue_after_s=REQUEUE_S) == 1
    assert broken.ids == [1] and broken.calls == 2  # stopped at the first failure
    assert "enqueue failed after 1 of 4" in caplog.text
    # The rows were marked before publishing: they look queued until requeue_after has passed.
    assert relay(engine, Queue(), now=at(REQUEUE_S - 1), requeue_after_s=REQUEUE_S) == 0
    queue = Queue()
    assert relay(engine, queue, now=at(REQUEUE_S), requeue_after_s=REQUEUE_S) == 4
    assert queue.ids == [1, 2, 3, 4]  # number 1 may be on its way twice: only one claim will win


# --- receipts ----------------------------------------------------------------------------------------


def sent(engine: Engine, count: int) -> list[str]:
    """``count`` dispatches the provider took (state sent), with message ids m-1, m-2, …; their keys."""
    make_dispatches(engine, count)
    set_rows(engine, {n: {"state": "sent", "provider_message_id": f"m-{n}", "sent_at": NOW}
                      for n in range(1, count + 1)})  # fmt: skip
    with engine.connect() as connection:
        return list(connection.execute(select(Dispatch.idempotency_key).order_by(Dispatch.id)).scalars())


def apply(engine: Engine, *receipts: Receipt) -> int:
    with Session(engine) as session, session.begin():
        return apply_receipts(session, receipts)


def test_a_receipt_moves_a_sent_dispatch_forward_once(engine: Engine) -> None:
    sent(engine, 3)
    delivered = Receipt(DeliveryStatus.DELIVERED, at(5), provider_message_id="m-1")
    assert apply(engine, delivered) == 1
    dispatch = row(engine, 1)
    assert (dispatch.state, dispatch.finished_at, dispatch.lease_until) == ("delivered", at(5), None)
    assert apply(engine, delivered, delivered) == 0  # duplicates change nothing
    late = [
        Receipt(DeliveryStatus.SENT, at(9), provider_message_id="m-1"),
        Receipt(DeliveryStatus.FAILED, at(9), provider_message_id="m-1"),
        Receipt(DeliveryStatus.QUEUED, at(9), provider_message_id="m-1"),
        Receipt(DeliveryStatus.UNKNOWN, at(9), provider_message_id="m-1"),
    ]
    assert apply(engine, *late) == 0
    assert (row(engine, 1).state, row(engine, 1).finished_at) == ("delivered", at(5))
    assert states(engine) == {1: "delivered", 2: "sent", 3: "sent"}


def test_out_of_order_receipts_keep_the_first_final_word(engine: Engine) -> None:
    sent(engine, 3)
    batch = [
        Receipt(DeliveryStatus.SENT, at(1), provider_message_id="m-2"),       # "sent" says nothing new
        Receipt(DeliveryStatus.REJECTED, at(3), provider_message_id="m-2"),
        Receipt(DeliveryStatus.DELIVERED, at(2), provider_message_id="m-2"),  # arrives after its sibling
        Receipt(DeliveryStatus.EXPIRED, at(4), provider_message_id="m-3"),
    ]  # fmt: skip
    assert apply(engine, *batch) == 2
    assert states(engine) == {1: "sent", 2: "failed", 3: "failed"}


def test_receipts_match_by_message_id_only_and_ignore_strangers(engine: Engine) -> None:
    sent(engine, 2)
    set_rows(engine, {2: {"provider_message_id": None}})
    strangers = [
        Receipt(DeliveryStatus.DELIVERED, at(1)),  # nothing to match by
        Receipt(DeliveryStatus.DELIVERED, at(1), provider_message_id="m-unknown"),
        Receipt(DeliveryStatus.DELIVERED, at(1), provider_message_id="m-"),
        Receipt(DeliveryStatus.DELIVERED, at(1), provider_message_id="%"),
    ]
    assert apply(engine, *strangers) == 0
    assert states(engine) == {1: "sent", 2: "sent"}
    assert apply(engine, Receipt(DeliveryStatus.DELIVERED, at(1), provider_message_id="m-1")) == 1
    assert states(engine) == {1: "delivered", 2: "sent"}


def test_one_statement_per_state_applies_a_large_push(engine: Engine) -> None:
    sent(engine, 4)
    receipts = [Receipt(DeliveryStatus.DELIVERED, at(n % 50), provider_message_id=f"m-{n}")
                for n in range(1200) if n != 4]  # fmt: skip
    receipts.append(Receipt(DeliveryStatus.EXPIRED, at(7), provider_message_id="m-1"))  # later, contrary
    assert apply(engine, *receipts) == 3  # m-1, m-2 and m-3 are ours; the rest name nothing
    assert states(engine) == {1: "delivered", 2: "delivered", 3: "delivered", 4: "sent"}
    assert [row(engine, n).finished_at for n in (1, 2, 3)] == [at(1), at(2), at(3)]


def test_receipts_leave_dispatches_that_were_not_sent_alone(engine: Engine) -> None:
    sent(engine, 4)
    set_rows(engine, {1: {"state": "pending"}, 2: {"state": "deferred"}, 3: {"state": "blocked"},
                      4: {"state": "dead"}})  # fmt: skip
    receipts = [Receipt(DeliveryStatus.DELIVERED, at(1), f"m-{n}") for n in range(1, 5)]
    assert apply(engine, *receipts) == 0
    assert states(engine) == {1: "pending", 2: "deferred", 3: "blocked", 4: "dead"}


class ReceiptFirst:
    """A provider whose delivery report arrives before its answer to the send (which says only "sent")."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def send(self, message: SmsMessage) -> SendResult:
        # The report names the provider's message id, which the dispatch does not hold yet; our key
        # (the report's OutId) never selects a dispatch, so this report finds nothing.
        assert apply(self.engine, Receipt(DeliveryStatus.DELIVERED, NOW, provider_message_id="p-1")) == 0
        return SendResult(("p-1",), DeliveryStatus.SENT, "fake")

    def close(self) -> None:
        pass


def test_a_receipt_that_beats_the_send_changes_nothing_and_a_later_one_delivers(engine: Engine) -> None:
    make_dispatches(engine, 1)
    config = ChannelsConfig("outbox", None, {}, {"outbox": RateLimit(1000, 1000)}, RateLimit(1000, 1000))
    worker = DispatchSender(engine, Channels(config, ReceiptFirst(engine), None), load_profile("cn"),
                            SenderSettings(), clock=lambda: NOW)  # fmt: skip
    worker.send(1)
    assert states(engine) == {1: "sent"}
    assert apply(engine, Receipt(DeliveryStatus.DELIVERED, NOW, provider_message_id="p-1")) == 1
    assert states(engine) == {1: "delivered"}


# --- call records and the daily call cap ----------------------------------------------------------------


def call(
    number: int, when: dt.datetime, *, answered: bool = False, dispatch_id: int | None = None
) -> CallAttempt:
    return CallAttempt(provider_call_id=f"call-{number}", value=debtor_phone(0), at=when, answered=answered,
                       dispatch_id=dispatch_id)  # fmt: skip


def test_call_records_are_stored_once_per_provider_call_id(engine: Engine) -> None:
    make_dispatches(engine, 1)
    morning = dt.datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)
    calls = [call(n, morning + dt.timedelta(minutes=n), answered=n == 0, dispatch_id=1) for n in range(3)]
    with Session(engine) as session, session.begin():
        assert record_calls(session, calls) == 3
    with Session(engine) as session, session.begin():
        again = [call(n, morning, dispatch_id=None) for n in range(4)]  # three repeats and one new
        assert record_calls(session, again) == 1
        assert record_calls(session, []) == 0
    with Session(engine) as session:
        stored = session.execute(select(CallAttempt.provider_call_id, CallAttempt.at, CallAttempt.answered,
                                        CallAttempt.dispatch_id).order_by(CallAttempt.id)).all()  # fmt: skip
    assert [tuple(r) for r in stored] == [
        ("call-0", morning, True, 1), ("call-1", morning + dt.timedelta(minutes=1), False, 1),
        ("call-2", morning + dt.timedelta(minutes=2), False, 1), ("call-3", morning, False, None),
    ]  # fmt: skip


def test_dispatch_of_binding_finds_the_dispatch_that_granted_the_call_path(engine: Engine) -> None:
    make_dispatches(engine, 2)
    set_rows(engine, {1: {"binding_id": "outbox-bind-1"}, 2: {"binding_id": "1000000768790001:17100001111"}})
    with Session(engine) as session:
        assert dispatch_of_binding(session, "outbox-bind-1") == 1
        assert dispatch_of_binding(session, "1000000768790001:17100001111") == 2
        # AXB call records name the subscription only (SubsId), not the whole binding id.
        assert dispatch_of_binding(session, "1000000768790001") == 2
        for stranger in ("100000076879000", "1000000768790001:1", "outbox-bind", "%", "unknown"):
            assert dispatch_of_binding(session, stranger) is None


class Recorder:
    def __init__(self) -> None:
        self.sent: list[SmsMessage] = []

    def send(self, message: SmsMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(("p",), DeliveryStatus.DELIVERED, "fake")

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("calls_today", "expected"), [(5, "delivered"), (6, "deferred")])
def test_six_calls_today_defer_the_dispatch_to_the_next_morning(
    engine: Engine, calls_today: int, expected: str
) -> None:
    make_dispatches(engine, 1)
    morning = dt.datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)
    yesterday = [call(100 + n, morning - dt.timedelta(hours=9, minutes=n)) for n in range(6)]  # Monday night
    today = [call(n, morning + dt.timedelta(minutes=n)) for n in range(calls_today)]
    with Session(engine) as session, session.begin():
        assert record_calls(session, [*yesterday, *today]) == 6 + calls_today
    config = ChannelsConfig("outbox", None, {}, {"outbox": RateLimit(1000, 1000)}, RateLimit(1000, 1000))
    sms = Recorder()
    worker = DispatchSender(engine, Channels(config, sms, None), load_profile("cn"), SenderSettings(),
                            clock=lambda: NOW)  # fmt: skip
    assert worker.send(1).result == expected
    dispatch = row(engine, 1)
    if expected == "deferred":
        assert (dispatch.rule, dispatch.next_attempt_at) == (
            "daily_call_cap", dt.datetime(2026, 11, 25, 8, 0, tzinfo=SHANGHAI),
        )  # fmt: skip
        assert sms.sent == []
    else:
        assert len(sms.sent) == 1
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(CallAttempt)) == 6 + calls_today


# --- batches -----------------------------------------------------------------------------------------


def test_the_relay_hands_out_due_ids_in_batches_of_the_size_asked(engine: Engine) -> None:
    make_dispatches(engine, 23)
    set_rows(engine, {4: {"state": "delivered"}})
    batches: list[list[int]] = []
    assert relay_batches(engine, batches.append, now=NOW, requeue_after_s=REQUEUE_S, batch_size=10) == 22
    assert [len(batch) for batch in batches] == [10, 10, 2]
    assert sorted(i for batch in batches for i in batch) == [i for i in range(1, 24) if i != 4]


def test_a_batch_sends_what_it_may_and_says_why_not_for_the_rest(engine: Engine, tmp_path: Any) -> None:
    from dispatch_support import outbox_channels

    make_dispatches(engine, 4)
    set_rows(engine, {2: {"state": "delivered"}, 3: {"state": "sending", "lease_until": at(60)}})
    worker = DispatchSender(
        engine, outbox_channels(tmp_path / "outbox.jsonl"), load_profile("cn"), SenderSettings(),
        clock=lambda: WORKDAY_NOON,
    )  # fmt: skip
    outcomes = worker.send_many([1, 2, 3, 4, 99, 1])
    assert {i: o.result for i, o in outcomes.items()} == {
        1: "delivered",
        2: "done",
        3: "taken",
        4: "delivered",
        99: "missing",
    }
    assert states(engine) == {1: "delivered", 2: "delivered", 3: "sending", 4: "delivered"}


def test_an_smpp_receipt_moves_its_dispatch_through_the_workers_recorder(engine: Engine) -> None:
    from connectors.base import DeliveryReceipt
    from contactfix.dispatch.service import receipt_recorder

    make_dispatches(engine, 2)
    set_rows(engine, {1: {"state": "sent", "provider_message_id": "smsc-1"}})
    record = receipt_recorder(engine)
    record(DeliveryReceipt("smsc-1", DeliveryStatus.DELIVERED, NOW))
    record(DeliveryReceipt("smsc-1", DeliveryStatus.FAILED, NOW))  # late and contrary: changes nothing
    record(DeliveryReceipt("unknown-id", DeliveryStatus.DELIVERED, NOW))
    assert states(engine) == {1: "delivered", 2: "pending"}
