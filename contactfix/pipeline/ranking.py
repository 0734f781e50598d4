"""Rank one debtor's contacts: pure functions from contact observations to confidences and ranks.

An :class:`Observation` is one contact as one source record carried it, with what ranking needs to
know of that record: how far it can be trusted, when it was made, how surely it belongs to the
debtor's identity, and what mediators reported of the contact. Nothing here touches the database;
:mod:`contactfix.pipeline.repair` gathers the observations and writes the rankings.

Each contact's confidence comes from :mod:`contactfix.pipeline.confidence`. Contacts are ranked per
channel (phones among phones, addresses among addresses), best first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from contactfix.db.models import MISTYPED_LINE, THIRD_PARTY_LINE
from contactfix.pipeline.confidence import Features, SourceTrust, Weights, confidence
from matchers.chinese import address_without_prefixes
from matchers.errors import InvalidPhone
from matchers.identifiers import parse_phone

__all__ = [
    "FLAG_NAMES",
    "NOT_PUSHED",
    "REPAIRS",
    "Features",
    "Observation",
    "RankedContact",
    "SourceTrust",
    "contact_key",
    "describe_contacts",
    "marked_repairing",
    "rank_contacts",
    "repairing_contact",
    "sources_text",
    "takes_texts",
]


# Line types that can receive a text message; a fixed line can only be called.
_MOBILE_TYPES = frozenset({"mobile", "fixed_line_or_mobile"})
_DAYS_PER_YEAR = 365.25
_BANKS = frozenset({SourceTrust.OWN_BANK, SourceTrust.OTHER_BANK})
_COURTS = frozenset({SourceTrust.COURT_FILING, SourceTrust.COURT_SERVICE})
# Statuses (reported outcomes) that mean the debtor was on the line, and those that speak against.
_REACHING = frozenset({"reached", "objected"})
# The line types intake gives a number the bank holds for someone else (an emergency contact) and a
# mobile the bank misspelt (see contactfix.db.models).
_THIRD_PARTY = THIRD_PARTY_LINE
_MISTYPED = MISTYPED_LINE
_AGAINST = frozenset({"wrong_number", "no_answer"})
_PHONE = "phone"
_ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class Observation:
    """One contact as one source record carried it.

    ``source_key`` tells independent sources apart (one court case, one bank); ``membership`` is the
    probability that the record belongs to the debtor's identity (1 for the debtor's own record);
    ``status`` is what mediators reported of this contact (a :class:`~contactfix.db.ContactStatus`).
    ``position``: its place among the record's phones (0: the first written); it breaks ties only.
    """

    record_id: int
    trust: SourceTrust
    source: str
    source_key: str
    reference: str | None
    observed_on: dt.date | None
    channel: str
    value: str
    line_type: str | None = None
    status: str = "unverified"
    membership: float = 1.0
    position: int = 0


@dataclass(frozen=True, slots=True)
class RankedContact:
    """One contact of one debtor, ranked within its channel (1 = best), with its provenance."""

    channel: str
    value: str
    rank: int
    confidence: float
    features: Features
    observations: tuple[Observation, ...]
    last_seen: dt.date | None
    flags: tuple[str, ...] = ()

    @property
    def excluded(self) -> bool:
        """Never to be pushed: reported wrong, invalid, shared by many, or the debtor objected."""
        features = self.features
        return features.wrong_number or not features.valid or bool(features.shared) or features.objected

    def sources(self) -> list[dict[str, Any]]:
        """Provenance as stored: one entry per record, newest first (JSON-ready)."""
        seen: dict[int, Observation] = {}
        for observation in self.observations:
            seen.setdefault(observation.record_id, observation)
        ordered = sorted(seen.values(), key=_newest_first)
        return [
            {
                "record_id": o.record_id,
                "source": o.source,
                "reference": o.reference,
                "observed_on": o.observed_on.isoformat() if o.observed_on else None,
            }
            for o in ordered
        ]


def sources_text(sources: Iterable[Mapping[str, Any]]) -> str:
    """Provenance as people read it: "court （2024）闽0103民初1234号 2024-03-01; bank CF000123 2026-06-01"."""
    parts = []
    for source in sources:
        words = [
            str(source.get("source") or "?"),
            str(source.get("reference") or f"record {source.get('record_id')}"),
        ]
        if source.get("observed_on"):
            words.append(str(source["observed_on"]))
        parts.append(" ".join(words))
    return "; ".join(parts)


def contact_key(channel: str, value: str) -> str:
    """What makes two values one contact: E.164 for phones; for addresses, the address without the
    province and city names courts often leave out (福建省福州市鼓楼区… = 鼓楼区…)."""
    if channel == _ADDRESS:
        return address_without_prefixes(value) or value
    return value


def _newest_first(observation: Observation) -> tuple[int, int]:
    day = observation.observed_on.toordinal() if observation.observed_on else 0
    return (-day, observation.record_id)


def _kind(channel: str, line_type: str | None) -> str:
    """Contacts compete with others of their kind: a new landline does not replace a mobile."""
    if channel == _PHONE:
        return "mobile" if line_type in _MOBILE_TYPES else "fixed"
    return channel


@dataclass(slots=True)
class _Group:
    channel: str
    value: str
    observations: list[Observation]
    # The failure date of a known-failed number this one is a slip of the pen from (see _mark_slips).
    inherited_failure: dt.date | None = None
    # The better-attested number this one is a slip of the pen from.
    slip_of: str | None = None

    def failed_on(self) -> dt.date | None:
        """The newest day a bank's lost-debtor record carried it: known failed as of then (None: not
        known to have failed). Every bank batch is of debtors the bank could not reach on them."""
        days = [
            o.observed_on or dt.date.min
            for o in self.observations
            if o.trust in _BANKS and o.line_type != _THIRD_PARTY
        ]
        if self.inherited_failure is not None:
            days.append(self.inherited_failure)
        return max(days, default=None)

    def third_party(self) -> bool:
        """A bank holds it as someone else's number for the debtor (an emergency contact, a spouse)."""
        return any(o.line_type == _THIRD_PARTY and o.trust in _BANKS for o in self.observations)

    @property
    def line_type(self) -> str | None:
        """The phone's line type as a source recorded it (a third party's mark is not a line type)."""
        return next(
            (o.line_type for o in self.observations if o.line_type and o.line_type != _THIRD_PARTY), None
        )

    def rescued(self, failed_on: dt.date) -> bool:
        """Something after the failure shows it working: a mediator reached the debtor on it, or a
        carrier confirmed it."""
        return any(
            (o.status in _REACHING or o.trust == SourceTrust.CARRIER)
            and (o.observed_on or dt.date.min) >= failed_on
            for o in self.observations
        )

    def independent(self) -> list[Observation]:
        """The observations that are evidence the contact works: no bank's record (its date is the
        day it sent the lost debtor, the contact is why), no report against it, and for a contact a
        bank lost the debtor on, no court filing either (plaintiffs copy the bank's number)."""
        return self.independent_given(self.failed_on() is not None)

    def independent_given(self, failed: bool) -> list[Observation]:
        """:meth:`independent`, with whether the contact is known to have failed already known."""
        return [
            o
            for o in self.observations
            if o.trust not in _BANKS and o.status not in _AGAINST and not (failed and o.trust in _COURTS)
        ]


