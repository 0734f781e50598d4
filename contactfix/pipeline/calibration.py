"""Confidence learned from outcomes: refit the phone weights on what mediators and dialers reported.

Each labelled contact is one (debtor, phone) with a decisive report: the debtor was on the line
(label 1), or it was a wrong number (label 0); a contact with only unanswered calls is a weak 0
(weight :data:`NO_ANSWER_WEIGHT`). Its features are those the contact had when it was reported:
ranked from the debtor's records dated up to that day, without the outcomes themselves.

The fit is a logistic regression penalised toward the prior (a Gaussian prior on every weight,
centred on :data:`~contactfix.pipeline.confidence.PHONE_PRIOR`): with few outcomes it stays near the
argued prior, with many it follows the data. One debtor in five (by id) is held out; the fit is
scored against the prior on those by Brier score, with a reliability table, and becomes the active
model only if it predicts them better. Every fit is kept (``confidence_models``) with its counts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contactfix.db.outcome_models import REACHING_RESULTS, ConfidenceModel, Outcome, OutcomeResult
from contactfix.errors import ContactfixError
from contactfix.pipeline.confidence import PHONE_PRIOR, Features, Weights, confidence, feature_vector
from contactfix.pipeline.observations import debtor_chunks, gather, identity_members
from contactfix.pipeline.ranking import Observation, describe_contacts

__all__ = [
    "HELD_OUT_EVERY",
    "Calibration",
    "LabelledContact",
    "active_weights",
    "calibrate",
    "fit_weights",
    "labelled_contacts",
    "maybe_calibrate",
]

log = logging.getLogger(__name__)

# An unanswered call is weak evidence against a number: it counts a quarter of a wrong number.
NO_ANSWER_WEIGHT = 0.25
# Strength of the pull toward the prior: a Gaussian prior with a standard deviation of 1/√2 logit on
# each weight. Two hundred labelled contacts move a weight by about a logit when they all say so.
PRIOR_PRECISION = 2.0
# One debtor in this many (by id) is held out for scoring.
HELD_OUT_EVERY = 5
_BINS = 10


class CalibrationError(ContactfixError, ValueError):
    """Calibration could not run (too few outcomes); the message says how many there are."""


@dataclass(frozen=True, slots=True)
class LabelledContact:
    """One reported contact: its features then, its label, how much it counts, whose it is."""

    debtor_id: int
    features: Features
    label: float
    weight: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """One calibration: the weights, the data counts, and how prior and fit scored on held-out data."""

    weights: Weights
    fitted_on: int
    held_out: int
    brier_prior: float | None
    brier_fitted: float | None
    reliability: list[dict[str, Any]]
    active: bool
    model_id: int | None = None


def active_weights(session: Session) -> dict[str, Weights] | None:
    """The newest active calibrated model, as ranking takes weights (None: the prior stands)."""
    stored = session.scalar(
        select(ConfidenceModel.weights)
        .where(ConfidenceModel.active.is_(True), ConfidenceModel.channel == "phone")
        .order_by(ConfidenceModel.id.desc())
        .limit(1)
    )
    return None if stored is None else {"phone": Weights.from_dict(stored)}


def _labels(outcomes: Sequence[Outcome]) -> dict[str, tuple[float, float, dt.date]]:
    """phone → (label, weight, day) from one debtor's outcomes: the last decisive one wins."""
    found: dict[str, tuple[float, float, dt.date]] = {}
    for outcome in sorted(outcomes, key=lambda o: (o.reported_at, o.id)):
        day = outcome.reported_at.date()
        if outcome.result in REACHING_RESULTS:
            found[outcome.value] = (1.0, 1.0, day)
        elif outcome.result == OutcomeResult.WRONG_NUMBER:
            found[outcome.value] = (0.0, 1.0, day)
        elif outcome.result == OutcomeResult.NO_ANSWER and outcome.value not in found:
            found[outcome.value] = (0.0, NO_ANSWER_WEIGHT, day)
    return found


def labelled_contacts(session: Session) -> list[LabelledContact]:
    """Every reported phone with its features as of the report (see the module docstring)."""
    from contactfix.pipeline.outcomes import outcomes_of

    debtor_ids = sorted(set(session.scalars(select(Outcome.debtor_id).distinct())))
    labelled: list[LabelledContact] = []
    for chunk in debtor_chunks(session, debtor_ids):
        reported = outcomes_of(session, [d.id for d in chunk])
        gathered = gather(session, chunk, identity_members(session, chunk))
        for debtor in chunk:
            for value, (label, weight, day) in _labels(reported.get(debtor.id, [])).items():
                features = _features_on(gathered[debtor.id], value, day)
                if features is not None:
                    labelled.append(LabelledContact(debtor.id, features, label, weight))
    return labelled


def _features_on(observations: Iterable[Observation], value: str, day: dt.date) -> Features | None:
    """The features ``value`` had on ``day``, from the records dated up to then."""
    known = [o for o in observations if o.observed_on is None or o.observed_on <= day]
    for channel, contact, features, _ in describe_contacts(known, as_of=day):
        if channel == "phone" and contact == value:
            return features
    return None


