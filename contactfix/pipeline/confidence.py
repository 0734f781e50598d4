"""How likely a contact reaches the debtor: the calibrated score behind every ranking.

::

    z          = intercept + Σ weight × feature          (calibrated on sample data)
               + trust offset of the best source        (set by reasoning: sample data has no such sources)
               + outcome terms (reached, no answer)     (set by reasoning: sample data has no outcomes)
    confidence = σ(z) × P(at least one record carrying it belongs to the identity)

then capped for a phone many identities share, and 0 for a number reported wrong or invalid. Each
constant says why it has its value. :mod:`contactfix.pipeline.ranking` computes the features.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ADDRESS_WEIGHTS",
    "FEATURE_NAMES",
    "NO_ANSWER_PENALTY",
    "PHONE_WEIGHTS",
    "REACHED_BONUS",
    "SHARED_CONFIDENCE_CAP",
    "TRUST_OFFSET",
    "Features",
    "SourceTrust",
    "Weights",
    "confidence",
    "feature_vector",
]

_PHONE = "phone"
_ADDRESS = "address"


class SourceTrust(StrEnum):
    """Where a contact comes from, most trusted first."""

    COURT_SERVICE = "court_service"  # an address the debtor confirmed for service (送达地址确认书)
    CARRIER = "carrier"  # a carrier's lost-contact repair: the subscriber behind the ID today
    MEDIATOR = "mediator"  # a mediator's reported outcome
    COURT_FILING = "court_filing"  # a party's contact in a court filing
    OTHER_BANK = "other_bank"  # another bank's record of the same person
    OWN_BANK = "own_bank"  # the submitting bank's own record: the contact it lost


# Added to z for the best source of a contact, relative to a court filing (0), the only source besides
# the bank's own record that sample data has. A carrier's answer and a confirmed service address are
# what the person uses now, by definition of those processes: +1.5 is worth about three years of
# recency. A mediator's record comes from talking to someone: +1.0. Another bank's record is usually
# the same kind of stale file as ours (banks send lost debtors): −1.0. The bank's own record is
# described by the calibrated features own_bank and own_bank_only, so no offset here.
TRUST_OFFSET: Mapping[SourceTrust, float] = {
    SourceTrust.COURT_SERVICE: 1.5,
    SourceTrust.CARRIER: 1.5,
    SourceTrust.MEDIATOR: 1.0,
    SourceTrust.COURT_FILING: 0.0,
    SourceTrust.OTHER_BANK: -1.0,
    SourceTrust.OWN_BANK: 0.0,
}
# A mediator reached the debtor on it: a person answered, which no filing date can match. +4 takes a
# contact from 0.5 to 0.98; such a number also ranks first whatever its confidence (rank_contacts).
REACHED_BONUS = 4.0
# Nobody answered: weak evidence against (phones ring out for many reasons), counted up to 3 times.
NO_ANSWER_PENALTY = 0.4
NO_ANSWER_COUNTED = 3
# A phone on the records of many identities (a switchboard, an agent's mobile) may reach someone, but
# not knowingly the debtor: whatever its evidence it stays below any threshold that means "repaired".
SHARED_CONFIDENCE_CAP = 0.05


@dataclass(frozen=True, slots=True)
class Features:
    """What is known of one contact of one debtor, from all its observations.

    ``years_since_seen``: years from the newest dated observation (the bank's own record excepted: its
    date is when the bank sent it, not when the contact last worked) to the ranking day; 0 if none.
    ``newest``: no other contact of the same kind (mobile, fixed line, address) was seen later.
    ``superseded``: how many other contacts of the same kind were seen strictly later.
    ``sources``: independent sources (court cases, banks, carriers) besides the bank's own record.
    ``own_bank``: the submitting bank's record has it; ``own_bank_only``: nothing else has.
    ``mobile``: a phone that can take a text message; ``valid``: a phone libphonenumber holds valid
    (addresses are always valid).
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


@dataclass(frozen=True, slots=True)
class Weights:
    """Logistic weights of the calibrated features (see :class:`Features` for each one's meaning)."""

    intercept: float
    years_since_seen: float
    newest: float
    superseded: float
    log_sources: float
    own_bank: float
    own_bank_only: float
    mobile: float

    def logit(self, features: Features) -> float:
        """The calibrated part of z for ``features``."""
        coefficients = [float(getattr(self, name)) for name in FEATURE_NAMES]
        return self.intercept + sum(
            w * x for w, x in zip(coefficients, feature_vector(features), strict=True)
        )


# The calibrated features, in the order of :func:`feature_vector` (Weights' fields after the intercept).
FEATURE_NAMES = (
    "years_since_seen",
    "newest",
    "superseded",
    "log_sources",
    "own_bank",
    "own_bank_only",
    "mobile",
)


def feature_vector(features: Features) -> tuple[float, ...]:
    """The calibrated features of a contact as numbers, in :data:`FEATURE_NAMES` order."""
    return (
        features.years_since_seen,
        float(features.newest),
        float(min(features.superseded, 3)),  # a fourth newer number says nothing a third did not
        math.log1p(features.sources),  # each further source adds less
        float(features.own_bank),
        float(features.own_bank_only),
        float(features.mobile),
    )


# Fitted by `python -m bench.repair_bench` (logistic regression by IRLS; label: the value is the
# person's current mobile / current address) on sample seed 11 with 5,000 debtors, evaluated on seed
# 12 (bench/RESULTS.md, "Repair"). What they say: a number seen after another of its kind is almost
# never current again (superseded −8); age costs about half a logit a year even for the newest; the
# bank's own copy is evidence against (it is the number the bank lost); the label is a mobile, so a
# fixed line (which reaches a household or an office, not knowingly the debtor) scores near 0.
# log_sources fits to ≈ 0 (−0.05): every court filing in sample data carries the number of its day
# without typos, so a second source says nothing the newest sighting does not. It is kept at 0 rather
# than guessed; ranking still prefers more sources between otherwise equal contacts (rank_contacts).
PHONE_WEIGHTS = Weights(
    intercept=-9.84,
    years_since_seen=-0.52,
    newest=2.81,
    superseded=-8.08,
    log_sources=0.0,
    own_bank=-2.76,
    own_bank_only=-0.46,
    mobile=10.63,
)
ADDRESS_WEIGHTS = Weights(
    intercept=2.79,
    years_since_seen=-0.37,
    newest=0.36,
    superseded=-3.44,
    log_sources=0.21,
    own_bank=-0.57,
    own_bank_only=-2.02,
    mobile=0.0,
)
_WEIGHTS = {_PHONE: PHONE_WEIGHTS, _ADDRESS: ADDRESS_WEIGHTS}


def confidence(channel: str, features: Features, weights: Mapping[str, Weights] | None = None) -> float:
    """How likely the contact reaches the debtor, in [0, 1] (see the module docstring).

    ``weights`` (channel → :class:`Weights`) replaces the calibrated ones: the benchmark tries its fits.
    """
    if features.wrong_number or not features.valid:
        return 0.0
    chosen = (weights or _WEIGHTS).get(channel, ADDRESS_WEIGHTS)
    z = chosen.logit(features)
    if not features.own_bank_only:
        z += TRUST_OFFSET[features.trust]
    z += REACHED_BONUS * min(features.reached, 1)
    z -= NO_ANSWER_PENALTY * min(features.no_answer, NO_ANSWER_COUNTED)
    value = features.membership / (1.0 + math.exp(-z))
    if features.shared:
        value = min(value, SHARED_CONFIDENCE_CAP)
    return round(value, 4)
