"""Repair: rank every contact of each debtor's identity, and mark the debtors whose best phone is new.

For each debtor: the identity its bank record belongs to (``identity_members``), every record of
that identity with its contacts, and what mediators reported of them → observations →
:func:`contactfix.pipeline.ranking.rank_contacts` → ``contact_rankings``. A debtor without an identity
(resolve has not placed its record) is ranked on its own record alone, which can never repair it.

Idempotent: rankings are keyed by (debtor, channel, value); a row whose content did not change is
left alone, a changed one is updated, a new one inserted, and the rows of contacts no longer present
are deleted. So a ranking's ``run_id`` names the run that last changed it: what dispatch must look at.
A debtor's status moves from ``lost`` to ``repaired``, and back to ``lost`` when every candidate has
been reported wrong; ``reached`` and ``closed`` (set by outcomes) are never touched here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from contactfix.db.audit import audit_values, record_audits
from contactfix.db.dispatch_models import Dispatch
from contactfix.db.identity_models import ContactRanking
from contactfix.db.models import Debtor, DebtorStatus
from contactfix.dispatch.planning import PlannedContact, plan_dispatches
from contactfix.errors import ContactfixError
from contactfix.pipeline.bulk import insert_rows
from contactfix.pipeline.calibration import active_weights
from contactfix.pipeline.confidence import Weights
from contactfix.pipeline.observations import (
    DebtorRow,
    add_carrier_numbers,
    add_outcomes,
    debtor_chunks,
    gather,
    identity_members,
)
from contactfix.pipeline.ranking import (
    REPAIRS,
    Observation,
    RankedContact,
    marked_repairing,
    rank_contacts,
    repairing_contact,
)
from contactfix.pipeline.records import among
from contactfix.pipeline.shared_phones import (
    DEFAULT_MIN_IDENTITIES,
    InvalidSharedPhoneSetting,
    find_shared_phones,
)
from contactfix.privacy.sealing import field_cipher

__all__ = [
    "DEFAULT_CONFIDENCE_THRESHOLD",
    "DEFAULT_LINK_PROBABILITY",
    "DEFAULT_REPAIR_CHANNELS",
    "InvalidRepairSetting",
    "RepairCounts",
    "repair_contacts",
]

log = logging.getLogger(__name__)

# The defaults of the settings repair_link_probability and repair_confidence_threshold (argued in
# config/default.toml): what "repaired" means, see ranking.repairing_contact.
DEFAULT_LINK_PROBABILITY = 0.9
DEFAULT_CONFIDENCE_THRESHOLD = 0.1
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
    written for the newly repaired and the redispatched; ``dispatches_unassigned``: debtors no mediator
    could take yet; ``redispatched``: repaired debtors whose dispatched contact was reported wrong and
    whose next candidate was dispatched; ``lost_again``: repaired debtors with no candidate left.
    """

    ranked_debtors: int = 0
    newly_repaired: int = 0
    demoted_contacts: int = 0
    shared_phones: int = 0
    rankings_written: int = 0
    rankings_deleted: int = 0
    dispatches_planned: int = 0
    dispatches_unassigned: int = 0
    redispatched: int = 0
    lost_again: int = 0


def repair_contacts(
    session: Session,
    run_id: int,
    *,
    debtor_ids: Iterable[int] | None = None,
    threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    link_probability: float = DEFAULT_LINK_PROBABILITY,
    shared_min_identities: int = DEFAULT_MIN_IDENTITIES,
    channels: Sequence[str] = DEFAULT_REPAIR_CHANNELS,
    as_of: dt.date | None = None,
    weights: Mapping[str, Weights] | None = None,
    now: dt.datetime | None = None,
) -> RepairCounts:
    """Rank the contacts of ``debtor_ids`` (None: every debtor) and mark the newly repaired.

    ``run_id`` is written on every ranking this run inserts or changes. A debtor is repaired by the
    best candidate not known to have failed, carried by a record linked with probability ≥
    ``link_probability``, with confidence ≥ ``threshold`` (:func:`~contactfix.pipeline.ranking.
    repairing_contact`); ``shared_min_identities`` is how many identities make a phone shared;
    ``channels`` which channels can repair; ``as_of`` the day recency is measured to (today);
    ``weights`` the confidence model (default: the newest active calibrated model, else the prior);
    ``now`` the instant carrier numbers must not have expired by (default: now).
    Writes through ``session`` and flushes; the caller commits. Running it twice changes nothing.
    """
    for name, value in (("threshold", threshold), ("link_probability", link_probability)):
        if not 0.0 <= value <= 1.0:
            raise InvalidRepairSetting(f"{name} must be in [0, 1], not {value}")
    as_of = as_of or dt.date.today()
    if shared_min_identities < 2:
        raise InvalidSharedPhoneSetting(f"min_identities must be at least 2, not {shared_min_identities}")
    if weights is None:
        weights = active_weights(session)
    rule = _RepairRule(threshold, link_probability, tuple(channels), as_of, weights)
    now = now or dt.datetime.now(dt.UTC)
    counts = RepairCounts()
    shared_seen: set[str] = set()
    for chunk in debtor_chunks(session, debtor_ids):
        gathered = gather(session, chunk, identity_members(session, chunk))
        add_outcomes(session, gathered)
        add_carrier_numbers(session, gathered, now)
        # Only the phones these debtors carry are counted, on the (channel, value) index: a night's
        # cost follows the debtors it repairs, not the size of the contacts table.
        phones = {o.value for observations in gathered.values() for o in observations if o.channel == "phone"}
        shared = find_shared_phones(session, min_identities=shared_min_identities, values=phones)
        shared_seen.update(shared)
        _repair_chunk(session, chunk, gathered, run_id, counts, shared, rule)
    counts.shared_phones = len(shared_seen)
    session.flush()
    log.info(
        "repair: %d debtors ranked, %d newly repaired, %d redispatched, %d lost again, %d contacts demoted",
        counts.ranked_debtors, counts.newly_repaired, counts.redispatched, counts.lost_again,
        counts.demoted_contacts,
    )  # fmt: skip
    return counts