def _groups(observations: Iterable[Observation]) -> list[_Group]:
    groups: dict[tuple[str, str], _Group] = {}
    for observation in observations:
        key = (observation.channel, contact_key(observation.channel, observation.value))
        group = groups.get(key)
        if group is None:
            groups[key] = _Group(observation.channel, observation.value, [observation])
        else:
            group.observations.append(observation)
            # The fullest spelling of an address represents it; ties go to the smaller string, so the
            # stored value does not depend on the order records arrive in.
            if (-len(observation.value), observation.value) < (-len(group.value), group.value):
                group.value = observation.value
    return sorted(groups.values(), key=lambda g: (g.channel, g.value))


def describe_contacts(
    observations: Iterable[Observation], *, as_of: dt.date, shared: Mapping[str, int] | None = None
) -> list[tuple[str, str, Features, tuple[Observation, ...]]]:
    """(channel, value, features, observations) of every contact in ``observations``.

    ``shared`` maps phone numbers (E.164) carried by the records of many identities to how many.
    """
    shared = shared or {}
    groups = _groups(observations)
    _mark_slips(groups)
    settled = [_settle(group) for group in groups]
    competing: dict[str, list[tuple[dt.date, str]]] = {}
    for group, facts in zip(groups, settled, strict=True):
        day = facts.seen
        usable = facts.failed_on is None or facts.rescued
        if (
            day is not None
            and usable
            and group.value not in shared
            and not _reported_wrong(group.observations)
            and group.slip_of is None
            and not facts.third_party
        ):
            competing.setdefault(_kind(group.channel, facts.line_type), []).append((day, group.value))
    described = []
    for group, facts in zip(groups, settled, strict=True):
        rivals = competing.get(_kind(group.channel, facts.line_type), [])
        features = _features(group, facts, rivals, as_of, shared.get(group.value, 0))
        ordered = tuple(sorted(group.observations, key=_newest_first))
        described.append((group.channel, group.value, features, ordered))
    return described


