"""Grouping records into identities: guarded clusters, member probabilities, stable identity ids."""

from __future__ import annotations

import numpy as np

from contactfix.pipeline.grouping import assign_identities, group_records


def _links(*triples: tuple[int, int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    a, b, p = zip(*triples, strict=True) if triples else ((), (), ())
    return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), np.array(p, dtype=np.float64)


def test_clusters_and_member_probabilities() -> None:
    grouping = group_records([10, 20, 30, 40], _links((10, 20, 0.9), (20, 30, 0.7)), {}, 0.5, 0.99)
    assert grouping.clusters == [[10, 20, 30], [40]]
    assert grouping.probability == {10: 0.9, 20: 0.9, 30: 0.7, 40: 1.0}


def test_a_weak_link_does_not_merge_two_groups_and_valid_ids_never_merge() -> None:
    links = _links((1, 2, 0.999), (3, 4, 0.999), (2, 3, 0.8), (5, 6, 0.999))
    numbers = {5: "350103199001021235", 6: "350103199001021251"}
    grouping = group_records([1, 2, 3, 4, 5, 6], links, numbers, 0.5, 0.99)
    assert grouping.clusters == [[1, 2], [3, 4], [5], [6]]


def test_identity_ids_stay_put() -> None:
    # Records 1, 2 were identity 7; 3 was identity 5; 4 is new.
    current = {1: 7, 2: 7, 3: 5}
    # Gaining a member keeps the id; merging keeps the older (smaller) id; a new group gets none.
    assert assign_identities([[1, 2, 4]], current) == [7]
    assert assign_identities([[1, 2, 3]], current) == [5]
    assert assign_identities([[4]], current) == [None]
    # A split: the larger part (listed first) keeps the id, the other part gets a new one.
    assert assign_identities([[1, 3], [2]], {1: 7, 2: 7, 3: 7}) == [7, None]