@dataclass(frozen=True, slots=True)
class _RepairRule:
    threshold: float
    link_probability: float
    channels: tuple[str, ...]
    as_of: dt.date
    weights: Mapping[str, Weights] | None


def _repair_chunk(
    session: Session,
    debtors: list[DebtorRow],
    gathered: dict[int, list[Observation]],
    run_id: int,
    counts: RepairCounts,
    shared: dict[str, int],
    rule: _RepairRule,
) -> None:
    existing = _existing_rankings(session, [d.id for d in debtors])
    dispatched = _dispatched_contacts(
        session, [d.id for d in debtors if d.status == DebtorStatus.REPAIRED.value]
    )
    changes = _Changes()
    repaired: dict[int, RankedContact] = {}
    redispatch: dict[int, RankedContact] = {}
    lost_again: list[int] = []
    for debtor in debtors:
        ranked = rank_contacts(gathered[debtor.id], as_of=rule.as_of, shared=shared, weights=rule.weights)
        counts.ranked_debtors += 1
        counts.demoted_contacts += sum(1 for contact in ranked if _demoted(contact))
        best = repairing_contact(
            ranked,
            link_probability=rule.link_probability,
            min_confidence=rule.threshold,
            channels=rule.channels,
        )
        if best is not None:
            ranked = marked_repairing(ranked, best)
            best = next(contact for contact in ranked if REPAIRS in contact.flags)
        changes.add(debtor.id, ranked, existing.get(debtor.id, {}), run_id)
        if debtor.status == DebtorStatus.LOST.value:
            if best is not None:
                repaired[debtor.id] = best
        elif debtor.status == DebtorStatus.REPAIRED.value:
            sent = dispatched.get(debtor.id, set())
            if best is None:
                lost_again.append(debtor.id)
            elif sent and best.value not in sent and _any_dropped(ranked, sent):
                # The contact the mediator was sent is now reported wrong (or blocked): the next one goes.
                redispatch[debtor.id] = best
    changes.write(session, counts)
    _mark_repaired(session, repaired, run_id, counts)
    _redispatch(session, redispatch, run_id, counts)
    _mark_lost_again(session, lost_again, run_id, counts)


def _dispatched_contacts(session: Session, debtor_ids: list[int]) -> dict[int, set[str]]:
    """debtor id → the phones already dispatched to its mediator."""
    found: dict[int, set[str]] = {}
    if not debtor_ids:
        return found
    query = select(Dispatch.debtor_id, Dispatch.contact_value).where(
        among(session.connection(), Dispatch.debtor_id, debtor_ids)
    )
    for debtor_id, value in session.execute(query):
        found.setdefault(debtor_id, set()).add(value)
    return found


def _any_dropped(ranked: Sequence[RankedContact], sent: set[str]) -> bool:
    return any(contact.value in sent and contact.excluded for contact in ranked)


def _redispatch(
    session: Session, chosen: dict[int, RankedContact], run_id: int, counts: RepairCounts
) -> None:
    if not chosen:
        return
    planned = plan_dispatches(
        session, {d: PlannedContact(c.channel, c.value, c.confidence) for d, c in chosen.items()}, run_id
    )
    counts.redispatched += planned.planned
    counts.dispatches_planned += planned.planned
    counts.dispatches_unassigned += planned.unassigned
    record_audits(
        session,
        (
            audit_values(
                "repair",
                "debtor.next_candidate",
                "debtor",
                debtor_id,
                run_id=run_id,
                channel=contact.channel,
                confidence=contact.confidence,
            )
            for debtor_id, contact in sorted(chosen.items())
        ),
    )


def _mark_lost_again(session: Session, debtor_ids: list[int], run_id: int, counts: RepairCounts) -> None:
    """Repaired debtors with no candidate left (every one reported wrong) are lost again."""
    if not debtor_ids:
        return
    chosen = among(session.connection(), Debtor.id, debtor_ids)
    moved = session.execute(
        update(Debtor)
        .where(chosen, Debtor.status == DebtorStatus.REPAIRED.value)
        .values(status=DebtorStatus.LOST.value)
        .returning(Debtor.id)
        .execution_options(synchronize_session=False)
    ).scalars()
    counts.lost_again += record_audits(
        session,
        (audit_values("repair", "debtor.lost_again", "debtor", d, run_id=run_id) for d in sorted(moved)),
    )


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
    seal = field_cipher().seal  # COPY bypasses the column type: seal here (encryption at rest)
    copied = [
        (r["debtor_id"], r["channel"], seal(r["value"]), r["run_id"], r["rank"], r["confidence"],
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
    entries = []
    for debtor_id in sorted(moved):
        contact = repaired[debtor_id]
        counts.newly_repaired += 1
        newly[debtor_id] = PlannedContact(contact.channel, contact.value, contact.confidence)
        entries.append(
            audit_values(
                "repair", "debtor.repaired", "debtor", debtor_id,
                run_id=run_id, channel=contact.channel, confidence=contact.confidence,
                sources=len(contact.sources()),
            )
        )  # fmt: skip
    record_audits(session, entries)
    # The transactional outbox: the dispatches commit or roll back with the repair itself.
    planned = plan_dispatches(session, newly, run_id)
    counts.dispatches_planned += planned.planned
    counts.dispatches_unassigned += planned.unassigned