def _one_slip_apart(a: str, b: str, *, lengths_may_differ: bool = False) -> bool:
    """Whether two numbers of one length differ by one digit, or by two neighbours swapped: what a
    clerk's or a bank's typing does. Two real numbers of one person are that close about once in
    ten million pairs. With ``lengths_may_differ``, also a digit dropped or doubled (for a misspelt
    mobile, which no valid number is)."""
    if lengths_may_differ and abs(len(a) - len(b)) == 1:
        short, long = sorted((a, b), key=len)
        return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
    if len(a) != len(b) or a == b:
        return False
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(differ) == 1:
        return True
    return (
        len(differ) == 2
        and differ[1] == differ[0] + 1
        and a[differ[0]] == b[differ[1]]
        and a[differ[1]] == b[differ[0]]
    )


def _mark_slips(groups: Sequence[_Group]) -> None:
    """Numbers a slip of the pen apart are one number written twice.

    Next to a number a bank lost the debtor on, the other spelling is that number too (the bank or
    the filer mistyped it): known failed as of the same day. Between two numbers not known to have
    failed, the one fewer independent sources carry is the misspelling (none, when they tie).
    """
    phones = [g for g in groups if g.channel == _PHONE]
    if len(phones) < 2:
        return
    failed = {g.value: g.failed_on() for g in phones}
    support = {g.value: len({o.source_key for o in g.independent()}) for g in phones}
    for group in phones:
        for other in phones:
            mistyped = _MISTYPED in (group.line_type, other.line_type)
            if other is group or not _one_slip_apart(group.value, other.value, lengths_may_differ=mistyped):
                continue
            if failed[other.value] is not None and failed[group.value] is None:
                group.inherited_failure = failed[other.value]
            elif (
                failed[other.value] is None is failed[group.value]
                and support[other.value] > support[group.value]
            ):
                group.slip_of = other.value


@dataclass(frozen=True, slots=True)
class _Facts:
    """What ranking reads of a group more than once, computed once (after :func:`_mark_slips`, which
    can make a group known to have failed)."""

    failed_on: dt.date | None
    independent: list[Observation]
    seen: dt.date | None
    rescued: bool
    third_party: bool
    line_type: str | None


def _settle(group: _Group) -> _Facts:
    failed_on = group.failed_on()
    independent = group.independent_given(failed_on is not None)
    return _Facts(
        failed_on=failed_on,
        independent=independent,
        # The newest day an independent source saw it working.
        seen=max((o.observed_on for o in independent if o.observed_on), default=None),
        rescued=failed_on is not None and group.rescued(failed_on),
        third_party=group.third_party(),
        line_type=group.line_type,
    )


