"""The relay: from the database to the queue. The beat runs it every few seconds.

It enqueues the id of every dispatch that is due and not already on its way: pending ones, deferred
ones whose time has come, and ``sending`` ones whose worker's lease ran out (a worker killed mid-send,
or a retry whose message Redis lost). A dispatch enqueued ``requeue_after`` seconds ago and still not
finished is enqueued again, so a Redis that restarted empty loses nothing. Enqueueing twice is
harmless: only one worker can claim a dispatch.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, or_, select, update

from contactfix.db.dispatch_models import Dispatch, DispatchState

__all__ = ["Waiting", "due_dispatches", "relay", "relay_batches", "waiting_dispatches"]

log = logging.getLogger(__name__)
S = DispatchState


def due_dispatches(engine: Engine, now: dt.datetime, requeue_after_s: float, limit: int) -> list[int]:
    """Ids of up to ``limit`` dispatches to enqueue now, oldest first."""
    stale = now - dt.timedelta(seconds=requeue_after_s)
    due = or_(
        Dispatch.state == S.PENDING.value,
        and_(Dispatch.state == S.DEFERRED.value, Dispatch.next_attempt_at <= now),
        and_(Dispatch.state == S.SENDING.value, Dispatch.lease_until <= now),
    )
    not_queued = or_(Dispatch.enqueued_at.is_(None), Dispatch.enqueued_at <= stale)
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(Dispatch.id).where(due, not_queued).order_by(Dispatch.id).limit(limit)
            ).scalars()
        )


@dataclass(frozen=True, slots=True)
class Waiting:
    """Dispatches the policy deferred to a later time, and the earliest of those times (None: none)."""

    count: int
    earliest: dt.datetime | None


def waiting_dispatches(engine: Engine, now: dt.datetime) -> Waiting:
    """How many dispatches are deferred past ``now``, and when the first of them is due: what a relay
    that enqueued nothing at night has to say."""
    held = and_(Dispatch.state == S.DEFERRED.value, Dispatch.next_attempt_at > now)
    with engine.connect() as connection:
        count, earliest = connection.execute(
            select(func.count(), func.min(Dispatch.next_attempt_at)).where(held)
        ).one()
    return Waiting(int(count), earliest)


def relay(
    engine: Engine,
    enqueue: Callable[[int], None],
    *,
    now: dt.datetime,
    requeue_after_s: float,
    limit: int = 10_000,
) -> int:
    """Enqueue the due dispatches one id per task; see :func:`relay_batches`."""
    return relay_batches(
        engine,
        lambda ids: enqueue(ids[0]),
        now=now,
        requeue_after_s=requeue_after_s,
        batch_size=1,
        limit=limit,
    )


def relay_batches(
    engine: Engine,
    enqueue: Callable[[list[int]], None],
    *,
    now: dt.datetime,
    requeue_after_s: float,
    batch_size: int,
    limit: int = 10_000,
) -> int:
    """Enqueue the due dispatches, ``batch_size`` ids per task; return how many were enqueued.

    Stops at the first enqueue that fails. Rows are marked enqueued before their message is
    published, 500 at a time: a crash between the two leaves rows that look queued, and the next
    relay after ``requeue_after_s`` enqueues them again.
    """
    ids = due_dispatches(engine, now, requeue_after_s, limit)
    sent = 0
    for start in range(0, len(ids), 500):
        marked = ids[start : start + 500]
        with engine.begin() as connection:
            connection.execute(update(Dispatch).where(Dispatch.id.in_(marked)).values(enqueued_at=now))
        for first in range(0, len(marked), batch_size):
            batch = marked[first : first + batch_size]
            try:
                enqueue(batch)
            except Exception as exc:  # the broker is down: the rows will be due again later
                log.warning("relay: enqueue failed after %d of %d dispatches: %s", sent, len(ids), exc)
                return sent
            sent += len(batch)
    if sent:
        log.info("relay: %d dispatches enqueued", sent)
    return sent
