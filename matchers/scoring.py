"""Stage 4 — score: Fellegi–Sunter with m and u estimated without labels, and term-frequency adjustment.

The model is over *all* pairs of records, not only the candidates: a pair's match weight is
``log2(λ / (1 - λ)) + Σ_f log2(m_f / u_f)`` at its comparison levels, where λ is the share of all pairs
that match. ``u`` (how often two different people agree at a level) comes from random pairs; pairs the
blocking did not propose are taken to be non-matches, so EM over the candidate pairs alone estimates ``m``
and λ. Random pairs contain a few true matches — for a unique identifier they are nearly all its
agreements — so each EM step removes the share that the current λ and ``m`` explain from ``u``.

EM runs over the distinct comparison patterns with their counts (a few thousand rows however many
pairs), so it takes milliseconds. Term frequencies refine exact agreement on names: agreeing on a
common name (王伟, smith) is worth less than agreeing on a rare one (梅九鼎).

People's word on a few pairs (:class:`LabelledPairs`) enters EM as observed classes: a pair labelled a
match counts towards ``m`` (and λ) with weight 1 in every step, a pair labelled a non-match with
weight 0, in place of the share EM would have given it (clamped membership). They do not enter ``u``:
``u`` describes non-matches among *all* pairs, and labelled pairs are chosen among look-alikes (the
model's doubts), so counting them there would bias ``u`` towards agreement. Without labels the fit is
exactly the unlabelled one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from matchers.compare import Comparison
from matchers.normalize import PersonRecords

__all__ = [
    "LabelledPairs",
    "MatchModel",
    "estimate_u_counts",
    "fit_model",
    "match_probability",
    "probability_from_weight",
    "random_pairs",
    "term_frequency_adjustments",
    "weight_matrix",
    "with_term_frequencies",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Levels = NDArray[np.uint8]

# Pseudo-count per level: keeps every m and u strictly positive without moving well-estimated ones.
_SMOOTHING = 0.5
# Bounds of a term-frequency adjustment in bits: one rare value must not outweigh everything else.
_TF_BOUND = 8.0


@dataclass(frozen=True)
class MatchModel:
    """A fitted Fellegi–Sunter model: per comparison ``m`` and ``u`` per level (index 0 = missing, unused),
    the prior λ over all pairs, and per TF field the weight adjustment of exact agreement per value."""

    comparisons: tuple[Comparison, ...]
    m: tuple[FloatArray, ...]
    u: tuple[FloatArray, ...]
    prior: float
    tf_adjustments: Mapping[str, FloatArray]
    iterations: int
    converged: bool

    @property
    def prior_weight(self) -> float:
        """log2 of the prior odds that two records chosen at random match."""
        return float(np.log2(self.prior / (1.0 - self.prior)))

    def level_weights(self) -> list[FloatArray]:
        """Per comparison, the match weight ``log2(m/u)`` of each level (0 for level 0, missing)."""
        weights = []
        for m, u in zip(self.m, self.u, strict=True):
            w = np.log2(m / u)
            w[0] = 0.0
            weights.append(w)
        return weights


@dataclass(frozen=True)
class LabelledPairs:
    """Pairs whose class people gave, by their comparison levels (``pairs × comparisons``, as for the
    candidates): ``match`` True for the same entity, False for different ones. ``among_candidates``
    marks the pairs that are also rows of the candidates' levels EM runs over, whose expected class
    the label then replaces (a pair is never counted twice)."""

    levels: Levels
    match: NDArray[np.bool_]
    among_candidates: NDArray[np.bool_]

    def __post_init__(self) -> None:
        n = self.levels.shape[0]
        if self.match.shape != (n,) or self.among_candidates.shape != (n,):
            raise ValueError("labelled pairs: levels, match and among_candidates differ in length")

    def __len__(self) -> int:
        return int(self.levels.shape[0])


def random_pairs(records: PersonRecords, count: int, seed: int) -> tuple[IntArray, IntArray]:
    """``count`` pairs drawn uniformly from all pairs (left × right, or distinct rows of one table)."""
    rng = np.random.default_rng(seed)
    if count <= 0 or records.n < 2 or (records.is_link and records.n_left == 0):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    if records.is_link:
        left = rng.integers(0, records.n_left, count)
        right = rng.integers(records.n_left, records.n, count)
        return left.astype(np.int64), right.astype(np.int64)
    a = rng.integers(0, records.n, count)
    b = rng.integers(0, records.n - 1, count)
    b = np.where(b >= a, b + 1, b)
    return np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)


def estimate_u_counts(comparisons: Sequence[Comparison], levels: Levels) -> list[FloatArray]:
    """Per comparison, how many random pairs fell at each level (level 0 excluded later)."""
    return [
        np.bincount(levels[:, k], minlength=c.n_levels).astype(np.float64) for k, c in enumerate(comparisons)
    ]


def _radix(comparisons: Sequence[Comparison]) -> tuple[IntArray, IntArray]:
    radix = np.array([c.n_levels for c in comparisons], dtype=np.int64)
    place = np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]]).astype(np.int64)
    return radix, place


def _patterns(levels: Levels, comparisons: Sequence[Comparison]) -> tuple[Levels, FloatArray]:
    """Distinct rows of the level matrix and how many pairs show each."""
    if levels.shape[0] == 0:
        return levels, np.zeros(0)
    radix, place = _radix(comparisons)
    packed = levels.astype(np.int64) @ place
    unique, counts = np.unique(packed, return_counts=True)
    decoded = (unique[:, None] // place[None, :]) % radix[None, :]
    return decoded.astype(np.uint8), counts.astype(np.float64)


def _without(
    patterns: Levels, counts: FloatArray, removed: Levels, comparisons: Sequence[Comparison]
) -> FloatArray:
    """``counts`` of ``patterns`` less one for each row of ``removed`` (rows that are among them)."""
    if removed.shape[0] == 0 or patterns.shape[0] == 0:
        return counts
    _, place = _radix(comparisons)
    known = patterns.astype(np.int64) @ place  # sorted: np.unique's order
    wanted = removed.astype(np.int64) @ place
    at = np.minimum(np.searchsorted(known, wanted), len(known) - 1)
    if np.any(known[at] != wanted):
        raise ValueError("a labelled pair marked among the candidates has levels no candidate has")
    left = counts.copy()
    np.subtract.at(left, at, 1.0)
    if np.any(left < 0):
        raise ValueError("more labelled pairs marked among the candidates than candidates with their levels")
    return left


def _normalise(counts: FloatArray) -> FloatArray:
    """Level shares among levels 1..K with a pseudo-count each; index 0 set to 1 (unused)."""
    smoothed = counts.astype(np.float64).copy()
    smoothed[1:] += _SMOOTHING
    smoothed[1:] /= smoothed[1:].sum()
    smoothed[0] = 1.0
    return smoothed


def _initial_m(comparison: Comparison) -> FloatArray:
    """Agreement-heavy start for EM: exact 0.9, decreasing geometrically, 'different' the smallest."""
    k = comparison.n_levels - 1
    start = np.array([0.0, *(0.9 * 0.25**i for i in range(k))], dtype=np.float64)
    start[1:] /= start[1:].sum()
    start[0] = 1.0
    return start


def _posterior(
    patterns: Levels, m: Sequence[FloatArray], u: Sequence[FloatArray], prior: float
) -> FloatArray:
    weight = np.full(patterns.shape[0], np.log2(prior / (1.0 - prior)))
    for k in range(patterns.shape[1]):
        weight += np.log2(m[k] / u[k])[patterns[:, k]] * (patterns[:, k] > 0)
    return probability_from_weight(weight)


def fit_model(
    comparisons: Sequence[Comparison],
    levels: Levels,
    random_levels: Levels,
    total_pairs: float,
    tf_adjustments: Mapping[str, FloatArray] | None = None,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
    labelled: LabelledPairs | None = None,
) -> MatchModel:
    """EM over the candidate pairs' ``levels`` for ``m`` and λ; ``u`` from ``random_levels``.

    ``total_pairs`` is the number of all pairs (left × right, or n(n-1)/2); candidates outside it are
    taken as non-matches. ``labelled`` pairs count with their given class instead of EM's estimate
    (see the module's text). Returns the fitted :class:`MatchModel` (TF adjustments attached as given).
    """
    patterns, counts = _patterns(levels, comparisons)
    candidates = float(counts.sum())
    # Labelled matches: their level counts per comparison, added to EM's expected counts every step.
    fixed_m: list[FloatArray] | None = None
    fixed_matches = 0.0
    if labelled is not None and len(labelled):
        counts = _without(patterns, counts, labelled.levels[labelled.among_candidates], comparisons)
        matched = labelled.levels[labelled.match]
        fixed_m = [
            np.bincount(matched[:, k], minlength=c.n_levels).astype(np.float64)
            for k, c in enumerate(comparisons)
        ]
        fixed_matches = float(matched.shape[0])
    raw_u = estimate_u_counts(comparisons, random_levels)
    n_random = float(random_levels.shape[0])
    m = [_initial_m(c) for c in comparisons]
    u = [_normalise(c) for c in raw_u]
    prior = min(0.5, max(candidates * 0.1 / total_pairs, 1.0 / total_pairs))
    converged, iteration = False, 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007  (the count is reported)
        resp = _posterior(patterns, m, u, prior)
        weighted = counts * resp
        expected = [
            np.bincount(patterns[:, k], weights=weighted, minlength=c.n_levels).astype(np.float64)
            for k, c in enumerate(comparisons)
        ]
        matches = weighted.sum()
        if fixed_m is not None:  # only with labels: without, every step is exactly the unlabelled one
            expected = [e + f for e, f in zip(expected, fixed_m, strict=True)]
            matches = matches + fixed_matches
        new_prior = float(np.clip(matches / total_pairs, 1.0 / total_pairs, 0.5))
        new_m = [_normalise(e) for e in expected]
        # The random sample holds about prior × n_random true matches, distributed like m.
        new_u = [
            _normalise(
                np.maximum(raw - new_prior * n_random * mk * (raw[1:].sum() / max(n_random, 1.0)), 0.0)
            )
            for raw, mk in zip(raw_u, new_m, strict=True)
        ]
        shift = max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)) if m else 0.0
        shift = max(shift, abs(new_prior - prior) / prior)
        m, u, prior = new_m, new_u, new_prior
        if shift < tolerance:
            converged = True
            break
    return MatchModel(
        tuple(comparisons), tuple(m), tuple(u), prior, dict(tf_adjustments or {}), iteration, converged
    )


def with_term_frequencies(model: MatchModel, records: PersonRecords) -> MatchModel:
    """The model with term-frequency adjustments for every comparison that names a TF field."""
    u_exact = {
        c.tf_field: float(model.u[k][1]) for k, c in enumerate(model.comparisons) if c.tf_field is not None
    }
    return replace(model, tf_adjustments=term_frequency_adjustments(records, model.comparisons, u_exact))


def term_frequency_adjustments(
    records: PersonRecords, comparisons: Sequence[Comparison], u_exact: Mapping[str, float]
) -> dict[str, FloatArray]:
    """Per TF field, ``log2(u_exact / p_v)`` for every distinct value ``v`` (``p_v`` its share of records).

    Added to the exact-agreement weight, it makes the weight ``log2(m / p_v)``: large for rare values,
    small for common ones. Bounded to ±8 bits.
    """
    out: dict[str, FloatArray] = {}
    for comparison in comparisons:
        field = comparison.tf_field
        if field is None or field not in u_exact:
            continue
        counts = records.fields[field].counts().astype(np.float64)
        share = np.maximum(counts, 1.0) / max(float(counts.sum()), 1.0)
        out[field] = np.clip(np.log2(u_exact[field] / share), -_TF_BOUND, _TF_BOUND)
    return out


def weight_matrix(
    model: MatchModel, records: PersonRecords, levels: Levels, left: IntArray
) -> NDArray[np.float32]:
    """The ``pairs × comparisons`` match weights: ``log2(m/u)`` at each level, plus, for exact agreement
    on a TF field, the adjustment for the value agreed on (taken from the left record)."""
    weights = np.zeros(levels.shape, dtype=np.float32)
    for k, (comparison, w) in enumerate(zip(model.comparisons, model.level_weights(), strict=True)):
        weights[:, k] = w.astype(np.float32)[levels[:, k]]
        table = model.tf_adjustments.get(comparison.tf_field or "")
        if table is not None and comparison.tf_field is not None:
            exact = np.flatnonzero(levels[:, k] == 1)
            codes = records.fields[comparison.tf_field].codes[left[exact]]
            weights[exact, k] += np.where(codes >= 0, table[np.maximum(codes, 0)], 0.0).astype(np.float32)
    return weights


def match_probability(
    model: MatchModel, records: PersonRecords, levels: Levels, left: IntArray
) -> FloatArray:
    """Match probability per pair: ``1 / (1 + 2^-(prior weight + Σ comparison weights))``."""
    total = np.full(levels.shape[0], model.prior_weight, dtype=np.float64)
    total += weight_matrix(model, records, levels, left).sum(axis=1, dtype=np.float64)
    return probability_from_weight(total)


def probability_from_weight(weight: FloatArray) -> FloatArray:
    """``1 / (1 + 2^-weight)``, safe for any weight."""
    probability: FloatArray = 1.0 / (1.0 + np.exp2(-np.clip(weight, -60.0, 60.0)))
    return probability