def _features(
    group: _Group,
    facts: _Facts,
    rivals: Sequence[tuple[dt.date, str]],
    as_of: dt.date,
    shared: int,
) -> Features:
    observations = group.observations
    seen, independent, failed_on = facts.seen, facts.independent, facts.failed_on
    own = any(o.trust == SourceTrust.OWN_BANK for o in observations)
    statuses = [o.status for o in observations]
    valid, mobile = _phone_facts(group.value, facts.line_type) if group.channel == _PHONE else (True, False)
    others = {value for _, value in rivals if value != group.value}
    if seen is None:  # never seen working by anyone independent: every dated rival is newer
        newest, superseded = False, len(others)
    else:
        newest = all(day <= seen for day, value in rivals if value != group.value)
        superseded = len({value for day, value in rivals if day > seen and value != group.value})
    return Features(
        years_since_seen=max((as_of - seen).days, 0) / _DAYS_PER_YEAR if seen else 0.0,
        newest=newest,
        superseded=superseded,
        sources=len({o.source_key for o in independent}),
        own_bank=own,
        own_bank_only=own and all(o.trust == SourceTrust.OWN_BANK for o in observations),
        mobile=mobile,
        valid=valid,
        trust=min((o.trust for o in observations), key=_TRUST_ORDER.index),
        membership=_membership(observations),
        reached=sum(1 for status in statuses if status in _REACHING),
        no_answer=statuses.count("no_answer"),
        wrong_number=_reported_wrong(observations),
        objected="objected" in statuses,
        shared=shared,
        known_failed=failed_on is not None,
        rescued=facts.rescued,
        seen=seen is not None,
        slip=group.slip_of is not None,
        third_party=facts.third_party,
    )


def _reported_wrong(observations: Sequence[Observation]) -> bool:
    """The last decisive report on the contact says wrong number (a later "reached" overrides an
    earlier "wrong number", and the other way round)."""
    decisive = [o for o in observations if o.status in _REACHING or o.status == "wrong_number"]
    if not decisive:
        return False
    last = max(decisive, key=lambda o: (o.observed_on or dt.date.min, o.record_id))
    return last.status == "wrong_number"


def _membership(observations: Sequence[Observation]) -> float:
    """P(at least one record carrying the contact belongs to the identity), records independent.

    A record that is not the debtor's own may be someone else's (a namesake linked by mistake): the
    contact is the debtor's if at least one of the records carrying it is.
    """
    doubt = 1.0
    # A report against a number says nothing of whose it is.
    carrying = {o.record_id: o.membership for o in observations if o.status not in _AGAINST}
    for probability in carrying.values():
        doubt *= 1.0 - min(max(probability, 0.0), 1.0)
    return 1.0 - doubt


def takes_texts(value: str) -> bool:
    """Whether the phone ``value`` is valid and can take a text message (a mobile, per libphonenumber)."""
    return _phone_facts(value, None)[1]


def _phone_facts(value: str, line_type: str | None) -> tuple[bool, bool]:
    """(valid, can take a text message) per libphonenumber; the stored line type when it has one.

    A stored line type is what parsing the number at intake said (a valid number's), so the number
    is not parsed again (a third of ranking's time); a misspelt mobile's is never valid."""
    if line_type == _MISTYPED:
        return False, False
    if line_type is not None:
        return True, line_type in _MOBILE_TYPES
    try:
        phone = parse_phone(value)
    except InvalidPhone:
        return False, False
    return True, (line_type or phone.line_type) in _MOBILE_TYPES


_TRUST_ORDER = list(SourceTrust)


# What a ranking's flags say, in the order they are stored.
# ``repairs``: the contact that makes the debtor repaired by today's evidence (repairing_contact).
FLAG_NAMES = (
    "wrong_number", "invalid", "shared", "do_not_contact", "reached", "no_answer", "bank_had", "known_failed",
    "slip", "third_party", "repairs",
)  # fmt: skip
REPAIRS = "repairs"
# Flags of a contact nobody is given to dial or text: unusable, known to have failed (a bank's lost
# number, or a misspelling of a better one), or someone else's (a bank's emergency contact).
NOT_PUSHED = frozenset(
    {"wrong_number", "invalid", "shared", "do_not_contact", "known_failed", "slip", "third_party"}
)


def _flags(features: Features) -> tuple[str, ...]:
    raised = {
        "wrong_number": features.wrong_number,
        "invalid": not features.valid,
        "shared": bool(features.shared),
        "do_not_contact": features.objected,
        "reached": bool(features.reached),
        "no_answer": bool(features.no_answer),
        "bank_had": features.own_bank,
        "known_failed": features.known_failed and not features.rescued,
        "slip": features.slip,
        "third_party": features.third_party,
    }
    return tuple(name for name in FLAG_NAMES if raised.get(name))  # REPAIRS: see marked_repairing


