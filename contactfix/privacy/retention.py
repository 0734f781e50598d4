"""Retention (JR/T 0171-2020: kept no longer than needed): erase closed cases after ``retention_days``.

A debtor whose status is ``closed`` (mediated, settled) and whose row has not changed for
``retention_days`` is erased exactly as ``contactfix erase`` would (:mod:`contactfix.privacy.erasure`),
with the tombstone's reason ``retention (N days)``. The nightly task runs :func:`run_retention` after
the reconciliation when the setting is above 0; ``contactfix retention run`` runs it by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contactfix.db.models import Debtor, DebtorStatus, Organization
from contactfix.privacy.erasure import erase_in_session, hold_reconcile_lock, relist_erased_objections
from contactfix.privacy.keyring import Keyring, current_keyring

__all__ = ["RetentionReport", "closed_cases_before", "run_retention"]


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one retention pass did: the cut-off and how many debtors it erased."""

    retention_days: int
    cutoff: dt.datetime | None
    erased: int
    counts: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None  # why nothing ran (retention off)


def closed_cases_before(session: Session, cutoff: dt.datetime) -> list[tuple[int, str]]:
    """(organisation id, reference) of every closed debtor whose last change is before ``cutoff``."""
    query = (
        select(Debtor.organization_id, Debtor.reference)
        .where(Debtor.status == DebtorStatus.CLOSED.value, Debtor.updated_at < cutoff)
        .order_by(Debtor.id)
    )
    return [(int(org), str(ref)) for org, ref in session.execute(query)]


def run_retention(
    engine: Engine,
    retention_days: int,
    *,
    now: dt.datetime | None = None,
    actor: str = "retention",
    redis_client: Any = None,
    redis_lock_url: str | None = None,
    keyring: Keyring | None = None,
    wait_s: float = 0.0,
) -> RetentionReport:
    """Erase every closed case unchanged for ``retention_days`` (0: keep everything, do nothing).

    Each debtor is erased in its own transaction under one hold of the reconciliation lock, so a pass
    stopped halfway keeps what it did; a rerun finds only what is left. Also relists numbers whose
    objection survives as a keyed hash and came back (:func:`relist_erased_objections`).
    """
    if retention_days <= 0:
        return RetentionReport(retention_days, None, 0, skipped="retention_days is 0: personal data is kept")
    keyring = keyring or current_keyring()
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    totals: dict[str, int] = {}
    erased = 0
    with hold_reconcile_lock(engine, redis_lock_url, wait_s):
        with Session(engine) as session:
            due = closed_cases_before(session, cutoff)
        for organization_id, reference in due:
            with Session(engine) as session, session.begin():
                org = session.get(Organization, organization_id)
                debtor = session.scalar(
                    select(Debtor).where(
                        Debtor.organization_id == organization_id,
                        Debtor.reference == reference,
                        Debtor.status == DebtorStatus.CLOSED.value,
                        Debtor.updated_at < cutoff,
                    )
                )
                if org is None or debtor is None:  # changed or erased meanwhile
                    continue
                counts = erase_in_session(
                    session, debtor, org, actor=actor, reason=f"retention ({retention_days} days)",
                    redis_client=redis_client, keyring=keyring,
                )  # fmt: skip
            erased += 1
            for name, n in counts.items():
                totals[name] = totals.get(name, 0) + n
        with Session(engine) as session, session.begin():
            totals["do_not_contact_relisted"] = relist_erased_objections(session, keyring)
    return RetentionReport(retention_days, cutoff, erased, totals)
