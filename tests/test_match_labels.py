"""People's labels on a few pairs inform the model: labelled matches count towards m with weight 1,
labelled non-matches with 0, in place of EM's estimate; without labels the fit is exactly as before."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from test_match_linker import _canonical, _febrl

from matchers import InputError, KnownPairs, Linker, LinkSettings
from matchers.compare import Comparison, compare_pairs
from matchers.inputs import table_from_frame
from matchers.scoring import LabelledPairs, MatchModel, fit_model

COMPARISONS = tuple(Comparison(f"f{k}", ("exact", "close", "different")) for k in range(4))
M_TRUE = np.array([0.85, 0.10, 0.05])
U_TRUE = np.array([0.01, 0.04, 0.95])


def _world(seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)

    def simulate(matches: int, others: int) -> np.ndarray:
        levels = np.vstack(
            [
                rng.choice([1, 2, 3], size=(matches, 4), p=M_TRUE),
                rng.choice([1, 2, 3], size=(others, 4), p=U_TRUE),
            ]
        ).astype(np.uint8)
        levels[rng.random(levels.shape) < 0.05] = 0
        return levels

    return simulate(2_000, 18_000), simulate(50, 49_950)


def _digest(model: MatchModel) -> str:
    digest = hashlib.sha256()
    for values in (*model.m, *model.u, np.array([model.prior])):
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def _weight(model: MatchModel, pattern: tuple[int, ...]) -> float:
    return model.prior_weight + sum(
        float(w[level]) for w, level in zip(model.level_weights(), pattern, strict=True)
    )


def test_without_labels_the_fit_is_bit_for_bit_the_unlabelled_one() -> None:
    levels, random_levels = _world()
    plain = fit_model(COMPARISONS, levels, random_levels, 1e6)
    empty = LabelledPairs(np.zeros((0, 4), np.uint8), np.zeros(0, bool), np.zeros(0, bool))
    assert _digest(fit_model(COMPARISONS, levels, random_levels, 1e6, labelled=empty)) == _digest(plain)
    # The digest of this fit by the code before labels existed (main at cb1623d): nothing moved.
    assert _digest(plain) == "6eef1d883714ee63b4a75d6d66752f7c970a104840fdd34d654edadbc0e5fe99"


def test_labelled_matches_raise_m_where_they_disagree_and_labelled_non_matches_lower_it() -> None:
    levels, random_levels = _world()
    before = fit_model(COMPARISONS, levels, random_levels, 1e6)
    # 30 pairs the model calls different (agree on f0 only) that people say are one person: not
    # candidates (blocking missed them).
    missed = np.tile(np.array([[1, 3, 3, 3]], np.uint8), (30, 1))
    labelled = LabelledPairs(missed, np.ones(30, bool), np.zeros(30, bool))
    after = fit_model(COMPARISONS, levels, random_levels, 1e6, labelled=labelled)
    assert after.m[0][1] > before.m[0][1]
    for k in (1, 2, 3):
        assert after.m[k][3] > before.m[k][3] * 1.2  # "different" is less damning in a match now
    assert _weight(after, (1, 3, 3, 3)) > _weight(before, (1, 3, 3, 3))
    assert after.prior > before.prior
    for m in after.m:
        assert abs(float(m[1:].sum()) - 1.0) < 1e-12

    # Candidate pairs agreeing on f0 to f2, "close" on f3: people say they are two people.
    pattern = np.array([1, 1, 1, 2], np.uint8)
    rows = np.flatnonzero((levels == pattern).all(axis=1))
    assert len(rows) >= 10
    doubted = LabelledPairs(levels[rows], np.zeros(len(rows), bool), np.ones(len(rows), bool))
    lowered = fit_model(COMPARISONS, levels, random_levels, 1e6, labelled=doubted)
    assert lowered.m[3][2] < before.m[3][2]
    assert _weight(lowered, (1, 1, 1, 2)) < _weight(before, (1, 1, 1, 2))


def test_labels_among_candidates_must_be_candidates() -> None:
    levels = np.array([[1, 1, 1, 1], [3, 3, 3, 3], [3, 3, 3, 3]], np.uint8)
    random_levels = np.array([[3, 3, 3, 3], [3, 2, 3, 3]], np.uint8)

    def fit(labelled: np.ndarray) -> None:
        n = len(labelled)
        pairs = LabelledPairs(labelled.astype(np.uint8), np.ones(n, bool), np.ones(n, bool))
        fit_model(COMPARISONS, levels, random_levels, 100.0, labelled=pairs)

    fit(np.array([[3, 3, 3, 3], [3, 3, 3, 3]]))  # both are candidates: fine
    with pytest.raises(ValueError, match="no candidate"):
        fit(np.array([[2, 2, 2, 2]]))
    with pytest.raises(ValueError, match="more labelled pairs"):
        fit(np.array([[1, 1, 1, 1], [1, 1, 1, 1]]))
    with pytest.raises(ValueError, match="differ in length"):
        LabelledPairs(levels[:3], np.ones(2, bool), np.ones(3, bool))


def _febrl_pairs(result: object) -> dict[tuple[int, int], float]:
    table = result.pairs_table  # type: ignore[attr-defined]
    direct = ~table.chained
    return {
        (int(a), int(b)): float(p)
        for a, b, p in zip(table.left[direct], table.right[direct], table.probability[direct], strict=True)
    }


def test_the_linker_takes_known_pairs_and_the_next_run_scores_them_closer_to_the_label() -> None:
    frame, links = _febrl(1)
    table = _canonical(frame)
    linker = Linker(LinkSettings(threshold=0.0))
    before = linker.link_tables(table_from_frame(table, "TABLE"), None)
    ids = {value: k for k, value in enumerate(table["id"].tolist())}
    truth = {tuple(sorted((ids[a], ids[b]))) for a, b in links}
    scored = _febrl_pairs(before)
    # The pairs the model gets most wrong on FEBRL 1: the true pairs it scores lowest (no other pair
    # scores above 0.001 there; non-matches are the fit_model test's).
    chosen = [pair for _, pair in sorted((p, pair) for pair, p in scored.items() if pair in truth)[:3]]
    assert scored[chosen[0]] < 0.5
    match = np.array([pair in truth for pair in chosen])
    known = KnownPairs(
        np.array([b for _, b in chosen]),
        np.array([a for a, _ in chosen]),
        match,  # either order
    )
    after = linker.link_tables(table_from_frame(table, "TABLE"), None, known_pairs=known)
    rescored = _febrl_pairs(after)
    for pair, same in zip(chosen, match.tolist(), strict=True):
        moved = rescored[pair] - scored[pair]
        assert (moved > 0) if same else (moved < 0), (pair, same, scored[pair], rescored[pair])
    # The comparison on which the lowest-scored true pair disagrees most: m of its level moved up.
    a, b = chosen[0]
    pair_levels = compare_pairs(before.records, list(before.comparators), np.array([a]), np.array([b]))[1][0]
    weights = [float(w[level]) for w, level in zip(before.model.level_weights(), pair_levels, strict=True)]
    worst = int(np.argmin(weights))
    assert weights[worst] < 0
    assert after.model.m[worst][pair_levels[worst]] > before.model.m[worst][pair_levels[worst]]
    # No labels (None, or none at all): bit for bit the same as before.
    none = linker.link_tables(
        table_from_frame(table, "TABLE"), None,
        known_pairs=KnownPairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)),
    )  # fmt: skip
    assert _digest(none.model) == _digest(before.model)
    assert np.array_equal(none.pairs_table.probability, before.pairs_table.probability)


def test_bad_known_pairs_are_input_errors() -> None:
    frame, _ = _febrl(1)
    table = table_from_frame(_canonical(frame), "TABLE")
    linker = Linker()
    n = len(frame)
    for left, right, message in (
        ([0], [n], "outside"),
        ([3], [3], "itself"),
        ([1, 2], [2, 1], "more than once"),
    ):
        with pytest.raises(InputError, match=message):
            linker.link_tables(
                table, None, known_pairs=KnownPairs(np.array(left), np.array(right), np.ones(len(left), bool))
            )
