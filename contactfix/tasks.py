"""The Celery application and the nightly reconciliation.

``celery -A contactfix.tasks beat`` sends ``reconcile_nightly`` every day at ``reconcile_at`` (HH:MM)
in the configured time zone (Asia/Shanghai by default); a worker runs it. The task is thin: the work
is :func:`contactfix.pipeline.reconcile.reconcile`, run under the reconciliation lock, so two beats
(or a beat and an operator's ``contactfix reconcile``) never reconcile at once: the second one logs
that it was skipped and returns. With no broker configured tasks run in process (eager).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from celery import Celery
from celery.schedules import crontab

from contactfix.errors import SettingsError
from contactfix.settings import Settings, get_settings

__all__ = ["DEFAULT_RECONCILE_AT", "app", "beat_schedule", "make_celery", "reconcile_nightly"]

log = logging.getLogger(__name__)

DEFAULT_RECONCILE_AT = "02:00"
RECONCILE_TASK = "contactfix.reconcile_nightly"
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def beat_schedule(reconcile_at: str = DEFAULT_RECONCILE_AT) -> dict[str, dict[str, Any]]:
    """The beat schedule: the reconciliation daily at ``reconcile_at`` ("HH:MM", the app's time zone)."""
    found = _HH_MM.match(reconcile_at)
    if found is None:
        raise SettingsError(f"reconcile_at: {reconcile_at!r} is not a time of day as HH:MM (e.g. 02:00)")
    hour, minute = int(found.group(1)), int(found.group(2))
    return {"reconcile-nightly": {"task": RECONCILE_TASK, "schedule": crontab(hour=hour, minute=minute)}}


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
        beat_schedule=beat_schedule(reconcile_at),
        # A reconciliation holds its lock for its whole run; another worker taking the message again
        # after a lost ack would only find the lock taken.
        task_acks_late=False,
    )
    return celery


app = make_celery(get_settings())


@app.task(name=RECONCILE_TASK, ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def reconcile_nightly() -> dict[str, Any]:
    """Reconcile what changed since the last run (then repair); skipped, not queued, while another runs."""
    from contactfix.db.engine import make_engine
    from contactfix.pipeline.lock import ReconcileLocked, redis_lock_url
    from contactfix.pipeline.reconcile import reconcile, service_repair_step
    from contactfix.pipeline.resolve import ResolveSettings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        report = reconcile(
            engine,
            settings=ResolveSettings.from_service(settings),
            repair=service_repair_step(settings),
            redis_url=redis_lock_url(settings.broker_url),
        )
    except ReconcileLocked as exc:
        log.warning("nightly reconciliation skipped: %s", exc)
        return {"skipped": str(exc)}
    finally:
        engine.dispose()
    return {"run_id": report.run_id, "full": report.full, **report.counts}
