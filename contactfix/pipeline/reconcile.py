"""The reconciliation: under the lock, resolve what changed (or everything), repair, and record the run.

``reconcile()`` is the plain function the CLI and the nightly Celery task call. Order of work:

1. take the lock (:mod:`contactfix.pipeline.lock`); a second run refuses with :class:`ReconcileLocked`;
2. mark runs left ``running`` by a dead process as failed (holding the lock proves them dead);
3. plan: full (asked, first run, or redoing a failed full run) or incremental;
4. resolve (:mod:`contactfix.pipeline.resolve`), then repair the debtors of the regrouped identities
   (:func:`contactfix.pipeline.repair.repair_contacts`, when installed), then ask a carrier for the
   debtors still lost (:mod:`contactfix.pipeline.carrier`, when a step is given);
5. in one last transaction: the records' versions and the run ``completed`` with watermark and counts.

If anything raises, the run is marked failed and the error re-raised; killed outright, it stays
``running`` until the next run. Either way the next run redoes what this one did not finish.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from contactfix.db.identity_models import LinkModel, ReconcileRun, RunStatus
from contactfix.db.models import Debtor
from contactfix.pipeline.keys import write_versions
from contactfix.pipeline.lock import ReconcileLocked, RedisLock, reconcile_lock
from contactfix.pipeline.outcomes import debtors_with_outcomes_since
from contactfix.pipeline.records import among, batches
from contactfix.pipeline.resolve import (
    Checkpoint,
    ResolveOutcome,
    ResolveSettings,
    resolve_full,
    resolve_incremental,
)
from contactfix.pipeline.runs import RunPlan, fail_abandoned_runs, fail_run, finish_run, plan_run, start_run
from contactfix.settings import Settings

__all__ = ["ReconcileReport", "RepairStep", "reconcile", "repair_step", "service_repair_step"]

log = logging.getLogger(__name__)
RepairStep = Callable[[Session, int, Sequence[int] | None], dict[str, int]]
# After repair: ask a carrier for the debtors still lost (contactfix.pipeline.carrier.carrier_step).
CarrierStep = Callable[[Engine, int], dict[str, int]]


@dataclass(frozen=True)
class ReconcileReport:
    """One finished run: its id, whether it was full and why, and its counts."""

    run_id: int
    full: bool
    reason: str
    counts: dict[str, Any]


def repair_step(*, calibrate_min_outcomes: int | None = None, **options: Any) -> RepairStep:
    """The repair step: ``options`` go to :func:`contactfix.pipeline.repair.repair_contacts`
    (threshold, shared_min_identities…). With ``calibrate_min_outcomes``, confidence is refitted first
    when enough new outcomes arrived.

    Imported here, not at the top, because repair imports resolution's modules; an import error is
    raised, never taken for "no repair" (a run that silently repairs no one is the worst outcome).
    """
    from contactfix.pipeline.calibration import maybe_calibrate
    from contactfix.pipeline.repair import repair_contacts
    from contactfix.privacy.erasure import relist_erased_objections

    def step(session: Session, run_id: int, debtor_ids: Sequence[int] | None) -> dict[str, int]:
        """Repair ``debtor_ids`` (None: all) and return the counts as plain numbers."""
        # A number whose objection outlived an erasure as a keyed hash is listed in clear again before
        # anything can plan a dispatch to it (contactfix.privacy.erasure).
        relisted = relist_erased_objections(session)
        calibrated = {"objections_relisted": relisted} if relisted else {}
        if calibrate_min_outcomes is not None:
            fitted = maybe_calibrate(session, min_outcomes=calibrate_min_outcomes)
            if fitted is not None:
                calibrated = {
                    "calibrated_model": fitted.model_id or 0,
                    "calibration_active": int(fitted.active),
                }
        counts = repair_contacts(session, run_id, debtor_ids=debtor_ids, **options)
        return {**{k: int(v) for k, v in dataclasses.asdict(counts).items()}, **calibrated}

    return step


def service_repair_step(settings: Settings) -> RepairStep:
    """:func:`repair_step` with the service settings' repair options."""
    return repair_step(
        threshold=settings.repair_confidence_threshold,
        link_probability=settings.repair_link_probability,
        shared_min_identities=settings.shared_phone_min_identities,
        calibrate_min_outcomes=settings.calibration_min_outcomes,
    )


def _debtors_of(engine: Engine, record_ids: Sequence[int]) -> list[int]:
    found: list[int] = []
    with engine.connect() as connection:
        for batch in batches(connection, record_ids):
            query = select(Debtor.id).where(among(connection, Debtor.source_record_id, batch))
            found.extend(connection.execute(query).scalars())
    return sorted(found)