def rank_contacts(
    observations: Iterable[Observation],
    *,
    as_of: dt.date,
    shared: Mapping[str, int] | None = None,
    weights: Mapping[str, Weights] | None = None,
) -> list[RankedContact]:
    """Every contact of one debtor, ranked within its channel, best first; channels in name order.

    A number reported wrong or invalid, then a shared phone, always rank after every other contact,
    whatever their confidence; among the rest, a number that reached the debtor comes first, then
    higher confidence, then more independent sources, then the more recently seen, then the one a
    filing wrote first.
    """
    ranked: list[RankedContact] = []
    by_channel: dict[str, list[RankedContact]] = {}
    for channel, value, features, carried in describe_contacts(observations, as_of=as_of, shared=shared):
        seen = max((o.observed_on for o in carried if o.observed_on), default=None)
        last_seen = _seen_by_others(carried) or seen
        score = confidence(channel, features, weights)
        contact = RankedContact(channel, value, 0, score, features, carried, last_seen, _flags(features))
        by_channel.setdefault(channel, []).append(contact)
    for channel in sorted(by_channel):
        ordered = sorted(by_channel[channel], key=_rank_key)
        ranked += [_with_rank(contact, position) for position, contact in enumerate(ordered, start=1)]
    return ranked


def _seen_by_others(carried: Sequence[Observation]) -> dt.date | None:
    days = [o.observed_on for o in carried if o.trust not in _BANKS and o.observed_on]
    return max(days, default=None)


def _rank_key(contact: RankedContact) -> tuple[bool, bool, bool, bool, float, int, int, int, str]:
    features = contact.features
    last = contact.last_seen.toordinal() if contact.last_seen else 0
    # Two numbers equal in all else are mostly two numbers in one filing's cell: a filer writes the
    # party's own number first and adds a spare or a relative's after it.
    written = min((o.position for o in contact.observations if o.trust not in _BANKS), default=0)
    unusable = features.wrong_number or not features.valid
    failed = (features.known_failed and not features.rescued) or features.slip or features.third_party
    # A number that reached the debtor stays first until it is reported wrong; one a bank lost the
    # debtor on never ranks above one not known to have failed.
    first = (unusable, bool(features.shared), failed, not features.reached, -contact.confidence)
    return (*first, -features.sources, -last, written, contact.value)


def marked_repairing(ranked: Sequence[RankedContact], chosen: RankedContact) -> list[RankedContact]:
    """``ranked`` with ``chosen`` flagged :data:`REPAIRS`, so that a later step that reads the stored
    ranking (a dispatch planned when a mediator is added) picks the contact repair picked."""
    return [
        replace(contact, flags=(*contact.flags, REPAIRS)) if contact is chosen else contact
        for contact in ranked
    ]


def _with_rank(contact: RankedContact, rank: int) -> RankedContact:
    return RankedContact(
        contact.channel, contact.value, rank, contact.confidence, contact.features, contact.observations,
        contact.last_seen, contact.flags,
    )  # fmt: skip


def repairing_contact(
    ranked: Sequence[RankedContact],
    *,
    link_probability: float,
    min_confidence: float = 0.0,
    channels: Sequence[str] = (_PHONE,),
) -> RankedContact | None:
    """The contact that makes the debtor "repaired", or None: the best-ranked candidate that

    * is of ``channels`` (phones by default: mediators call) and, for a phone, a mobile (a landline
      reaches a household or an office, not knowingly the debtor);
    * is not known to have failed (a bank lost the debtor on it, or it is a slip of the pen from such
      a number), unless something later showed it working, and is not a misspelling of a better-
      attested number, nor a number the bank holds as someone else's (its emergency contact);
    * is pushable: valid, not reported wrong, not shared, no objection on it;
    * is carried by a record linked to the debtor with probability ≥ ``link_probability``;
    * has confidence ≥ ``min_confidence``.

    Candidates are taken in rank order: after a wrong-number report the next one repairs.
    """
    for contact in sorted(ranked, key=lambda c: (c.channel, c.rank)):
        features = contact.features
        if contact.channel not in channels or contact.excluded:
            continue
        if contact.channel == _PHONE and not features.mobile:
            continue
        if (features.known_failed and not features.rescued) or features.slip or features.third_party:
            continue
        if features.membership >= link_probability and contact.confidence >= min_confidence:
            return contact
    return None
