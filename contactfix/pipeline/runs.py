"""Reconciliation runs: start one, finish or fail it, and decide what the next one must cover.

A run row is written ``running`` when a run starts and becomes ``completed`` (with its watermark and
counts) in the run's last transaction, or ``failed`` with a masked error. A run killed outright stays
``running``; the next run, holding the reconciliation lock, knows its owner is gone and marks it
failed. Which records a run compares is decided elsewhere (record versions in ``blocking_keys``);
the watermark is kept for operators and to bound that search.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from contactfix.db.identity_models import LinkModel, ReconcileRun, RunStatus
from contactfix.intake.receipt import mask_digit_runs

__all__ = ["ABANDONED", "RunPlan", "fail_abandoned_runs", "fail_run", "finish_run", "plan_run", "start_run"]

ABANDONED = "abandoned: its process ended before the run finished"
_ERROR_LENGTH = 300


@dataclass(frozen=True)
class RunPlan:
    """What the next run must do: full, or incremental from ``since``; ``model_id`` is the model of the
    last completed run that fitted one (None before the first)."""

    full: bool
    reason: str
    since: dt.datetime | None
    model_id: int | None


def fail_abandoned_runs(connection: Connection) -> int:
    """Mark runs still ``running`` as failed; call only while holding the reconciliation lock."""
    result = connection.execute(
        update(ReconcileRun)
        .where(ReconcileRun.status == RunStatus.RUNNING.value)
        .values(status=RunStatus.FAILED.value, finished_at=dt.datetime.now(dt.UTC), error=ABANDONED)
    )
    return int(result.rowcount or 0)


def plan_run(connection: Connection, *, full: bool, lookback: dt.timedelta) -> RunPlan:
    """Full when asked, when no completed run left a model, or when a full run failed since the last
    completed one (it may have rewritten part of everything); else incremental from the last watermark
    minus ``lookback`` (records written by transactions still open at that time are not missed)."""
    last = connection.execute(
        select(ReconcileRun.id, ReconcileRun.watermark)
        .where(ReconcileRun.status == RunStatus.COMPLETED.value)
        .order_by(ReconcileRun.id.desc())
        .limit(1)
    ).first()
    model_id = connection.execute(
        select(func.max(LinkModel.id))
        .join(ReconcileRun, ReconcileRun.id == LinkModel.run_id)
        .where(ReconcileRun.status == RunStatus.COMPLETED.value)
    ).scalar()
    model = None if model_id is None else int(model_id)
    failed_full = connection.execute(
        select(func.count())
        .select_from(ReconcileRun)
        .where(
            ReconcileRun.id > (last.id if last is not None else 0),
            ReconcileRun.full.is_(True),
            ReconcileRun.status == RunStatus.FAILED.value,
        )
    ).scalar_one()
    if full:
        return RunPlan(True, "asked for", None, model)
    if failed_full:
        return RunPlan(True, "redoing a full run that did not finish", None, model)
    if last is None or model is None:
        return RunPlan(True, "no completed run yet", None, model)
    since = None if last.watermark is None else last.watermark - lookback
    return RunPlan(False, "changes since the last run", since, model)


def start_run(connection: Connection, *, full: bool) -> int:
    """Insert a ``running`` run and return its id."""
    inserted = connection.execute(
        insert(ReconcileRun)
        .values(status=RunStatus.RUNNING.value, full=full, counts={})
        .returning(ReconcileRun.id)
    )
    return int(inserted.scalar_one())


def finish_run(
    connection: Connection, run_id: int, watermark: dt.datetime | None, counts: dict[str, Any]
) -> None:
    """Mark the run completed with its watermark and counts (the caller commits with its last writes)."""
    connection.execute(
        update(ReconcileRun)
        .where(ReconcileRun.id == run_id)
        .values(
            status=RunStatus.COMPLETED.value,
            finished_at=dt.datetime.now(dt.UTC),
            watermark=watermark,
            counts=counts,
        )
    )


def fail_run(connection: Connection, run_id: int, error: BaseException, counts: dict[str, Any]) -> None:
    """Mark the run failed with the error's type and message, digit runs (IDs, phones) masked."""
    message = mask_digit_runs(f"{type(error).__name__}: {error}")[:_ERROR_LENGTH]
    connection.execute(
        update(ReconcileRun)
        .where(ReconcileRun.id == run_id)
        .values(
            status=RunStatus.FAILED.value, finished_at=dt.datetime.now(dt.UTC), error=message, counts=counts
        )
    )
