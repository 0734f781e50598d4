"""Integer-coded string columns: the one data structure every stage of the linker passes around.

A :class:`CodedColumn` stores each distinct value once and an ``int32`` code per record (``-1`` when the
record has no value). Two records hold the same value exactly when their codes are equal, so blocking
joins and exact comparisons are integer operations, and normalisation runs once per distinct value
rather than once per record. Everything here is plain numpy: no pandas, so the command line starts fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MISSING",
    "CodedColumn",
    "blank_column",
    "coalesce",
    "combine_codes",
    "concatenate",
    "derive",
    "factorize",
    "map_lists",
    "map_many",
    "share_vocabulary",
    "strings",
]

MISSING = -1

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class CodedColumn:
    """Distinct values plus one code per record; ``codes[r] == -1`` means record ``r`` has no value.

    Invariant: ``values`` holds no duplicates, so equal codes mean equal values and vice versa.
    """

    codes: NDArray[np.int32]
    values: NDArray[np.object_]

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def present(self) -> NDArray[np.bool_]:
        """Mask of the records that have a value."""
        return self.codes >= 0

    def take(self, rows: IntArray | NDArray[np.int32]) -> NDArray[np.object_]:
        """Values of ``rows`` as an object array of str, ``''`` where a record has no value."""
        padded = np.append(self.values, "") if len(self.values) else np.array([""], dtype=object)
        codes = self.codes[rows]
        return padded[np.where(codes >= 0, codes, len(padded) - 1)]

    def counts(self) -> NDArray[np.int64]:
        """How many records hold each distinct value (indexed like ``values``)."""
        present = self.codes[self.codes >= 0]
        return np.bincount(present, minlength=len(self.values)).astype(np.int64)

    def map(self, func: Callable[[str], str | None]) -> CodedColumn:
        """A new column with ``func`` applied once per distinct value; ``None`` or ``''`` makes it missing."""
        mapped = factorize(func(str(v)) for v in self.values)
        lookup = np.append(mapped.codes, MISSING).astype(np.int32)
        return CodedColumn(lookup[np.where(self.codes >= 0, self.codes, len(lookup) - 1)], mapped.values)

    def subset(self, rows: IntArray) -> CodedColumn:
        """The column restricted to ``rows`` (values are kept as they are, unused ones included)."""
        return CodedColumn(self.codes[rows], self.values)


def factorize(items: Iterable[str | None]) -> CodedColumn:
    """Code a sequence of strings; ``None`` and ``''`` become missing (``-1``)."""
    index: dict[str, int] = {}
    setdefault = index.setdefault
    codes = np.array([setdefault(item, len(index)) if item else MISSING for item in items], dtype=np.int32)
    values = np.empty(len(index), dtype=object)
    values[:] = list(index)
    return CodedColumn(codes, values)


def coalesce(first: CodedColumn, second: CodedColumn) -> CodedColumn:
    """Per record, the value of ``first`` when it has one, else that of ``second``."""
    joined = factorize([*map(str, first.values), *map(str, second.values)])
    lookup_first = np.append(joined.codes[: len(first.values)], MISSING).astype(np.int32)
    lookup_second = np.append(joined.codes[len(first.values) :], MISSING).astype(np.int32)
    from_first = lookup_first[np.where(first.codes >= 0, first.codes, len(lookup_first) - 1)]
    from_second = lookup_second[np.where(second.codes >= 0, second.codes, len(lookup_second) - 1)]
    return CodedColumn(np.where(from_first >= 0, from_first, from_second).astype(np.int32), joined.values)


def combine_codes(columns: Sequence[CodedColumn]) -> IntArray:
    """One int64 key per record identifying the tuple of values of ``columns``; ``-1`` if any is missing.

    Keys are dense-coded after packing so that long tuples cannot overflow int64.
    """
    if not columns:
        raise ValueError("combine_codes needs at least one column")
    key = columns[0].codes.astype(np.int64)
    missing = key < 0
    for column in columns[1:]:
        codes = column.codes.astype(np.int64)
        missing |= codes < 0
        # Re-densify first whenever the multiplication could overflow int64.
        if key.size and int(key.max()) * (len(column.values) + 1) > (1 << 62):
            key = np.unique(key, return_inverse=True)[1].astype(np.int64).reshape(-1)
        key = np.where(missing, 0, key) * (len(column.values) + 1) + np.where(codes < 0, 0, codes)
    return np.where(missing, MISSING, key)


def strings(column: CodedColumn) -> list[str | None]:
    """Per-record values as Python objects, ``None`` where missing (for building derived columns)."""
    values: Sequence[str] = list(column.values)
    return [values[c] if c >= 0 else None for c in column.codes.tolist()]


def derive(columns: Sequence[CodedColumn], func: Callable[..., str | None]) -> CodedColumn:
    """A column whose value for a record is ``func(*values)`` of its ``columns`` (``None`` if missing).

    ``func`` runs once per distinct tuple of values, not once per record.
    """
    packed = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        if packed.size and int(packed.max()) * (len(column.values) + 1) > (1 << 62):
            packed = np.unique(packed, return_inverse=True)[1].astype(np.int64).reshape(-1)
        packed = packed * (len(column.values) + 1) + (column.codes.astype(np.int64) + 1)
    _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
    arguments = [_with_none(column.values)[column.codes[first]].tolist() for column in columns]
    mapped = factorize([func(*values) for values in zip(*arguments, strict=True)])
    return CodedColumn(mapped.codes[inverse.reshape(-1)], mapped.values)


def _with_none(values: NDArray[np.object_]) -> NDArray[np.object_]:
    """``values`` plus a trailing None, so that code -1 (missing) indexes to None."""
    padded = np.empty(len(values) + 1, dtype=object)
    padded[:-1] = values
    return padded


def map_many(
    column: CodedColumn, func: Callable[[str], Sequence[str | None]], width: int
) -> list[CodedColumn]:
    """``width`` new columns from one: ``func`` maps each distinct value to a tuple of ``width`` values."""
    results = [func(str(v)) for v in column.values]
    out = []
    for k in range(width):
        mapped = factorize(r[k] for r in results)
        lookup = np.append(mapped.codes, MISSING).astype(np.int32)
        out.append(
            CodedColumn(lookup[np.where(column.codes >= 0, column.codes, len(lookup) - 1)], mapped.values)
        )
    return out


def share_vocabulary(first: CodedColumn, second: CodedColumn) -> tuple[CodedColumn, CodedColumn]:
    """Both columns re-coded over one vocabulary, so codes compare across them (family vs given name)."""
    joined = factorize([*map(str, first.values), *map(str, second.values)])
    lookup_first = np.append(joined.codes[: len(first.values)], MISSING).astype(np.int32)
    lookup_second = np.append(joined.codes[len(first.values) :], MISSING).astype(np.int32)
    return (
        CodedColumn(
            lookup_first[np.where(first.codes >= 0, first.codes, len(lookup_first) - 1)], joined.values
        ),
        CodedColumn(
            lookup_second[np.where(second.codes >= 0, second.codes, len(lookup_second) - 1)], joined.values
        ),
    )


def map_lists(
    column: CodedColumn, func: Callable[[Sequence[str]], Sequence[Iterable[Any]]]
) -> list[CodedColumn]:
    """New columns from one: ``func`` maps all distinct values at once to parallel lists of new values."""
    results = func([str(v) for v in column.values])
    out = []
    for result in results:
        mapped = factorize(result)
        lookup = np.append(mapped.codes, MISSING).astype(np.int32)
        out.append(
            CodedColumn(lookup[np.where(column.codes >= 0, column.codes, len(lookup) - 1)], mapped.values)
        )
    return out


def concatenate(columns: Sequence[CodedColumn]) -> CodedColumn:
    """Records of all ``columns`` one after the other, over one vocabulary (equal values, equal codes)."""
    joined = factorize(str(v) for column in columns for v in column.values)
    parts, offset = [], 0
    for column in columns:
        lookup = np.append(joined.codes[offset : offset + len(column.values)], MISSING).astype(np.int32)
        parts.append(lookup[np.where(column.codes >= 0, column.codes, len(lookup) - 1)])
        offset += len(column.values)
    return CodedColumn(np.concatenate(parts) if parts else np.empty(0, dtype=np.int32), joined.values)


def blank_column(n: int) -> CodedColumn:
    """A column of ``n`` records, all missing."""
    return CodedColumn(np.full(n, MISSING, dtype=np.int32), np.empty(0, dtype=object))