def fit_weights(
    labelled: Sequence[LabelledContact], prior: Weights = PHONE_PRIOR, precision: float = PRIOR_PRECISION
) -> Weights:
    """Logistic regression by Newton's method, penalised by ``precision``/2 · ‖w − prior‖²."""
    x = np.array([(1.0, *feature_vector(c.features)) for c in labelled], dtype=float)
    y = np.array([c.label for c in labelled], dtype=float)
    sample = np.array([c.weight for c in labelled], dtype=float)
    centre = np.array([prior.intercept, *prior.coefficients()], dtype=float)
    w = centre.copy()
    penalty = precision * np.eye(len(w))
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (sample * (p - y)) + precision * (w - centre)
        hessian = (x.T * (sample * p * (1.0 - p))) @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    names = [field.name for field in dataclasses.fields(Weights)]
    return Weights(**{name: round(float(value), 4) for name, value in zip(names, w, strict=True)})


def _scores(labelled: Sequence[LabelledContact], weights: Weights | None) -> list[float]:
    chosen = None if weights is None else {"phone": weights}
    return [confidence("phone", c.features, chosen) for c in labelled]


def brier(labelled: Sequence[LabelledContact], scores: Sequence[float]) -> float:
    """The weighted mean squared difference between predicted confidence and what happened."""
    total = sum(c.weight for c in labelled)
    return sum(c.weight * (s - c.label) ** 2 for c, s in zip(labelled, scores, strict=True)) / total


def reliability(labelled: Sequence[LabelledContact], scores: Sequence[float]) -> list[dict[str, Any]]:
    """Predicted against observed, in ten bins of predicted confidence (empty bins left out)."""
    table = []
    for index in range(_BINS):
        low, high = index / _BINS, (index + 1) / _BINS
        inside = [
            (c, s) for c, s in zip(labelled, scores, strict=True)
            if low <= s < high or (index == _BINS - 1 and s == 1.0)
        ]  # fmt: skip
        if not inside:
            continue
        weight = sum(c.weight for c, _ in inside)
        table.append(
            {
                "low": low,
                "high": high,
                "contacts": len(inside),
                "predicted": round(sum(c.weight * s for c, s in inside) / weight, 4),
                "observed": round(sum(c.weight * c.label for c, _ in inside) / weight, 4),
            }
        )
    return table


def calibrate(session: Session, *, min_outcomes: int, store: bool = True) -> Calibration:
    """Fit, score on held-out debtors, and (``store``) keep the model; raises CalibrationError with
    fewer than ``min_outcomes`` labelled contacts. The caller commits."""
    labelled = labelled_contacts(session)
    if len(labelled) < min_outcomes:
        raise CalibrationError(
            f"{len(labelled)} labelled contacts (reached or wrong number); calibration needs at least "
            f"{min_outcomes}: the prior stands"
        )
    train = [c for c in labelled if c.debtor_id % HELD_OUT_EVERY]
    held = [c for c in labelled if not c.debtor_id % HELD_OUT_EVERY]
    weights = fit_weights(train)
    brier_prior = brier_fitted = None
    table: list[dict[str, Any]] = []
    if held:
        fitted_scores = _scores(held, weights)
        brier_prior = round(brier(held, _scores(held, None)), 5)
        brier_fitted = round(brier(held, fitted_scores), 5)
        table = reliability(held, fitted_scores)
    active = brier_fitted is not None and brier_prior is not None and brier_fitted < brier_prior
    result = Calibration(weights, len(train), len(held), brier_prior, brier_fitted, table, active)
    if store:
        model = ConfidenceModel(
            channel="phone", weights=weights.as_dict(), outcomes=len(train), held_out=len(held),
            brier_prior=brier_prior, brier_fitted=brier_fitted, reliability=table, active=active,
        )  # fmt: skip
        session.add(model)
        session.flush()
        result = dataclasses.replace(result, model_id=model.id)
    log.info(
        "calibration: %d contacts fitted, %d held out, Brier prior %s fitted %s, %s",
        len(train), len(held), brier_prior, brier_fitted, "active" if active else "kept the prior",
    )  # fmt: skip
    return result


def maybe_calibrate(session: Session, *, min_outcomes: int) -> Calibration | None:
    """The nightly refit: calibrate when at least ``min_outcomes`` outcomes exist and a quarter of
    that many arrived since the last model; else None."""
    last = session.scalar(select(func.max(ConfidenceModel.created_at)))
    new = select(func.count()).select_from(Outcome)
    if last is not None:
        new = new.where(Outcome.created_at > last)
    total = int(session.scalar(select(func.count()).select_from(Outcome)) or 0)
    if total < min_outcomes or int(session.scalar(new) or 0) < max(min_outcomes // 4, 1):
        return None
    try:
        return calibrate(session, min_outcomes=min_outcomes)
    except CalibrationError as exc:
        log.info("calibration skipped: %s", exc)
        return None


def weights_table(weights: Mapping[str, float]) -> list[tuple[str, float, float]]:
    """(name, prior, fitted) for each weight: what an operator compares."""
    prior = PHONE_PRIOR.as_dict()
    return [(name, prior[name], float(weights.get(name, prior[name]))) for name in prior]
