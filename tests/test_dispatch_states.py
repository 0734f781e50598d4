"""The moves a dispatch may make: forward only, finals never change, ``retry-dead`` the one way back."""

from __future__ import annotations

import itertools

import pytest
from dispatch_support import make_dispatches
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from contactfix.db.dispatch_models import Dispatch, DispatchState
from contactfix.db.models import AuditEntry
from contactfix.dispatch.states import CLAIMABLE, FINAL, can_move
from contactfix.dispatch.status import retry_dead, state_counts

# The ``engine`` fixture: an upgraded, empty database, once on SQLite and once on PostgreSQL.
pytest_plugins = ["dispatch_db"]

S = DispatchState
# The life cycle in order; a move to an earlier state is a move backwards.
ORDER = [S.PENDING, S.DEFERRED, S.SENDING, S.SENT, S.DELIVERED]
ALLOWED = {
    (S.PENDING, S.DEFERRED), (S.PENDING, S.SENDING), (S.PENDING, S.BLOCKED),
    (S.DEFERRED, S.DEFERRED), (S.DEFERRED, S.SENDING), (S.DEFERRED, S.BLOCKED),
    (S.SENDING, S.SENDING), (S.SENDING, S.SENT), (S.SENDING, S.DELIVERED), (S.SENDING, S.FAILED),
    (S.SENDING, S.DEAD), (S.SENDING, S.DEFERRED), (S.SENDING, S.BLOCKED),
    (S.SENT, S.DELIVERED), (S.SENT, S.FAILED),
}  # fmt: skip


def test_final_states_are_the_four_ends_and_never_change() -> None:
    assert {S.DELIVERED, S.FAILED, S.DEAD, S.BLOCKED} == FINAL
    for final, new in itertools.product(FINAL, S):
        assert not can_move(final, new), f"{final} → {new}"


def test_exactly_the_documented_moves_are_allowed() -> None:
    moves = {(a, b) for a, b in itertools.product(S, S) if can_move(a, b)}
    assert moves == ALLOWED


@pytest.mark.parametrize(("current", "new"), [(b, a) for a, b in itertools.combinations(ORDER, 2)])
def test_no_move_goes_back_along_the_life_cycle(current: DispatchState, new: DispatchState) -> None:
    if (current, new) == (S.SENDING, S.DEFERRED):
        # A retry gated again outside the hours waits: deferred is a wait, not a step back to pending.
        assert can_move(current, new)
        return
    assert not can_move(current, new)


def test_nothing_returns_to_pending_nor_skips_the_claim() -> None:
    assert not any(can_move(state, S.PENDING) for state in S)
    # Only a worker's claim sends: pending and deferred cannot be sent, delivered, failed or dead.
    for state, new in itertools.product((S.PENDING, S.DEFERRED), (S.SENT, S.DELIVERED, S.FAILED, S.DEAD)):
        assert not can_move(state, new)
    # A dispatch that reached the provider is not deferred, blocked or retried any more.
    assert not any(can_move(S.SENT, new) for new in (S.SENDING, S.DEFERRED, S.BLOCKED, S.DEAD, S.SENT))


def test_states_given_as_text_are_the_same_as_the_enum() -> None:
    assert can_move("pending", "sending") and can_move(S.SENT, "delivered")
    assert not can_move("delivered", "sent")
    with pytest.raises(ValueError):
        can_move("pending", "lost")


def test_claimable_states_are_those_a_worker_can_take() -> None:
    assert {S.PENDING, S.DEFERRED, S.SENDING} == CLAIMABLE
    assert not CLAIMABLE & FINAL
    assert all(can_move(state, S.SENDING) for state in CLAIMABLE)


def test_retry_dead_is_the_one_way_back(engine: Engine) -> None:
    """Only dead dispatches go back to pending (attempts reset, audited); the other finals stay."""
    make_dispatches(engine, 5)
    finals = [S.DEAD, S.DEAD, S.FAILED, S.BLOCKED, S.DELIVERED]
    with engine.begin() as connection:
        for number, state in enumerate(finals, start=1):
            connection.execute(
                update(Dispatch)
                .where(Dispatch.id == number)
                .values(state=state.value, attempts=8, last_error="RetryableError: x")
            )
    with Session(engine) as session, session.begin():
        assert retry_dead(session) == 2
    with Session(engine) as session:
        rows = {d.id: d for d in session.scalars(select(Dispatch))}
        assert [rows[n].state for n in range(1, 6)] == [
            "pending",
            "pending",
            "failed",
            "blocked",
            "delivered",
        ]
        assert (rows[1].attempts, rows[1].next_attempt_at, rows[1].enqueued_at) == (0, None, None)
        assert rows[1].finished_at is None and rows[3].attempts == 8
        assert rows[1].last_error == "RetryableError: x"  # kept until the next attempt replaces it
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "dispatch.retry_dead")).one()
        assert audit.detail["count"] == 2
        assert state_counts(session) == {
            "pending": 2, "deferred": 0, "sending": 0, "sent": 0, "delivered": 1, "failed": 1, "dead": 0,
            "blocked": 1,
        }  # fmt: skip
    with Session(engine) as session, session.begin():
        assert retry_dead(session) == 0  # nothing dead: nothing moves, nothing audited
    with Session(engine) as session:
        audits = select(func.count()).where(AuditEntry.action == "dispatch.retry_dead")
        assert session.scalar(audits) == 1
