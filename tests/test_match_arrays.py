"""matchers.arrays gives exactly what np.unique gives, by sorting."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers.arrays import factorize_objects, unique_pairs, unique_sorted

ints = st.lists(st.integers(min_value=0, max_value=(1 << 40)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(ints)
def test_unique_sorted_is_np_unique(values: list[int]) -> None:
    array = np.asarray(values, dtype=np.int64)
    assert np.array_equal(unique_sorted(array), np.unique(array))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-5, 1 << 33), st.integers(0, 1 << 33))
        | st.tuples(st.integers(0, 9), st.integers(0, 9)),
        max_size=60,
    )
)
def test_unique_pairs_is_np_unique_by_rows(pairs: list[tuple[int, int]]) -> None:
    left = np.asarray([a for a, _ in pairs], dtype=np.int64)
    right = np.asarray([b for _, b in pairs], dtype=np.int64)
    first, second = unique_pairs(left, right)
    expected = (
        np.unique(np.stack([left, right], axis=1), axis=0) if pairs else np.empty((0, 2), dtype=np.int64)
    )
    assert np.array_equal(first, expected[:, 0]) and np.array_equal(second, expected[:, 1])
    assert first.dtype == second.dtype == np.int64


def test_small_ids_take_the_packed_path_and_large_ones_the_lexsort_and_agree() -> None:
    rng = np.random.default_rng(3)
    left, right = rng.integers(0, 50, 1000), rng.integers(0, 50, 1000)
    packed = unique_pairs(left, right)
    wide = unique_pairs(left + (1 << 40), right)
    assert np.array_equal(packed[0] + (1 << 40), wide[0]) and np.array_equal(packed[1], wide[1])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["name_dob", "id", "phone", "addr", "名字"]), max_size=40))
def test_factorize_objects_is_np_unique_inverse(kinds: list[str]) -> None:
    array = np.empty(len(kinds), dtype=object)
    array[:] = kinds
    expected = np.unique(array.astype(str), return_inverse=True)[1].reshape(-1) if kinds else np.empty(0)
    assert np.array_equal(factorize_objects(array), expected)
