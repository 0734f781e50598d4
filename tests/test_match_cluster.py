"""Stage 5 — clustering with guards, and pairs implied by chains of links."""

from __future__ import annotations

import numpy as np

from matchers.cluster import chain_pairs, cluster_records


def _edges(*edges: tuple[int, int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    left = np.array([e[0] for e in edges], dtype=np.int64)
    right = np.array([e[1] for e in edges], dtype=np.int64)
    return left, right, np.array([e[2] for e in edges])


def test_a_weak_link_does_not_chain_two_people_together() -> None:
    # 0–1 and 2–3 are two people; 1–2 is one weak link between them.
    left, right, p = _edges((0, 1, 0.999), (2, 3, 0.998), (1, 2, 0.7))
    clusters = cluster_records(4, left, right, p, threshold=0.5)
    assert clusters.labels[0] == clusters.labels[1] != clusters.labels[2] == clusters.labels[3]
    assert clusters.refused_weak == 1
    strong = cluster_records(4, *_edges((0, 1, 0.999), (2, 3, 0.998), (1, 2, 0.995)), threshold=0.5)
    assert strong.n_clusters == 1


def test_two_valid_different_id_numbers_are_never_one_person() -> None:
    left, right, p = _edges((0, 1, 0.999), (1, 2, 0.999))
    identity = np.array([7, -1, 8], dtype=np.int32)  # records 0 and 2 hold different valid IDs
    clusters = cluster_records(3, left, right, p, threshold=0.5, identity=identity)
    assert clusters.labels[0] == clusters.labels[1] != clusters.labels[2]
    assert clusters.refused_conflict == 1


def test_below_threshold_links_are_ignored_and_singletons_kept() -> None:
    clusters = cluster_records(4, *_edges((0, 1, 0.4), (2, 3, 0.6)), threshold=0.5)
    assert clusters.n_clusters == 3
    assert len(set(clusters.labels.tolist())) == 3


def test_chain_pairs_carry_the_product_of_the_strongest_chain() -> None:
    left, right, p = _edges((0, 1, 0.9), (1, 2, 0.8), (0, 2, 0.1), (3, 4, 0.95))
    clusters = cluster_records(5, left, right, p, threshold=0.5)
    a, b, q = chain_pairs(clusters.labels, left, right, p, threshold=0.5)
    got = {(int(x), int(y)): float(v) for x, y, v in zip(a, b, q, strict=True)}
    assert got.keys() == {(0, 1), (1, 2), (0, 2), (3, 4)}
    assert np.isclose(got[(0, 2)], 0.72) and np.isclose(got[(0, 1)], 0.9)
    # Below the threshold the chain is not reported.
    a, b, _ = chain_pairs(clusters.labels, left, right, p, threshold=0.75)
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == {(0, 1), (1, 2), (3, 4)}
