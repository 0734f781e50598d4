"""Vectorised string similarity over coded columns, for the comparators.

Each function takes a :class:`CodedColumn` and the codes of the two sides of many pairs, and returns one
number per pair from a single rapidfuzz ``cpdist`` call (all cores) — never a Python call per pair.
Small vocabularies (regions, cities, genders) are compared once per pair of distinct values instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Hamming, Indel, JaroWinkler

from matchers.columns import CodedColumn

__all__ = ["METRICS", "similarity"]

FloatArray = NDArray[np.float32]

# Name → (scorer, is a distance, extra keyword arguments for the scorer).
METRICS: dict[str, tuple[Callable[..., Any], bool]] = {
    "jaro_winkler": (JaroWinkler.normalized_similarity, False),
    "indel": (Indel.normalized_similarity, False),
    "token_set": (fuzz.token_set_ratio, False),
    "token_sort": (fuzz.token_sort_ratio, False),
    "osa": (OSA.distance, True),
    "hamming": (Hamming.distance, True),
}
# Below this many distinct values a full value × value matrix is cheaper than comparing pair by pair.
_MATRIX_LIMIT = 2048


def similarity(
    column: CodedColumn,
    left_codes: NDArray[np.int32],
    right_codes: NDArray[np.int32],
    metric: str,
    cutoff: float | None = None,
) -> FloatArray:
    """Similarity (0–1; token metrics scaled from 0–100) or distance (edit count) of each pair of codes.

    Codes must be present (``>= 0``). The result is float32, one value per pair. With ``cutoff`` the
    scorer may stop early: similarities below it come back as 0, distances above it as ``cutoff + 1``.
    """
    scorer, is_distance = METRICS[metric]
    scale = 100.0 if metric.startswith("token") else 1.0
    dtype = np.int32 if is_distance else np.float32
    if len(left_codes) == 0:
        return np.empty(0, dtype=np.float32)
    values = column.values
    if len(values) <= _MATRIX_LIMIT and len(values) ** 2 <= len(left_codes):
        matrix = process.cdist(values, values, scorer=scorer, dtype=dtype, workers=-1)
        result = matrix[left_codes, right_codes]
    else:
        result = process.cpdist(
            values[left_codes], values[right_codes], scorer=scorer, dtype=dtype, workers=-1
        )
    out = np.asarray(result, dtype=np.float32)
    return out / scale if scale != 1.0 else out
