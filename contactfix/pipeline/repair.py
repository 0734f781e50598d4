"""Repair: rank every contact of each debtor's identity, and mark the debtors whose best phone is new.

For each debtor: the identity its bank record belongs to (``identity_members``), every record of
that identity with its contacts, and what mediators reported of them → observations →
:func:`contactfix.pipeline.ranking.rank_contacts` → ``contact_rankings``. A debtor without an identity
(resolve has not placed its record) is ranked on its own record alone, which can never repair it.

Idempotent: rankings are keyed by (debtor, channel, value); a row whose content did not change is
left alone, a changed one is updated, a new one inserted, and the rows of contacts no longer present
are deleted. So a ranking's ``run_id`` names the run that last changed it: what dispatch must look at.
A debtor's status moves from ``lost`` to ``repaired`` only; ``reached`` and ``closed`` are never touched.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from contactfix.db.audit import record_audit
from contactfix.db.identity_models import ContactRanking
from contactfix.db.models import Debtor, DebtorStatus
from contactfix.dispatch.planning import PlannedContact, plan_dispatches
from contactfix.errors import ContactfixError
from contactfix.pipeline.bulk import insert_rows
from contactfix.pipeline.observations import (
    DebtorRow,
    debtor_chunks,
    gather,
    identity_members,
)
from contactfix.pipeline.ranking import Observation, RankedContact, rank_contacts, repairing_contact
from contactfix.pipeline.records import among
from contactfix.pipeline.shared_phones import (
    DEFAULT_MIN_IDENTITIES,
    InvalidSharedPhoneSetting,
    find_shared_phones,
)

__all__ = [
    "DEFAULT_CONFIDENCE_THRESHOLD",
    "DEFAULT_REPAIR_CHANNELS",
    "InvalidRepairSetting",
    "RepairCounts",
    "repair_contacts",
]

log = logging.getLogger(__name__)

# A debtor is repaired when its best new phone reaches this confidence: the smallest threshold whose
# precision on the calibration seed is ≥ 98% (a margin for the ±0.5% sampling error of about 1,000
# repaired debtors), so that on other data it stays ≥ 97% (bench/RESULTS.md, "Repair").
DEFAULT_CONFIDENCE_THRESHOLD = 0.96
# Mediators call and text: an address alone does not make a debtor reachable by the next step.
DEFAULT_REPAIR_CHANNELS: tuple[str, ...] = ("phone",)


class InvalidRepairSetting(ContactfixError, ValueError):
    """A repair setting is out of range (the message names it)."""


@dataclass(slots=True)
class RepairCounts:
    """What one repair run did.

    ``ranked_debtors``: debtors whose contacts were ranked; ``newly_repaired``: moved from lost to
    repaired by this run; ``demoted_contacts``: rankings held down by a wrong-number or no-answer
    report or by being a shared phone; ``shared_phones``: numbers found shared; ``rankings_written``
    and ``rankings_deleted``: rows inserted or changed, and removed; ``dispatches_planned``: dispatches
    written for the newly repaired; ``dispatches_unassigned``: newly repaired debtors no mediator could
    take yet.
    """

    ranked_debtors: int = 0
    newly_repaired: int = 0
    demoted_contacts: int = 0
    shared_phones: int = 0
    rankings_written: int = 0
    rankings_deleted: int = 0
    dispatches_planned: int = 0
    dispatches_unassigned: int = 0


def repair_contacts(
    session: Session,
    run_id: int,
    *,
    debtor_ids: Iterable[int] | None = None,
    threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    shared_min_identities: int = DEFAULT_MIN_IDENTITIES,
    channels: Sequence[str] = DEFAULT_REPAIR_CHANNELS,
    as_of: dt.date | None = None,
) -> RepairCounts:
    """Rank the contacts of ``debtor_ids`` (None: every debtor) and mark the newly repaired.

    ``run_id`` is written on every ranking this run inserts or changes. ``threshold`` is the confidence
    a new phone needs to repair a debtor; ``shared_min_identities`` how many identities make a phone
    shared; ``channels`` which channels can repair; ``as_of`` the day recency is measured to (today).
    Writes through ``session`` and flushes; the caller commits. Running it twice changes nothing.
    """
    if not 0.0 < threshold <= 1.0:
        raise InvalidRepairSetting(f"threshold must be in (0, 1], not {threshold}")
    as_of = as_of or dt.date.today()
    if shared_min_identities < 2:
        raise InvalidSharedPhoneSetting(f"min_identities must be at least 2, not {shared_min_identities}")
    counts = RepairCounts()
    shared_seen: set[str] = set()
    for chunk in debtor_chunks(session, debtor_ids):
        gathered = gather(session, chunk, identity_members(session, chunk))
        # Only the phones these debtors carry are counted, on the (channel, value) index: a night's
        # cost follows the debtors it repairs, not the size of the contacts table.
        phones = {o.value for observations in gathered.values() for o in observations if o.channel == "phone"}
        shared = find_shared_phones(session, min_identities=shared_min_identities, values=phones)
        shared_seen.update(shared)
        _repair_chunk(session, chunk, gathered, run_id, counts, shared, threshold, tuple(channels), as_of)
    counts.shared_phones = len(shared_seen)
    session.flush()
    log.info(
        "repair: %d debtors ranked, %d newly repaired, %d contacts demoted, %d shared phones",
        counts.ranked_debtors, counts.newly_repaired, counts.demoted_contacts, counts.shared_phones,
    )  # fmt: skip
    return counts


def _repair_chunk(
    session: Session,
    debtors: list[DebtorRow],
    gathered: dict[int, list[Observation]],
    run_id: int,
    counts: RepairCounts,
    shared: dict[str, int],
    threshold: float,
    channels: tuple[str, ...],
    as_of: dt.date,
) -> None:
    existing = _existing_rankings(session, [d.id for d in debtors])
    changes = _Changes()
    repaired: dict[int, RankedContact] = {}
    for debtor in debtors:
        ranked = rank_contacts(gathered[debtor.id], as_of=as_of, shared=shared)
        counts.ranked_debtors += 1
        counts.demoted_contacts += sum(1 for contact in ranked if _demoted(contact))
        changes.add(debtor.id, ranked, existing.get(debtor.id, {}), run_id)
        best = repairing_contact(ranked, threshold=threshold, channels=channels)
        if best is not None and debtor.status == DebtorStatus.LOST.value:
            repaired[debtor.id] = best
    changes.write(session, counts)
    _mark_repaired(session, repaired, run_id, counts)


def _demoted(contact: RankedContact) -> bool:
    return bool({"wrong_number", "no_answer", "shared"} & set(contact.flags))


def _existing_rankings(
    session: Session, debtor_ids: list[int]
) -> dict[int, dict[tuple[str, str], dict[str, Any]]]:
    """debtor id → (channel, value) → the stored ranking's id and content."""
    columns = [getattr(ContactRanking, name) for name in ("id", "debtor_id", "channel", "value", *_CONTENT)]
    found: dict[int, dict[tuple[str, str], dict[str, Any]]] = {}
    query = select(*columns).where(among(session.connection(), ContactRanking.debtor_id, debtor_ids))
    for row in session.execute(query).mappings():
        found.setdefault(row["debtor_id"], {})[(row["channel"], row["value"])] = dict(row)
    return found


