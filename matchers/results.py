"""What a linkage run returns: the pairs, the clusters, the model, the blocking report and timings.

Kept columnar (numpy); DataFrames are built on request only, so the command line never imports pandas.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from matchers.blocking import RuleReport
from matchers.compare import Comparator
from matchers.normalize import PersonRecords
from matchers.scoring import MatchModel

if TYPE_CHECKING:
    from matchers.explain import PairExplanation

__all__ = ["LinkResult", "PairTable"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class PairTable:
    """Reported pairs as row indices into the run's records, with probability and per-comparison weights.

    ``chained[k]`` marks a pair reported because a chain of links joins it (its weights are NaN: it was
    not compared directly, or only weakly).
    """

    left: IntArray
    right: IntArray
    probability: NDArray[np.float64]
    weights: NDArray[np.float32]
    chained: NDArray[np.bool_]
    comparison_names: tuple[str, ...]
    prior_weight: float

    def __len__(self) -> int:
        return int(self.left.shape[0])


@dataclass(frozen=True)
class LinkResult:
    """The outcome of :meth:`matchers.Linker.link` or ``.dedupe``."""

    pairs_table: PairTable
    records: PersonRecords
    cluster_labels: IntArray
    blocking: tuple[RuleReport, ...]
    model: MatchModel
    comparators: tuple[Comparator, ...]
    n_candidates: int
    timings: Mapping[str, float]
    warnings: tuple[str, ...]

    @property
    def pairs(self) -> Any:
        """DataFrame: left_id, right_id, probability, match_weight, prior_weight, <comparison>_weight."""
        import pandas as pd

        header, columns = self._columns(explain=True)
        return pd.DataFrame(dict(zip(header, columns, strict=True)), columns=header)

    @property
    def clusters(self) -> Any:
        """DataFrame ``cluster, source, id`` for every record (singletons too), largest clusters first."""
        import pandas as pd

        header = ("cluster", "source", "id")
        return pd.DataFrame(list(self.cluster_rows()), columns=list(header))

    def pair_rows(self, explain: bool = False) -> Iterator[tuple[Any, ...]]:
        """Header then one tuple per pair: ``left_id, right_id, probability`` (+ weights with ``explain``)."""
        header, columns = self._columns(explain)
        yield tuple(header)
        formatted = [
            [_format(v) for v in column.tolist()] if i >= 2 else column.tolist()
            for i, column in enumerate(columns)
        ]
        yield from zip(*formatted, strict=True)

    def cluster_rows(self) -> Iterator[tuple[int, str, str]]:
        """``(cluster, source, id)`` per record; clusters renumbered by size (largest first), then order."""
        labels = self.cluster_labels
        sizes = np.bincount(labels)
        rank = np.empty(len(sizes), dtype=np.int64)
        rank[np.lexsort((np.arange(len(sizes)), -sizes))] = np.arange(len(sizes))
        renumbered = rank[labels]
        n_left = self.records.n_left
        for row in np.lexsort((np.arange(len(labels)), renumbered)).tolist():
            source = "left" if row < n_left else "right"
            yield int(renumbered[row]), source, str(self.records.ids[row])

    def explain(self, left_id: str, right_id: str) -> PairExplanation:
        """Each comparison's contribution to the match weight of two records, and the prior."""
        from matchers.explain import explain_pair

        return explain_pair(self, left_id, right_id)

    def _columns(self, explain: bool) -> tuple[list[str], list[NDArray[Any]]]:
        table = self.pairs_table
        ids = self.records.ids
        header = ["left_id", "right_id", "probability"]
        columns: list[NDArray[Any]] = [ids[table.left], ids[table.right], table.probability]
        if explain:
            total = np.where(
                table.chained, np.nan, table.prior_weight + table.weights.sum(axis=1, dtype=np.float64)
            )
            header += ["match_weight", "prior_weight", *(f"{name}_weight" for name in table.comparison_names)]
            columns += [total, np.full(len(table), table.prior_weight)]
            columns += [table.weights[:, k].astype(np.float64) for k in range(table.weights.shape[1])]
        return header, columns


def _format(value: float) -> str:
    """Probabilities and weights as short decimal text; NaN (no direct comparison) as empty."""
    if value != value:
        return ""
    return f"{value:.6g}"