def _repair(
    engine: Engine, run_id: int, outcome: ResolveOutcome, step: RepairStep | None, since: Any
) -> dict[str, int]:
    """Repair the debtors of the regrouped identities (all, after a full resolve), and those with
    outcomes reported since ``since`` (the previous run's watermark)."""
    if step is None:
        return {}
    debtors = None
    if outcome.regrouped is not None:
        debtors = _debtors_of(engine, outcome.regrouped)
        if since is not None:
            with Session(engine) as session:
                debtors = sorted(set(debtors) | set(debtors_with_outcomes_since(session, since)))
    if debtors == []:
        return {}
    with Session(engine) as session, session.begin():
        counts = step(session, run_id, debtors)
        if debtors is None and engine.dialect.name == "postgresql":
            # Statistics were taken before repair (see resolve._analyze), when the rankings were not
            # written yet: the next runs plan their reads of them from these numbers.
            session.execute(text("ANALYZE contact_rankings"))
        return counts


def _guarded(checkpoint: Checkpoint | None, lock: RedisLock | None) -> Checkpoint:
    def guarded(step: str) -> None:
        """Stop the run if its Redis lock was lost; then call the caller's checkpoint."""
        if lock is not None and lock.lost:
            raise ReconcileLocked(f"the Redis lock expired during the run (after step {step}); run again")
        if checkpoint is not None:
            checkpoint(step)

    return guarded


def _stored_model(engine: Engine, model_id: int | None) -> dict[str, Any] | None:
    if model_id is None:
        return None
    with engine.connect() as connection:
        params: dict[str, Any] = connection.execute(
            select(LinkModel.params).where(LinkModel.id == model_id)
        ).scalar_one()
        return params


def _previous_watermark(engine: Engine) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            select(ReconcileRun.watermark)
            .where(ReconcileRun.status == RunStatus.COMPLETED.value)
            .order_by(ReconcileRun.id.desc())
            .limit(1)
        ).scalar()


@dataclass(frozen=True)
class _Job:
    run_id: int
    plan: RunPlan
    refit: bool
    settings: ResolveSettings
    repair: RepairStep | None
    checkpoint: Checkpoint
    carrier: CarrierStep | None = None


def _resolve_and_repair(engine: Engine, job: _Job, counts: dict[str, Any]) -> dict[str, Any]:
    """Resolve, repair, and complete the run; ``counts`` gains what each step did."""
    run_id, plan, settings, checkpoint = job.run_id, job.plan, job.settings, job.checkpoint
    since = None
    if plan.full:
        stored = None if job.refit else _stored_model(engine, plan.model_id)
        outcome = resolve_full(engine, run_id, settings, checkpoint, stored)
    else:
        since = _previous_watermark(engine)
        outcome = resolve_incremental(engine, run_id, plan, settings, since, checkpoint)
    counts.update(outcome.counts)
    started = time.perf_counter()
    counts.update(_repair(engine, run_id, outcome, job.repair, since))
    counts["seconds"]["repair"] = round(time.perf_counter() - started, 3)
    checkpoint("repair")
    if job.carrier is not None:  # commits as it goes: a run that fails after it keeps what it got
        started = time.perf_counter()
        counts.update(job.carrier(engine, run_id))
        counts["seconds"]["carrier"] = round(time.perf_counter() - started, 3)
        checkpoint("carrier")
    started = time.perf_counter()
    with engine.begin() as connection:
        write_versions(connection, outcome.version_ids, outcome.versions, replace=not plan.full)
        counts["seconds"]["finish"] = round(time.perf_counter() - started, 3)
        finish_run(connection, run_id, outcome.watermark, counts)
    return counts


def reconcile(
    engine: Engine,
    *,
    full: bool = False,
    refit: bool = True,
    settings: ResolveSettings | None = None,
    redis_url: str | None = None,
    repair: RepairStep | bool | None = True,
    checkpoint: Checkpoint | None = None,
    carrier: CarrierStep | None = None,
) -> ReconcileReport:
    """Run one reconciliation and return its report; ReconcileLocked if another one is running.

    ``full`` recomputes everything; with ``refit=False`` it scores with the stored model instead of
    fitting a new one (after changing the threshold, say), when there is one. ``repair``: True runs
    :func:`contactfix.pipeline.repair.repair_contacts`, False none, or a step of your own.
    ``checkpoint`` is called after each committed step (tests use it to interrupt a run at a known
    point). ``redis_url``: also hold the lock in this Redis (when the broker is Redis).
    ``carrier``: after repair, ask a carrier for the debtors still lost (None: not).
    """
    settings = settings or ResolveSettings()
    step = repair_step() if repair is True else (repair or None)
    with reconcile_lock(engine, redis_url) as lock:
        with engine.begin() as connection:
            abandoned = fail_abandoned_runs(connection)
            plan = plan_run(connection, full=full, lookback=settings.lookback)
            run_id = start_run(connection, full=plan.full)
        counts: dict[str, Any] = {"abandoned_runs": abandoned}
        try:
            job = _Job(run_id, plan, refit, settings, step, _guarded(checkpoint, lock), carrier)
            _resolve_and_repair(engine, job, counts)
        except BaseException as exc:
            with engine.begin() as connection:
                fail_run(connection, run_id, exc, counts)
            raise
    log.info("reconciliation %d (%s) completed: %s", run_id, "full" if plan.full else "incremental", counts)
    return ReconcileReport(run_id, plan.full, plan.reason, counts)
