"""How likely a contact reaches the debtor: the score behind every ranking.

::

    z          = intercept + Σ weight × feature      (the argued prior below, or a fit on outcomes)
               + reached bonus                      (a person answered on it)
    confidence = σ(z) × P(at least one record carrying it belongs to the identity)

then rules that no weight can override: 0 for a number reported wrong or invalid; a known-failed
contact (one a bank lost the debtor on) at most :data:`KNOWN_FAILED_CAP` until a mediator reaches the
debtor on it or a carrier confirms it later; a phone many identities share at most
:data:`SHARED_CONFIDENCE_CAP`.

Where the numbers come from. The prior is argued, constant by constant, from what court filings and
bank files are, not fitted on our sample generator (an earlier fit learned the generator: every
filing carried the number of its day, so age and order looked decisive; on data nobody here wrote it
repaired no one). Each feature is bounded so that no single one moves a contact from near certain to
near impossible: the largest term of the prior is 2.4 logits (two newer rival numbers), the bonus of
a reached number 3. ``contactfix calibrate`` replaces the prior by a regularised logistic fit on real
outcomes, shrunk toward the prior (:mod:`contactfix.pipeline.calibration`), when there are enough of
them and the fit predicts held-out outcomes better.

:mod:`contactfix.pipeline.ranking` computes the features.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

__all__ = [
    "ADDRESS_PRIOR",
    "FEATURE_NAMES",
    "KNOWN_FAILED_CAP",
    "PHONE_PRIOR",
    "REACHED_BONUS",
    "SHARED_CONFIDENCE_CAP",
    "Features",
    "SourceTrust",
    "Weights",
    "confidence",
    "feature_vector",
]

_ADDRESS = "address"


class SourceTrust(StrEnum):
    """Where a contact comes from, most trusted first."""

    COURT_SERVICE = "court_service"  # an address the debtor confirmed for service (送达地址确认书)
    CARRIER = "carrier"  # a carrier's lost-contact repair: the subscriber behind the ID today
    MEDIATOR = "mediator"  # a mediator's or dialer's reported outcome
    COURT_FILING = "court_filing"  # a party's contact in a court filing
    OTHER_BANK = "other_bank"  # another bank's record of the same person (also a lost-debtor batch)
    OWN_BANK = "own_bank"  # the submitting bank's own record: the contact it lost


# A person answered on it: no filing date can match that. +3 takes a contact from 0.5 to 0.95 and
# from 0.1 to 0.69: strong, but not enough on its own to lift a number that other evidence says is
# long gone to certainty. Such a number also ranks first whatever its confidence (rank_contacts).
REACHED_BONUS = 3.0
# A phone on the records of many identities (a switchboard, an agent's mobile) may reach someone, but
# not knowingly the debtor: whatever its evidence it stays below any sensible repair threshold.
SHARED_CONFIDENCE_CAP = 0.05
# A contact a bank lost the debtor on: it failed, so it neither repairs nor outranks a contact not
# known to have failed. It is still shown (a mediator may try it last), with a confidence that says so.
KNOWN_FAILED_CAP = 0.02


@dataclass(frozen=True, slots=True)
class Features:
    """What is known of one contact of one debtor, from all its observations.

    ``years_since_seen``: years from the newest independent sighting to the ranking day (0 if none).
    Independent: a court filing, a carrier, a mediator who reached the debtor; never a bank's lost-
    debtor record, and for a known-failed contact never a court filing either (plaintiffs copy the
    bank's number into their filings). ``seen``: there is such a sighting.
    ``newest``: no rival contact of the same kind (mobile, fixed line, address) was seen later;
    ``superseded``: how many rivals were seen strictly later. Rivals are contacts not known to have
    failed, not reported wrong, not shared.
    ``sources``: independent sources (court cases, carriers, mediators) that carry it.
    ``own_bank``: the submitting bank's record has it; ``own_bank_only``: nothing else has.
    ``known_failed``: a bank's lost-debtor record has it (the bank lost the debtor on it);
    ``rescued``: a mediator reached the debtor on it, or a carrier confirmed it, after that.
    ``slip``: it is a misspelling (one digit off, or two neighbours swapped) of a number of the
    debtor that more independent sources carry.
    ``mobile``: a phone that can take a text message; ``valid``: libphonenumber holds it valid.
    ``trust``: its most trusted source; ``membership``: P(it is the debtor's, given the record links).
    """

    years_since_seen: float
    newest: bool
    superseded: int
    sources: int
    own_bank: bool
    own_bank_only: bool
    mobile: bool
    valid: bool
    trust: SourceTrust
    membership: float
    reached: int
    no_answer: int
    wrong_number: bool
    objected: bool
    shared: int  # identities whose records carry the phone, when it is a shared one; else 0
    known_failed: bool = False
    rescued: bool = False
    seen: bool = True
    slip: bool = False  # one digit (or two swapped) from a better-attested number of the debtor
    third_party: bool = False  # the bank holds it as someone else's number (an emergency contact)


# The features the weights apply to, in the order of :func:`feature_vector` (Weights' fields after
# the intercept). Each is bounded: see feature_vector.
FEATURE_NAMES = (
    "years_since_seen",
    "superseded",
    "extra_sources",
    "fixed_line",
    "carrier",
    "no_answer",
    "unseen",
)


@dataclass(frozen=True, slots=True)
class Weights:
    """Logistic weights of :data:`FEATURE_NAMES` (see :func:`feature_vector`) and the intercept."""

    intercept: float
    years_since_seen: float
    superseded: float
    extra_sources: float
    fixed_line: float
    carrier: float
    no_answer: float
    unseen: float

    def logit(self, features: Features) -> float:
        """The weighted part of z for ``features``."""
        return self.intercept + sum(
            w * x for w, x in zip(self.coefficients(), feature_vector(features), strict=True)
        )

    def coefficients(self) -> tuple[float, ...]:
        """The weights of :data:`FEATURE_NAMES`, in order (the intercept excepted)."""
        return tuple(float(getattr(self, name)) for name in FEATURE_NAMES)

    def as_dict(self) -> dict[str, float]:
        """JSON-ready: ``{"intercept": …, feature: weight, …}``."""
        return {key: float(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Weights:
        """The weights stored by :meth:`as_dict`; missing features keep the prior's weight."""
        prior = PHONE_PRIOR.as_dict()
        return cls(**{f.name: float(values.get(f.name, prior[f.name])) for f in fields(cls)})


# Bounds of the features, so that each weight's reach is bounded too.
MAX_YEARS = 6.0  # court exports reach back about six years; older is "old", not older still
MAX_SUPERSEDED = 2  # a third newer number says nothing the second did not
MAX_NO_ANSWER = 3  # phones ring out for many reasons: three unanswered calls are all that count


def feature_vector(features: Features) -> tuple[float, ...]:
    """The features of a contact as bounded numbers, in :data:`FEATURE_NAMES` order."""
    return (
        min(features.years_since_seen, MAX_YEARS),
        float(min(features.superseded, MAX_SUPERSEDED)),
        math.log1p(max(features.sources - 1, 0)),  # each further source adds less
        0.0 if features.mobile else 1.0,
        1.0 if features.trust == SourceTrust.CARRIER else 0.0,
        float(min(features.no_answer, MAX_NO_ANSWER)),
        0.0 if features.seen else 1.0,
    )


# The prior for phones, each weight argued:
# - intercept +0.8 (σ = 0.69): a mobile number a court filing carried, seen this year, with no rival.
#   A party's number in a filing was the number the filer had for them; most people keep a mobile
#   number for years (it is tied to their ID and their bank and payment accounts), but filers also
#   copy numbers from old files and some numbers belong to someone else: likely, far from certain.
# - years_since_seen −0.3 a year, at most −1.8 (six years): people do change numbers, a few percent a
#   year, so an old sighting is less likely to be current (six years alone: σ(0.8−1.8) = 0.27), but
#   filings are one to six years old and arrive in any order: age is weak evidence, not a verdict.
# - superseded −1.2 per rival seen later, at most two (−2.4): a newer number of the same kind from an
#   independent source suggests a change, but filings date the case, not the number, and people
#   carry two live numbers; so a single newer rival halves the odds a few times over, not to zero.
# - extra_sources +0.8 × ln(1 + further sources): a second independent case with the same number
#   (+0.55) makes a copying or typing mistake much less likely; the fifth adds little (+1.29 for 4).
# - fixed_line −1.5: a landline reaches a household or an office, not knowingly the debtor.
# - carrier +2.0: the carrier's answer is the subscriber behind the ID today, by definition of the
#   process: from σ(0.8) to σ(2.8) = 0.94 for a fresh answer.
# - no_answer −0.4 per unanswered call, at most three: weak evidence against.
# - unseen −1.0: nothing but a bank's record has the contact (no independent sighting at all).
PHONE_PRIOR = Weights(
    intercept=0.8,
    years_since_seen=-0.3,
    superseded=-1.2,
    extra_sources=0.8,
    fixed_line=-1.5,
    carrier=2.0,
    no_answer=-0.4,
    unseen=-1.0,
)
# Addresses: the same reasoning, with slower change (people move less often than they change numbers,
# −0.2 a year) and no line type. A service address the debtor confirmed (送达地址确认书) counts as a
# carrier-grade source: the debtor said so to the court.
ADDRESS_PRIOR = Weights(
    intercept=0.8,
    years_since_seen=-0.2,
    superseded=-1.2,
    extra_sources=0.8,
    fixed_line=0.0,
    carrier=2.0,
    no_answer=0.0,
    unseen=-1.0,
)


def confidence(channel: str, features: Features, weights: Mapping[str, Weights] | None = None) -> float:
    """How likely the contact reaches the debtor, in [0, 1] (see the module docstring).

    ``weights`` (channel → :class:`Weights`) replaces the prior: a calibrated model, or a benchmark's.
    """
    if features.wrong_number or not features.valid:
        return 0.0
    chosen = (weights or {}).get(channel) or (ADDRESS_PRIOR if channel == _ADDRESS else PHONE_PRIOR)
    z = chosen.logit(features)
    if channel == _ADDRESS and features.trust == SourceTrust.COURT_SERVICE:
        z += chosen.carrier
    z += REACHED_BONUS * min(features.reached, 1)
    value = features.membership / (1.0 + math.exp(-z))
    if (features.known_failed and not features.rescued) or features.slip or features.third_party:
        value = min(value, KNOWN_FAILED_CAP)
    if features.shared:
        value = min(value, SHARED_CONFIDENCE_CAP)
    return round(value, 4)
