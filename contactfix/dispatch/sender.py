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
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, insert, or_, update
from sqlalchemy.orm import Session

from connectors.base import Binding, BindRequest, DeliveryStatus, SmsMessage
from connectors.errors import PermanentError, RetryableError
from connectors.masking import mask_text
from contactfix.db.dispatch_models import Dispatch, DispatchDecision, DispatchState, Mediator
from contactfix.dispatch.channels import Channels
from contactfix.dispatch.gate import debtor_party, decide, mediator_party
from contactfix.dispatch.message import case_facts, compose
from contactfix.dispatch.ratelimit import Limit, RateLimiter, connector_key, recipient_key
from contactfix.policy import Decision, PolicyProfile

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
        now = self.clock()
        with Session(self.engine) as session:
            row = session.get(Dispatch, dispatch_id)
            if row is None:
                return SendOutcome("missing")
            mediator = session.get(Mediator, row.mediator_id)
            assert mediator is not None  # a foreign key
            waiting = _not_yet(row, now)
            if waiting:
                return SendOutcome(waiting)
            decision = decide(
                [mediator_party(mediator), debtor_party(session, row.contact_value, self.profile, now)],
                self.profile,
                now,
            )
            session.execute(insert(DispatchDecision).values(_decision_row(dispatch_id, decision, now)))
            if not decision.allowed:
                return self._hold(session, row, decision, now)
            mediator_phone = mediator.phone  # read before the commit expires the row
            session.commit()
        if self.limiter is not None:
            waited = self._take_tokens(mediator_phone)
            if waited is not None:
                return SendOutcome("rate_limited", retry_in=waited)
        if not self._claim(dispatch_id, now):
            return SendOutcome("taken")
        return self._deliver(dispatch_id, now)

    # --- the steps ---------------------------------------------------------------------------------

    def _hold(self, session: Session, row: Dispatch, decision: Decision, now: dt.datetime) -> SendOutcome:
        state = S.DEFERRED if decision.deferred else S.BLOCKED
        values = {"state": state.value, "rule": decision.rule.value, "next_attempt_at": decision.defer_until}
        values |= {"enqueued_at": None, "lease_until": None}
        if state == S.BLOCKED:
            values["finished_at"] = now
        moved = session.execute(
            update(Dispatch)
            .where(Dispatch.id == row.id, Dispatch.state == row.state)
            .values(**values)
            .returning(Dispatch.id)
            .execution_options(synchronize_session=False)
        ).first()
        session.commit()
        log.info("dispatch %d %s by %s", row.id, state.value, decision.rule.value)
        return SendOutcome(state.value if moved is not None else "taken")

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

    def _claim(self, dispatch_id: int, now: dt.datetime) -> bool:
        """Take the dispatch for this worker: one conditional UPDATE, so only one worker wins."""
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
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(Dispatch)
                .where(Dispatch.id == dispatch_id, free)
                .values(
                    state=S.SENDING.value,
                    attempts=Dispatch.attempts + 1,
                    lease_until=now + dt.timedelta(seconds=self.settings.lease_s),
                    connector=self.channels.config.sms,
                )
            ).rowcount
        return bool(claimed)

    def _deliver(self, dispatch_id: int, now: dt.datetime) -> SendOutcome:
        with Session(self.engine) as session:
            row = session.get(Dispatch, dispatch_id)
            mediator = session.get(Mediator, row.mediator_id) if row else None
            assert row is not None and mediator is not None
            facts = case_facts(session, row.debtor_id)
            key, attempts, debtor_phone = row.idempotency_key, row.attempts, row.contact_value
            mediator_phone = mediator.phone
        if attempts > self.settings.max_attempts:  # every earlier claim ended with its worker lost
            lost = WorkerLostMidSend(f"{attempts - 1} attempts ended with no outcome (workers lost mid-send)")
            return self._finish(dispatch_id, S.DEAD, now, error=lost)
        try:
            binding = self._bind(key, mediator_phone, debtor_phone, now)
            text = compose(facts, binding, debtor_phone, self.profile.zone)
            message = SmsMessage(
                to=mediator_phone, text=text, idempotency_key=key, metadata={"dispatch_id": str(dispatch_id)}
            )
            result = self.channels.sms.send(message)
        except PermanentError as exc:
            return self._finish(dispatch_id, S.FAILED, now, error=exc)
        except RetryableError as exc:
            if attempts >= self.settings.max_attempts:
                return self._finish(dispatch_id, S.DEAD, now, error=exc)
            wait = backoff_seconds(
                attempts, self.settings.backoff_base_s, self.settings.backoff_cap_s, self.draw
            )
            self._back_off(dispatch_id, now, wait, exc)
            return SendOutcome("retrying", retry_in=wait)
        final = {DeliveryStatus.DELIVERED: S.DELIVERED}.get(result.status)
        if result.status.is_final and final is None:
            final = S.FAILED
        state = final or S.SENT
        message_id = result.provider_message_ids[0] if result.provider_message_ids else None
        return self._finish(
            dispatch_id, state, now, message_id=message_id, binding_id=binding.binding_id if binding else None
        )

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

    def _back_off(self, dispatch_id: int, now: dt.datetime, wait: float, error: Exception) -> None:
        until = now + dt.timedelta(seconds=wait)
        with self.engine.begin() as connection:
            connection.execute(
                update(Dispatch)
                .where(Dispatch.id == dispatch_id, Dispatch.state == S.SENDING.value)
                .values(lease_until=until, next_attempt_at=until, enqueued_at=until, last_error=_error(error))
            )
        log.warning(
            "dispatch %d: retryable error, next attempt in %.1f s: %s", dispatch_id, wait, _error(error)
        )

    def _finish(
        self,
        dispatch_id: int,
        state: DispatchState,
        now: dt.datetime,
        *,
        error: Exception | None = None,
        message_id: str | None = None,
        binding_id: str | None = None,
    ) -> SendOutcome:
        values: dict[str, object] = {"state": state.value, "lease_until": None}
        if error is not None:
            values["last_error"] = _error(error)
        if state in (S.SENT, S.DELIVERED):
            values |= {"sent_at": now, "provider_message_id": message_id, "binding_id": binding_id}
        if state != S.SENT:
            values["finished_at"] = now
        with self.engine.begin() as connection:
            connection.execute(
                update(Dispatch)
                .where(Dispatch.id == dispatch_id, Dispatch.state == S.SENDING.value)
                .values(**values)
            )
        if error is not None:
            log.warning("dispatch %d %s: %s", dispatch_id, state.value, _error(error))
        return SendOutcome(state.value)


class WorkerLostMidSend(Exception):
    """Recorded as a dispatch's last error when every claim of it ended with its worker gone."""


def _not_yet(row: Dispatch, now: dt.datetime) -> str | None:
    """Why the dispatch cannot be taken now (final, not due, another worker's), or None."""
    state = S(row.state)
    if state in (S.SENT, S.DELIVERED, S.FAILED, S.DEAD, S.BLOCKED):
        return "done"
    if state == S.DEFERRED and row.next_attempt_at is not None and row.next_attempt_at > now:
        return "not_due"
    if state == S.SENDING and row.lease_until is not None and row.lease_until > now:
        return "taken"
    return None


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
