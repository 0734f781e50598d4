"""The Celery application: the nightly reconciliation, the dispatch relay and sending.

``celery -A contactfix.tasks beat`` sends ``reconcile_nightly`` every day at ``reconcile_at`` (HH:MM)
in the configured time zone (Asia/Shanghai by default); a worker runs it. The task is thin: the work
is :func:`contactfix.pipeline.reconcile.reconcile`, run under the reconciliation lock, so two beats
(or a beat and an operator's ``contactfix reconcile``) never reconcile at once: the second one logs
that it was skipped and returns. With no broker configured tasks run in process (eager).

Dispatch tasks take ids only. They are acknowledged late and rejected (so redelivered) when their
worker dies; each worker prefetches one; Redis's visibility timeout sits above every countdown and
lease, and workers sweep unacknowledged tasks back every ``dispatch_restore_interval_s`` (kombu's
default is about 100 s). Deferrals live in the database: beat runs the relay every
``dispatch_relay_interval_s``, which enqueues what is due (:mod:`contactfix.dispatch.relay`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from celery import Celery
from celery.schedules import crontab

from contactfix.errors import SettingsError
from contactfix.settings import Settings, get_settings

__all__ = [
    "DEFAULT_RECONCILE_AT",
    "app",
    "beat_schedule",
    "make_celery",
    "ping",
    "reconcile_nightly",
    "relay_dispatches",
    "send_dispatch",
    "send_dispatches",
]

log = logging.getLogger(__name__)

DEFAULT_RECONCILE_AT = "02:00"
RECONCILE_TASK = "contactfix.reconcile_nightly"
RELAY_TASK = "contactfix.dispatch_relay"
SEND_TASK = "contactfix.dispatch_send"
SEND_BATCH_TASK = "contactfix.dispatch_send_batch"
PING_TASK = "contactfix.ping"
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def beat_schedule(
    reconcile_at: str = DEFAULT_RECONCILE_AT, relay_every_s: float = 5.0
) -> dict[str, dict[str, Any]]:
    """The beat schedule: the reconciliation daily at ``reconcile_at`` ("HH:MM", the app's time zone),
    and the dispatch relay every ``relay_every_s`` seconds (expiring unsent, so relays never pile up)."""
    found = _HH_MM.match(reconcile_at)
    if found is None:
        raise SettingsError(f"reconcile_at: {reconcile_at!r} is not a time of day as HH:MM (e.g. 02:00)")
    hour, minute = int(found.group(1)), int(found.group(2))
    return {
        "reconcile-nightly": {"task": RECONCILE_TASK, "schedule": crontab(hour=hour, minute=minute)},
        "dispatch-relay": {
            "task": RELAY_TASK,
            "schedule": relay_every_s,
            "options": {"expires": max(relay_every_s * 2, 1.0)},
        },
    }


def _transport(broker_url: str | None) -> str | None:
    """Our Redis transport for redis:// brokers (see :mod:`contactfix.dispatch.broker`), else kombu's."""
    if broker_url and broker_url.startswith("redis://"):
        return "contactfix.dispatch.broker:Transport"
    return None


def make_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings``: their broker (none: eager, in process), time zone and beat schedule."""
    celery = Celery("contactfix", broker=settings.broker_url or "memory://")
    reconcile_at = settings.reconcile_at
    celery.conf.update(
        task_always_eager=settings.eager,
        task_eager_propagates=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        timezone=settings.timezone,
        enable_utc=True,
        beat_schedule=beat_schedule(reconcile_at, settings.dispatch_relay_interval_s),
        # Dispatch: a task whose worker dies is delivered again; the database decides what is left.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport=_transport(settings.broker_url),
        broker_transport_options={
            "visibility_timeout": settings.dispatch_visibility_timeout_s,
            "unacked_restore_interval": settings.dispatch_restore_interval_s,
            "unacked_restore_throttle": 1,
        },
    )
    return celery


app = make_celery(get_settings())


# A reconciliation holds its lock for its whole run; another worker taking the message again after a
# lost ack would only find the lock taken: so this one task is acknowledged early.
@app.task(name=RECONCILE_TASK, ignore_result=True, acks_late=False)  # type: ignore[untyped-decorator]  # celery is untyped
def reconcile_nightly() -> dict[str, Any]:
    """Reconcile what changed since the last run (then repair); skipped, not queued, while another runs."""
    from contactfix.db.engine import make_engine
    from contactfix.pipeline.carrier import service_carrier_step
    from contactfix.pipeline.lock import ReconcileLocked, redis_lock_url
    from contactfix.pipeline.reconcile import reconcile, service_repair_step
    from contactfix.pipeline.resolve import ResolveSettings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        _relist_erased_objections(engine)
        report = reconcile(
            engine,
            settings=ResolveSettings.from_service(settings),
            repair=service_repair_step(settings),
            redis_url=redis_lock_url(settings.broker_url),
            carrier=service_carrier_step(settings),
        )
        retention = _nightly_retention(engine, settings)
    except ReconcileLocked as exc:
        log.warning("nightly reconciliation skipped: %s", exc)
        return {"skipped": str(exc)}
    finally:
        engine.dispose()
    return {"run_id": report.run_id, "full": report.full, **report.counts, **retention}


def _relist_erased_objections(engine: Any) -> None:
    """Before repair plans dispatches: a number erased with its objection that came back is listed."""
    from sqlalchemy.orm import Session

    from contactfix.privacy.erasure import relist_erased_objections

    with Session(engine) as session, session.begin():
        relist_erased_objections(session)


def _nightly_retention(engine: Any, settings: Settings) -> dict[str, int]:
    """Erase closed cases older than ``retention_days`` (after the run, under the same lock rules)."""
    if settings.retention_days <= 0:
        return {}
    import redis

    from contactfix.pipeline.lock import redis_lock_url
    from contactfix.privacy.retention import run_retention

    url = redis_lock_url(settings.broker_url)
    client = redis.Redis.from_url(url) if url else None
    try:
        done = run_retention(engine, settings.retention_days, redis_client=client, redis_lock_url=url)
    finally:
        if client is not None:
            client.close()
    return {"retention_erased": done.erased}


@app.task(name=SEND_TASK, bind=True, ignore_result=True, max_retries=None)  # type: ignore[untyped-decorator]
def send_dispatch(self: Any, dispatch_id: int) -> str:
    """Send dispatch ``dispatch_id`` (an id only); retried after a rate-limit wait or a back-off."""
    return str(_send(self, [int(dispatch_id)])[0])


@app.task(name=SEND_BATCH_TASK, bind=True, ignore_result=True, max_retries=None)  # type: ignore[untyped-decorator]
def send_dispatches(self: Any, dispatch_ids: list[int]) -> list[str]:
    """Send a batch of dispatches (ids only, as the relay groups them); the ones that must wait are
    retried together after the longest wait, the rest are done."""
    return _send(self, [int(i) for i in dispatch_ids])


def _send(task: Any, ids: list[int]) -> list[str]:
    from contactfix.dispatch.errors import DispatchUnavailable
    from contactfix.dispatch.service import sender_for

    settings = get_settings()
    try:
        outcomes = sender_for(settings).send_many(ids)
    except DispatchUnavailable as exc:  # Redis (the rate limiter) is down: try again shortly
        if settings.eager:
            raise
        raise task.retry(exc=exc, countdown=min(5.0, settings.dispatch_backoff_cap_s)) from exc
    waiting = {i: o.retry_in for i, o in outcomes.items() if o.retry_in is not None}
    if waiting and not settings.eager:
        # Never beyond the visibility timeout (settings check the cap); the lease keeps others away.
        countdown = min(max(waiting.values()), settings.dispatch_backoff_cap_s)
        args = [sorted(waiting)] if task.name == SEND_BATCH_TASK else [next(iter(waiting))]
        raise task.retry(args=args, countdown=countdown)
    return [outcomes[i].result for i in ids]


@app.task(name=RELAY_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def relay_dispatches() -> int:
    """Enqueue every dispatch that is due (beat runs this every few seconds)."""
    from contactfix.dispatch.relay import relay_batches
    from contactfix.dispatch.sender import utcnow
    from contactfix.dispatch.service import sender_for

    settings = get_settings()
    engine = sender_for(settings).engine
    return relay_batches(
        engine, send_dispatches.delay, now=utcnow(), requeue_after_s=settings.dispatch_requeue_after_s,
        batch_size=settings.dispatch_batch_size,
    )  # fmt: skip


@app.task(name=PING_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def ping(counter: str | None = None) -> str:
    """Do nothing but, given a key, count the call in the broker's Redis: the queue's own speed.

    Operators send it to see that workers answer; ``bench.dispatch_bench`` measures the no-op rate
    the dispatch rate is compared with.
    """
    settings = get_settings()
    if counter and settings.broker_url and settings.broker_url.startswith("redis://"):
        _counter_client(settings.broker_url).incr(f"contactfix:ping:{counter}")
    return "pong"


_counters: dict[str, Any] = {}


def _counter_client(url: str) -> Any:
    import redis

    client = _counters.get(url)
    if client is None:
        client = _counters[url] = redis.Redis.from_url(url)
    return client
