"""Stage 3 — compare: each candidate pair gets one small comparison level per field.

Level 0 always means "missing on one side" (it carries no evidence); level 1 is exact agreement; the
last level is disagreement; the levels between are degrees of closeness the field understands (a
typo, a homophone, a day/month swap, a masked ID that fits). Levels are ``uint8`` so the scoring stage
can work over a compact ``pairs × comparisons`` matrix.

Comparators follow the :class:`Comparator` protocol: they name the comparisons they produce, the fields
they read, and turn pairs of row indices into level arrays, vectorised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from matchers.columns import CodedColumn
from matchers.normalize import PersonRecords
from matchers.similarity import similarity

__all__ = [
    "Comparator",
    "Comparison",
    "DateComparator",
    "IdentifierComparator",
    "StringComparator",
    "compare_pairs",
    "field_codes",
    "graded_levels",
]

IntArray = NDArray[np.int64]
Levels = NDArray[np.uint8]


@dataclass(frozen=True)
class Comparison:
    """One column of comparison levels: its name, the labels of levels 1..K, and its TF field if any."""

    name: str
    levels: tuple[str, ...]
    tf_field: str | None = None

    @property
    def n_levels(self) -> int:
        """Number of levels including level 0 (missing)."""
        return len(self.levels) + 1


@runtime_checkable
class Comparator(Protocol):
    """Turns pairs of records into comparison levels for one or more :class:`Comparison` columns."""

    @property
    def comparisons(self) -> tuple[Comparison, ...]: ...

    @property
    def fields(self) -> tuple[str, ...]: ...

    def usable(self, records: PersonRecords) -> bool: ...

    def compare(self, records: PersonRecords, left: IntArray, right: IntArray) -> list[Levels]: ...


def field_codes(
    records: PersonRecords, name: str, left: IntArray, right: IntArray
) -> tuple[CodedColumn, NDArray[np.int32], NDArray[np.int32]]:
    column = records.fields[name]
    return column, column.codes[left], column.codes[right]


def graded_levels(
    column: CodedColumn,
    cl: NDArray[np.int32],
    cr: NDArray[np.int32],
    metric: str,
    thresholds: Sequence[float],
    first_level: int = 2,
) -> Levels:
    """Levels for pairs present on both sides: 1 exact, then one level per threshold met, then the last."""
    last = first_level + len(thresholds)
    levels = np.zeros(len(cl), dtype=np.uint8)
    present = (cl >= 0) & (cr >= 0)
    exact = present & (cl == cr)
    levels[exact] = 1
    rest = np.flatnonzero(present & ~exact)
    is_distance = metric in ("osa", "hamming")
    cutoff = (max(thresholds) if is_distance else min(thresholds)) if thresholds else None
    scores = similarity(column, cl[rest], cr[rest], metric, cutoff) if thresholds else np.zeros(len(rest))
    graded = np.full(len(rest), last, dtype=np.uint8)
    for k, threshold in reversed(list(enumerate(thresholds))):
        met = scores <= threshold if is_distance else scores >= threshold
        graded[met] = first_level + k
    levels[rest] = graded
    return levels


@dataclass(frozen=True)
class StringComparator:
    """Exact, then similarity tiers (Jaro–Winkler, Indel, token set … ``metric``), then disagreement."""

    field: str
    metric: str = "jaro_winkler"
    thresholds: tuple[float, ...] = (0.92, 0.8)
    tf: bool = False
    label: str | None = None

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """One comparison named after the field (or ``label``)."""
        tiers = tuple(f"{self.metric}≥{t:g}" for t in self.thresholds)
        return (
            Comparison(
                self.label or self.field, ("exact", *tiers, "different"), self.field if self.tf else None
            ),
        )

    @property
    def fields(self) -> tuple[str, ...]:
        """The one field compared."""
        return (self.field,)

    def usable(self, records: PersonRecords) -> bool:
        """True when the compared field has values on both sides."""
        return records.usable(self.fields[0])

    def compare(self, records: PersonRecords, left: IntArray, right: IntArray) -> list[Levels]:
        """Levels per pair: 0 missing, 1 exact, 2.. tiers, last different."""
        column, cl, cr = field_codes(records, self.field, left, right)
        return [graded_levels(column, cl, cr, self.metric, self.thresholds)]


@dataclass(frozen=True)
class DateComparator:
    """Dates as ``yyyymmdd``: exact; a slip (one edit or transposition, or day and month swapped); within
    two edits; different."""

    field: str = "birth_date"

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """One comparison named after the field."""
        return (Comparison(self.field, ("exact", "one slip or day/month swap", "two edits", "different")),)

    @property
    def fields(self) -> tuple[str, ...]:
        """The date field."""
        return (self.field,)

    def usable(self, records: PersonRecords) -> bool:
        """True when the compared field has values on both sides."""
        return records.usable(self.fields[0])

    def compare(self, records: PersonRecords, left: IntArray, right: IntArray) -> list[Levels]:
        """Levels per pair: 0 missing, 1 exact, 2 slip or swap, 3 two edits, 4 different."""
        column, cl, cr = field_codes(records, self.field, left, right)
        levels = graded_levels(column, cl, cr, "osa", (1, 2))
        swapped = _swapped_day_month(column)
        candidates = np.flatnonzero(levels > 2)
        fits = swapped[cl[candidates]] == cr[candidates]
        levels[candidates[fits]] = 2
        return [levels]


def _swapped_day_month(column: CodedColumn) -> NDArray[np.int32]:
    """For each distinct value, the code of the same date with day and month swapped (or -2)."""
    index = {str(v): k for k, v in enumerate(column.values)}
    out = np.full(len(column.values) + 1, -2, dtype=np.int32)
    for k, v in enumerate(column.values):
        text = str(v)
        if len(text) == 8 and text[4:6] != text[6:8]:
            out[k] = index.get(text[:4] + text[6:8] + text[4:6], -2)
    return out


@dataclass(frozen=True)
class IdentifierComparator:
    """Identifiers (ID numbers, phones, e-mail): exact; one edit; [masked form fits]; two edits; different.

    ``partial`` names a field holding the visible prefix and suffix (resident IDs): when one side has
    no full value (a masked ID) the pair is judged on those, at the level "masked form fits".
    """

    field: str
    partial: str | None = None
    label: str | None = None

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """One comparison named after the field (or ``label``)."""
        masked = ("masked form fits",) if self.partial else ()
        return (
            Comparison(self.label or self.field, ("exact", "one edit", *masked, "two edits", "different")),
        )

    @property
    def fields(self) -> tuple[str, ...]:
        """The identifier field (the prefix/suffix field is used when it has values)."""
        return (self.field,)

    def usable(self, records: PersonRecords) -> bool:
        """True when the compared field has values on both sides."""
        return records.usable(self.fields[0])

    def compare(self, records: PersonRecords, left: IntArray, right: IntArray) -> list[Levels]:
        """Levels per pair: 0 missing, 1 exact, 2 one edit, (3 masked fits,) then two edits, different."""
        column, cl, cr = field_codes(records, self.field, left, right)
        levels = graded_levels(column, cl, cr, "osa", (1, 2))
        if self.partial is None:
            return [levels]
        # Make room for level 3 (masked form fits) between one and two edits.
        levels[levels == 4] = 5
        levels[levels == 3] = 4
        if self.partial in records.fields and records.usable(self.partial):
            _, pl, pr = field_codes(records, self.partial, left, right)
            judged = (levels == 0) & (pl >= 0) & (pr >= 0)
            levels[judged] = np.where(pl[judged] == pr[judged], 3, 5).astype(np.uint8)
        return [levels]


def compare_pairs(
    records: PersonRecords, comparators: Sequence[Comparator], left: IntArray, right: IntArray
) -> tuple[tuple[Comparison, ...], Levels]:
    """The ``pairs × comparisons`` level matrix of all comparators, and the comparisons it holds."""
    comparisons: list[Comparison] = []
    columns: list[Levels] = []
    for comparator in comparators:
        comparisons.extend(comparator.comparisons)
        columns.extend(comparator.compare(records, left, right))
    matrix = np.stack(columns, axis=1) if columns else np.zeros((len(left), 0), dtype=np.uint8)
    return tuple(comparisons), matrix
