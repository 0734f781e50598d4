"""Stage 4 — scoring: EM recovers m and λ from unlabelled levels; u from random pairs; TF adjustment."""

from __future__ import annotations

import numpy as np

from matchers.compare import Comparison
from matchers.inputs import table_from_columns
from matchers.normalize import normalize_records
from matchers.scoring import (
    fit_model,
    match_probability,
    probability_from_weight,
    random_pairs,
    term_frequency_adjustments,
)

COMPARISONS = tuple(Comparison(f"f{k}", ("exact", "close", "different")) for k in range(4))
M_TRUE = np.array([0.85, 0.10, 0.05])
U_TRUE = np.array([0.01, 0.04, 0.95])


def _simulate(n_match: int, n_non: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Levels 1..3 for matches drawn from M_TRUE and non-matches from U_TRUE; a few missing (0)."""
    matches = rng.choice([1, 2, 3], size=(n_match, 4), p=M_TRUE)
    others = rng.choice([1, 2, 3], size=(n_non, 4), p=U_TRUE)
    levels = np.vstack([matches, others]).astype(np.uint8)
    levels[rng.random(levels.shape) < 0.05] = 0
    labels = np.r_[np.ones(n_match, bool), np.zeros(n_non, bool)]
    return levels, labels


def test_em_recovers_m_and_the_prior_without_labels() -> None:
    rng = np.random.default_rng(3)
    levels, _ = _simulate(2_000, 18_000, rng)
    random_levels, _ = _simulate(5_000, 45_000, rng)  # random pairs: matches at the same 10 % share
    total_pairs = 20_000.0  # every pair is a candidate here, so the model's prior is the candidates' share
    model = fit_model(COMPARISONS, levels, random_levels, total_pairs)
    assert model.converged
    for m in model.m:
        assert np.allclose(m[1:], M_TRUE, atol=0.02)
    assert abs(model.prior * total_pairs - 2_000) / 2_000 < 0.05
    weights = model.level_weights()
    assert weights[0][1] > 5 and weights[0][3] < -3 and weights[0][0] == 0.0  # missing carries nothing


def test_u_is_cleaned_of_the_matches_hidden_in_random_pairs() -> None:
    rng = np.random.default_rng(4)
    levels, _ = _simulate(1_000, 9_000, rng)
    # One random pair in a hundred is a true match: their agreement must not count as chance agreement.
    contaminated = np.vstack(
        [rng.choice([1, 2, 3], size=(99_000, 4), p=U_TRUE), rng.choice([1, 2, 3], size=(1_000, 4), p=M_TRUE)]
    ).astype(np.uint8)
    model = fit_model(COMPARISONS, levels, contaminated, total_pairs=100_000.0)
    assert abs(model.u[0][1] - U_TRUE[0]) < 0.004


def test_probabilities_separate_matches_from_non_matches() -> None:
    rng = np.random.default_rng(5)
    levels, labels = _simulate(500, 9_500, rng)
    random_levels = rng.choice([1, 2, 3], size=(50_000, 4), p=U_TRUE).astype(np.uint8)
    model = fit_model(COMPARISONS, levels, random_levels, total_pairs=1e6)
    table = {"id": ["x"], "name": ["a"]}
    records = normalize_records(table_from_columns(list(table), table, "T"))
    probability = match_probability(model, records, levels, np.zeros(len(levels), dtype=np.int64))
    predicted = probability >= 0.5
    precision = (predicted & labels).sum() / predicted.sum()
    recall = (predicted & labels).sum() / labels.sum()
    assert precision > 0.97 and recall > 0.9
    assert probability_from_weight(np.array([0.0, 60.0, -1000.0])).tolist() == [
        0.5,
        1.0,
        2**-60 / (1 + 2**-60),
    ]


def test_term_frequency_makes_rare_names_weigh_more() -> None:
    names = ["wang"] * 50 + ["mei"] * 2 + [f"n{i}" for i in range(48)]
    table = {"id": [str(i) for i in range(100)], "family_name": names}
    records = normalize_records(table_from_columns(list(table), table, "T"))
    comparison = Comparison("family_name", ("exact", "different"), "family")
    adjust = term_frequency_adjustments(records, [comparison], {"family": 0.25})["family"]
    family = records.fields["family"]
    code = {str(v): k for k, v in enumerate(family.values)}
    assert adjust[code["mei"]] > 0 > adjust[code["wang"]]


def test_random_pairs_are_left_right_for_a_link_and_distinct_for_one_table() -> None:
    left = {"id": ["a", "b", "c"], "name": ["x", "y", "z"]}
    right = {"id": ["d", "e"], "name": ["x", "y"]}
    linked = normalize_records(
        table_from_columns(list(left), left, "L"), table_from_columns(list(right), right, "R")
    )
    a, b = random_pairs(linked, 500, seed=1)
    assert (a < 3).all() and (b >= 3).all()
    single = normalize_records(table_from_columns(list(left), left, "L"))
    a, b = random_pairs(single, 500, seed=1)
    assert (a < b).all()
    assert len(random_pairs(normalize_records(table_from_columns(["id"], {"id": ["a"]}, "L")), 10, 1)[0]) == 0
