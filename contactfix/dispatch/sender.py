"""Sending one dispatch: policy gate, rate limits, claim, call path, text, and the state it ends in.

:meth:`DispatchSender.send` is what the Celery task runs, with the dispatch's id only. Every step is
safe to repeat: the claim is one conditional UPDATE (two workers never both send), connectors are
called with the dispatch's idempotency key (a resend after a crash is one message), and every state
change is conditional on the state it moves from (:mod:`contactfix.dispatch.states`).

A worker killed after the claim leaves the row ``sending`` with a lease; once the lease ends another
worker (the redelivered task, or the relay's) takes it over. Retryable errors keep the claim and back
off exponentially with jitter up to a cap; after ``max_attempts`` the dispatch is dead with its last
error. Permanent errors fail it at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, bindparam, func, insert, literal, or_, select, update

from connectors.base import Binding, BindRequest, DeliveryStatus, SmsMessage
from connectors.errors import PermanentError, RetryableError
from connectors.masking import mask_text
from contactfix.db.dispatch_models import Dispatch, DispatchDecision, DispatchState
from contactfix.db.models import UtcDateTime
from contactfix.dispatch.channels import Channels
from contactfix.dispatch.gate import decide
from contactfix.dispatch.message import CaseFacts, case_url, compose, mask_name
from contactfix.dispatch.ratelimit import Limit, RateLimiter, connector_key, recipient_key
from contactfix.dispatch.snapshot import (
    Snapshot,
    debtor_party_of,
    history_since,
    load_snapshots,
    mediator_party_of,
)
from contactfix.policy import Decision, PolicyProfile
from contactfix.policy.rules import Rule

__all__ = ["DispatchSender", "SendOutcome", "SenderSettings", "backoff_seconds", "utcnow"]

log = logging.getLogger(__name__)
S = DispatchState


def utcnow() -> dt.datetime:
    """Now, in UTC (the default clock; tests inject their own)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """How long a claim lasts, how often to retry and how to back off (see config/default.toml)."""

    lease_s: float = 120.0
    max_attempts: int = 8
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 240.0
    binding_hours: float = 72.0
    public_base_url: str = "http://127.0.0.1:8000"  # the texts link to {public_base_url}/cases/{id}


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What one run of the task did. ``retry_in``: run the task again after this many seconds."""

    result: str
    retry_in: float | None = None


def backoff_seconds(
    attempt: int, base: float, cap: float, draw: Callable[[], float] = random.random
) -> float:
    """The wait after failed attempt ``attempt`` (1, 2, …): base·2^(n-1), capped, half of it jittered."""
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return float(ceiling / 2 + draw() * ceiling / 2)


class DispatchSender:
    """Sends dispatches through one process's connectors. ``limiter`` None: no shared rate limits."""

    def __init__(
        self,
        engine: Engine,
        channels: Channels,
        profile: PolicyProfile,
        settings: SenderSettings,
        *,
        limiter: RateLimiter | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.engine = engine
        self.channels = channels
        self.profile = profile
        self.settings = settings
        self.limiter = limiter
        self.clock = clock
        self.draw = draw

    def send(self, dispatch_id: int) -> SendOutcome:
        """Move dispatch ``dispatch_id`` as far forward as it can go now."""
        return self.send_many([dispatch_id])[dispatch_id]

    def send_many(self, dispatch_ids: Sequence[int]) -> dict[int, SendOutcome]:
        """Move each of ``dispatch_ids`` as far forward as it can go now; its outcome by id.

        One pooled connection serves the whole batch, and the database work is per batch, not per
        dispatch: one read of every snapshot, one claim of every allowed dispatch (with its
        decision), one write of every outcome. Holds (deferrals, blocks) are written one by one.
        """
        now = self.clock()
        since = history_since(self.profile, now)
        ids = list(dict.fromkeys(int(i) for i in dispatch_ids))
        outcomes: dict[int, SendOutcome] = {}
        with self.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Each statement commits on its own: every write below is one statement there.
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            snapshots = load_snapshots(connection, ids, since)
            ready: list[tuple[Snapshot, Decision]] = []
            for dispatch_id in ids:
                snapshot = snapshots.get(dispatch_id)
                outcome, decision = self._gate(connection, snapshot, now, since)
                if outcome is not None:
                    outcomes[dispatch_id] = outcome
                elif snapshot is not None and decision is not None:
                    ready.append((snapshot, decision))
            claimed = self._claim_many(connection, ready, now) if ready else {}
            finishes: list[dict[str, Any]] = []
            try:
                for snapshot, _ in ready:
                    if snapshot.id not in claimed:
                        outcomes[snapshot.id] = SendOutcome("taken")
                        continue
                    outcome, finish = self._deliver(snapshot, claimed[snapshot.id], now)
                    outcomes[snapshot.id] = outcome
                    finishes.append(finish)
            finally:  # an unexpected error in one send keeps the outcomes of those sent before it
                if finishes:
                    _write_outcomes(connection, finishes)
        return outcomes

    def _gate(
        self, connection: Connection, snapshot: Snapshot | None, now: dt.datetime, since: dt.datetime
    ) -> tuple[SendOutcome | None, Decision | None]:
        """An outcome already (missing, not due, held, rate-limited), or the decision that allows it."""
        if snapshot is None:
            return SendOutcome("missing"), None
        waiting = _not_yet(snapshot, now)
        if waiting:
            return SendOutcome(waiting), None
        parties = [mediator_party_of(snapshot), debtor_party_of(connection, snapshot, since)]
        decision = _carrier_expired(snapshot, now) or decide(parties, self.profile, now)
        if not decision.allowed:
            return self._hold(connection, snapshot, decision, now), None
        if self.limiter is not None:
            waited = self._take_tokens(snapshot.mediator_phone)
            if waited is not None:  # decided again when the task comes back
                return SendOutcome("rate_limited", retry_in=waited), None
        return None, decision

    # --- the steps ---------------------------------------------------------------------------------

    def _hold(
        self, connection: Connection, snapshot: Snapshot, decision: Decision, now: dt.datetime
    ) -> SendOutcome:
        """Defer or block, with the decision, in one transaction; "taken" if the row moved meanwhile."""
        state = S.DEFERRED if decision.deferred else S.BLOCKED
        values = {"state": state.value, "rule": decision.rule.value, "next_attempt_at": decision.defer_until}
        values |= {"enqueued_at": None, "lease_until": None}
        if state == S.BLOCKED:
            values["finished_at"] = now
        moving = (
            update(Dispatch)
            .where(Dispatch.id == snapshot.id, Dispatch.state == snapshot.state)
            .values(**values)
            .returning(Dispatch.id, Dispatch.attempts)
        )
        if not _move_and_record(connection, moving, decision, now):
            return SendOutcome("taken")
        log.info("dispatch %d %s by %s", snapshot.id, state.value, decision.rule.value)
        return SendOutcome(state.value)

    def _take_tokens(self, mediator_phone: str) -> float | None:
        assert self.limiter is not None
        config = self.channels.config
        connector = config.limits[config.sms]
        recipient = config.recipient_limit
        acquired = self.limiter.acquire_all(
            [
                Limit(connector_key(config.sms), connector.rate_per_s, connector.burst),
                Limit(recipient_key(mediator_phone), recipient.rate_per_s, recipient.burst),
            ]
        )
        return None if acquired.ok else max(acquired.retry_after_s, 0.001)

    def _claim_many(
        self, connection: Connection, ready: list[tuple[Snapshot, Decision]], now: dt.datetime
    ) -> dict[int, int]:
        """Take the allowed dispatches for this worker: conditional UPDATEs, so only one worker wins
        each. Returns id → the attempt number taken, with the allowing decision recorded."""
        free = or_(
            and_(
                Dispatch.state.in_([S.PENDING.value, S.DEFERRED.value]),
                or_(Dispatch.next_attempt_at.is_(None), Dispatch.next_attempt_at <= now),
            ),
            and_(
                Dispatch.state == S.SENDING.value,
                or_(Dispatch.lease_until.is_(None), Dispatch.lease_until <= now),
            ),
        )
        claimed: dict[int, int] = {}
        by_decision: dict[Decision, list[int]] = {}
        for snapshot, decision in ready:
            by_decision.setdefault(decision, []).append(snapshot.id)
        for decision, ids in by_decision.items():  # every allowing decision reads the same: one round
            moving = (
                update(Dispatch)
                .where(Dispatch.id.in_(ids), free)
                .values(
                    state=S.SENDING.value,
                    attempts=Dispatch.attempts + 1,
                    lease_until=now + dt.timedelta(seconds=self.settings.lease_s),
                    connector=self.channels.config.sms,
                    rule=decision.rule.value,
                )
                .returning(Dispatch.id, Dispatch.attempts)
            )
            claimed.update(
                {
                    int(row.id): int(row.attempts)
                    for row in _move_and_record(connection, moving, decision, now)
                }
            )
        return claimed

    def _deliver(
        self, snapshot: Snapshot, attempts: int, now: dt.datetime
    ) -> tuple[SendOutcome, dict[str, Any]]:
        """Bind and send one claimed dispatch; its outcome and the row that records it."""
        dispatch_id, key, debtor_phone = snapshot.id, snapshot.idempotency_key, snapshot.contact_value
        if attempts > self.settings.max_attempts:  # every earlier claim ended with its worker lost
            lost = WorkerLostMidSend(f"{attempts - 1} attempts ended with no outcome (workers lost mid-send)")
            return self._finished(dispatch_id, S.DEAD, now, error=lost)
        case = snapshot.case_number or snapshot.reference
        url = case_url(self.settings.public_base_url, snapshot.debtor_id)
        facts = CaseFacts(case, snapshot.reference, mask_name(snapshot.name), url)
        try:
            binding = self._bind(key, snapshot.mediator_phone, debtor_phone, now)
            text = compose(facts, binding, debtor_phone, self.profile.zone)
            message = SmsMessage(
                to=snapshot.mediator_phone, text=text, idempotency_key=key,
                metadata={"dispatch_id": str(dispatch_id)},
            )  # fmt: skip
            result = self.channels.sms.send(message)
        except PermanentError as exc:
            return self._finished(dispatch_id, S.FAILED, now, error=exc)
        except RetryableError as exc:
            if attempts >= self.settings.max_attempts:
                return self._finished(dispatch_id, S.DEAD, now, error=exc)
            wait = backoff_seconds(
                attempts, self.settings.backoff_base_s, self.settings.backoff_cap_s, self.draw
            )
            until = now + dt.timedelta(seconds=wait)
            log.warning(
                "dispatch %d: retryable error, next attempt in %.1f s: %s", dispatch_id, wait, _error(exc)
            )
            row = _outcome_row(
                dispatch_id, S.SENDING, lease_until=until, next_attempt_at=until, enqueued_at=until
            )
            return SendOutcome("retrying", retry_in=wait), row | {"b_error": _error(exc)}
        final = {DeliveryStatus.DELIVERED: S.DELIVERED}.get(result.status)
        if result.status.is_final and final is None:
            final = S.FAILED
        state = final or S.SENT
        message_id = result.provider_message_ids[0] if result.provider_message_ids else None
        binding_id = binding.binding_id if binding else None
        return self._finished(dispatch_id, state, now, message_id=message_id, binding_id=binding_id)

    def _bind(self, key: str, mediator_phone: str, debtor_phone: str, now: dt.datetime) -> Binding | None:
        if self.channels.call is None:
            return None
        bind_key = hashlib.sha256(f"bind\x1f{key}".encode()).hexdigest()
        request = BindRequest(
            caller=mediator_phone,
            callee=debtor_phone,
            idempotency_key=bind_key,
            expires_at=now + dt.timedelta(hours=self.settings.binding_hours),
        )
        return self.channels.call.bind(request)

    def _finished(
        self,
        dispatch_id: int,
        state: DispatchState,
        now: dt.datetime,
        *,
        error: Exception | None = None,
        message_id: str | None = None,
        binding_id: str | None = None,
    ) -> tuple[SendOutcome, dict[str, Any]]:
        sent = state in (S.SENT, S.DELIVERED)
        row = _outcome_row(
            dispatch_id, state,
            sent_at=now if sent else None, message_id=message_id, binding_id=binding_id,
            finished_at=None if state == S.SENT else now,
        )  # fmt: skip
        if error is not None:
            row["b_error"] = _error(error)
            log.warning("dispatch %d %s: %s", dispatch_id, state.value, _error(error))
        return SendOutcome(state.value), row


def _outcome_row(dispatch_id: int, state: DispatchState, **values: Any) -> dict[str, Any]:
    """Parameters of :func:`_outcome_statement`; a None keeps what the row holds (the lease: cleared)."""
    names = (
        "lease_until",
        "next_attempt_at",
        "enqueued_at",
        "sent_at",
        "message_id",
        "binding_id",
        "finished_at",
    )
    row = {"b_id": dispatch_id, "b_state": state.value, "b_error": None}
    row |= {f"b_{name}": values.get(name) for name in names}
    return row


def _write_outcomes(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Record the outcomes of a batch: one executemany of one UPDATE, each only if still ``sending``."""
    connection.execute(_outcome_statement(), rows)
    connection.commit()


@functools.cache
def _outcome_statement() -> Any:
    def keep(column: Any, name: str) -> Any:
        return func.coalesce(bindparam(name, type_=column.type), column)

    return (
        update(Dispatch)
        .where(Dispatch.id == bindparam("b_id"), Dispatch.state == S.SENDING.value)
        .values(
            state=bindparam("b_state"),
            lease_until=bindparam("b_lease_until", type_=UtcDateTime()),
            next_attempt_at=keep(Dispatch.next_attempt_at, "b_next_attempt_at"),
            enqueued_at=keep(Dispatch.enqueued_at, "b_enqueued_at"),
            sent_at=keep(Dispatch.sent_at, "b_sent_at"),
            provider_message_id=keep(Dispatch.provider_message_id, "b_message_id"),
            binding_id=keep(Dispatch.binding_id, "b_binding_id"),
            finished_at=keep(Dispatch.finished_at, "b_finished_at"),
            last_error=keep(Dispatch.last_error, "b_error"),
        )
    )


class WorkerLostMidSend(Exception):
    """Recorded as a dispatch's last error when every claim of it ended with its worker gone."""


def _carrier_expired(snapshot: Snapshot, now: dt.datetime) -> Decision | None:
    """Blocked for good when the debtor's number is a carrier's virtual number past its due date."""
    expires = snapshot.carrier_expires_at
    if expires is None or now < expires:
        return None
    reason = "the carrier's virtual number has expired; it is never dispatched after its due date"
    return Decision(allowed=False, rule=Rule.CARRIER_NUMBER_EXPIRED, reason=reason)


def _not_yet(row: Snapshot, now: dt.datetime) -> str | None:
    """Why the dispatch cannot be taken now (final, not due, another worker's), or None."""
    state = S(row.state)
    if state in (S.SENT, S.DELIVERED, S.FAILED, S.DEAD, S.BLOCKED):
        return "done"
    if state == S.DEFERRED and row.next_attempt_at is not None and row.next_attempt_at > now:
        return "not_due"
    if state == S.SENDING and row.lease_until is not None and row.lease_until > now:
        return "taken"
    return None


def _move_and_record(
    connection: Connection, moving: Any, decision: Decision, now: dt.datetime
) -> list[Row[Any]]:
    """Run ``moving`` (an UPDATE … RETURNING id, attempts) and record ``decision`` for every row it
    moved — atomically. On PostgreSQL that is one statement (data-modifying CTEs), so
    it commits alone in one round trip; elsewhere a transaction of two."""
    if connection.dialect.name == "postgresql":
        moved = moving.cte("moved")
        logged = (
            insert(DispatchDecision)
            .from_select(
                ["dispatch_id", "at", "allowed", "rule", "reason", "defer_until"],
                select(
                    moved.c.id,
                    literal(now, UtcDateTime()),
                    literal(decision.allowed),
                    literal(decision.rule.value),
                    literal(decision.reason[:300]),
                    literal(decision.defer_until, UtcDateTime()),
                ),
            )
            .cte("logged")
        )
        return list(connection.execute(select(moved.c.id, moved.c.attempts).add_cte(logged)).all())
    rows = list(connection.execute(moving).all())
    if rows:
        decisions = [_decision_row(int(row.id), decision, now) for row in rows]
        connection.execute(insert(DispatchDecision), decisions)
    connection.commit()
    return rows


def _decision_row(dispatch_id: int, decision: Decision, now: dt.datetime) -> dict[str, object]:
    return {
        "dispatch_id": dispatch_id,
        "at": now,
        "allowed": decision.allowed,
        "rule": decision.rule.value,
        "reason": decision.reason[:300],
        "defer_until": decision.defer_until,
    }


def _error(error: Exception) -> str:
    return mask_text(f"{type(error).__name__}: {error}")[:500]