_CONTENT = ("rank", "confidence", "sources", "last_seen", "flags")


def _content(contact: RankedContact) -> dict[str, Any]:
    return {
        "rank": contact.rank,
        "confidence": contact.confidence,
        "sources": contact.sources(),
        "last_seen": contact.last_seen,
        "flags": list(contact.flags),
    }


def _same(stored: dict[str, Any], content: dict[str, Any]) -> bool:
    for name in _CONTENT:
        if name == "confidence":
            if abs(float(stored[name]) - content[name]) > 1e-9:
                return False
        elif stored[name] != content[name]:
            return False
    return True


class _Changes:
    """The rankings a round of debtors inserts, updates and deletes, written in three statements."""

    def __init__(self) -> None:
        self.inserts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.stale: list[int] = []

    def add(
        self,
        debtor_id: int,
        ranked: list[RankedContact],
        existing: dict[tuple[str, str], dict[str, Any]],
        run_id: int,
    ) -> None:
        """Compare one debtor's new ranking with what is stored; only differences are kept."""
        left = dict(existing)
        for contact in ranked:
            content = _content(contact)
            stored = left.pop((contact.channel, contact.value), None)
            if stored is None:
                key = {"debtor_id": debtor_id, "channel": contact.channel, "value": contact.value}
                self.inserts.append({**key, "run_id": run_id, **content})
            elif not _same(stored, content):
                self.updates.append({"id": stored["id"], "run_id": run_id, **content})
        self.stale += [row["id"] for row in left.values()]

    def write(self, session: Session, counts: RepairCounts) -> None:
        """Deletes first: a contact whose value changed spelling leaves before it comes back."""
        if self.stale:
            session.execute(delete(ContactRanking).where(ContactRanking.id.in_(self.stale)))
        if self.updates:
            session.execute(update(ContactRanking), self.updates)  # bulk UPDATE by primary key
        if self.inserts:
            _insert_rankings(session, self.inserts)
        counts.rankings_deleted += len(self.stale)
        counts.rankings_written += len(self.inserts) + len(self.updates)


_INSERTED = ("debtor_id", "channel", "value", "run_id", *_CONTENT)


def _insert_rankings(session: Session, rows: list[dict[str, Any]]) -> None:
    """New rankings: COPY on PostgreSQL (a full run inserts hundreds of thousands), else the ORM's
    executemany."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(ContactRanking), rows)
        return
    copied = [
        (r["debtor_id"], r["channel"], r["value"], r["run_id"], r["rank"], r["confidence"],
         json.dumps(r["sources"], ensure_ascii=False), r["last_seen"], json.dumps(r["flags"]))
        for r in rows
    ]  # fmt: skip
    insert_rows(connection, ContactRanking.__tablename__, _INSERTED, copied)


def _mark_repaired(
    session: Session, repaired: dict[int, RankedContact], run_id: int, counts: RepairCounts
) -> None:
    if not repaired:
        return
    # Only lost debtors move: one a mediator reached or closed meanwhile keeps their word.
    chosen = among(session.connection(), Debtor.id, list(repaired))
    moved = session.execute(
        update(Debtor)
        .where(chosen, Debtor.status == DebtorStatus.LOST.value)
        .values(status=DebtorStatus.REPAIRED.value)
        .returning(Debtor.id)
        .execution_options(synchronize_session=False)
    ).scalars()
    newly: dict[int, PlannedContact] = {}
    for debtor_id in sorted(moved):
        contact = repaired[debtor_id]
        counts.newly_repaired += 1
        newly[debtor_id] = PlannedContact(contact.channel, contact.value, contact.confidence)
        record_audit(
            session, "repair", "debtor.repaired", "debtor", debtor_id,
            run_id=run_id, channel=contact.channel, confidence=contact.confidence,
            sources=len(contact.sources()),
        )  # fmt: skip
    # The transactional outbox: the dispatches commit or roll back with the repair itself.
    planned = plan_dispatches(session, newly, run_id)
    counts.dispatches_planned += planned.planned
    counts.dispatches_unassigned += planned.unassigned
