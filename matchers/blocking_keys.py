"""Integer blocking keys: exact tuples of fields, and one-deletion neighbourhoods for typo-tolerant keys.

A value's *deletion neighbourhood* is the value itself plus every string made by deleting one of its
characters. Two values within one edit (substitution, insertion, deletion, or an adjacent transposition)
share at least one member, so joining on the members finds pairs that share no exact value. Members are
represented by 64-bit polynomial hashes computed for all values at once with numpy: the hash of
``s`` is ``Σ s[i]·B^i`` (mod 2^64, ``B`` odd), and deleting character ``k`` gives
``prefix(k) + (total - prefix(k+1)) · B⁻¹`` — no Python loop over characters or values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from matchers.columns import CodedColumn, combine_codes

__all__ = ["Neighbourhoods", "deletion_hashes", "rule_keys"]

IntArray = NDArray[np.int64]
_BASE = np.uint64(1_000_003)
_BASE_INVERSE = np.uint64(pow(1_000_003, -1, 1 << 64))
_MIX = np.uint64(0x9E3779B97F4A7C15)
# Values are cut to this many characters before hashing: long addresses gain nothing from more.
_MAX_CHARS = 32
_CHUNK = 100_000


def deletion_hashes(values: NDArray[np.object_]) -> tuple[NDArray[np.uint64], NDArray[np.bool_]]:
    """Hashes of each value's deletion neighbourhood: ``(n_values × (W + 1))`` and a validity mask.

    Column 0 is the value itself; column ``k + 1`` the value without its ``k``-th character (valid only
    for ``k`` below the value's length).
    """
    width = max((min(len(str(v)), _MAX_CHARS) for v in values), default=0)
    hashes = np.zeros((len(values), width + 1), dtype=np.uint64)
    valid = np.zeros((len(values), width + 1), dtype=bool)
    if width == 0:
        return hashes, valid
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(width, _BASE, dtype=np.uint64), dtype=np.uint64) * _BASE_INVERSE
        for start in range(0, len(values), _CHUNK):
            part = [str(v)[:_MAX_CHARS] for v in values[start : start + _CHUNK]]
            text = np.array(part, dtype=f"U{width}")
            chars = text.view(np.uint32).reshape(len(part), width).astype(np.uint64)
            lengths = np.char.str_len(text)
            prefix = np.cumsum(chars * powers, axis=1, dtype=np.uint64)
            total = prefix[:, -1]
            before = np.concatenate([np.zeros((len(part), 1), dtype=np.uint64), prefix[:, :-1]], axis=1)
            rows = slice(start, start + len(part))
            hashes[rows, 0] = total
            hashes[rows, 1:] = before + (total[:, None] - prefix) * _BASE_INVERSE
            valid[rows, 0] = True
            valid[rows, 1:] = np.arange(width)[None, :] < lengths[:, None]
    return hashes, valid


def _exact_keys(groups: Sequence[Sequence[CodedColumn]]) -> IntArray:
    """Per group, per record, the key of its tuple of values (stacked group after group)."""
    stacked = []
    for position, first in enumerate(groups[0]):
        if any(group[position].values is not first.values for group in groups[1:]):
            raise ValueError("alternate blocking fields must share a vocabulary")
        stacked.append(CodedColumn(np.concatenate([group[position].codes for group in groups]), first.values))
    return combine_codes(stacked)


@dataclass(frozen=True)
class Neighbourhoods:
    """The deletion-neighbourhood hashes of a column's distinct values, flattened value after value."""

    column: CodedColumn
    flat: NDArray[np.uint64]
    value_of: NDArray[np.int32]

    @classmethod
    def of(cls, column: CodedColumn) -> Neighbourhoods:
        """Hash every distinct value's neighbourhood once."""
        hashes, valid = deletion_hashes(column.values)
        value_of = np.nonzero(valid)[0].astype(np.int32)
        return cls(column, hashes[valid], value_of)

    def keys(
        self, base: IntArray, rows: IntArray, part: int, parts: int
    ) -> tuple[NDArray[np.uint64], IntArray]:
        """Per record, one key per neighbourhood member whose hash falls in partition ``part`` of
        ``parts`` (mixed with the record's ``base`` key), and the owning row of each key."""
        chosen = np.flatnonzero(self.flat % np.uint64(parts) == np.uint64(part)) if parts > 1 else None
        flat = self.flat if chosen is None else self.flat[chosen]
        value_of = self.value_of if chosen is None else self.value_of[chosen]
        counts = np.bincount(value_of, minlength=len(self.column.values)).astype(np.int64)
        starts = np.cumsum(counts) - counts
        present = np.flatnonzero((self.column.codes >= 0) & (base >= 0))
        codes = self.column.codes[present]
        per = counts[codes]
        within = np.arange(int(per.sum()), dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
        within += np.repeat(starts[codes], per)
        key = flat[within]
        del within
        owner = np.repeat(rows[present], per)
        if base[present].any():
            with np.errstate(over="ignore"):
                key *= _MIX
                key += np.repeat(base[present].astype(np.uint64), per)
        return key, owner


def rule_keys(
    groups: Sequence[Sequence[CodedColumn]],
    fuzzy: Sequence[Neighbourhoods | None],
    part: int = 0,
    parts: int = 1,
) -> tuple[IntArray, IntArray]:
    """Keys of a rule and the row owning each key.

    ``groups`` are the rule's field tuples (the first and its alternates), each a list of columns of the
    same length ``n``. ``fuzzy[g]``, if given, holds the neighbourhoods of a further column of group
    ``g``, used instead of its exact value; only keys of partition ``part`` of ``parts`` are made (a
    large neighbourhood join runs in parts to bound memory). Rows missing any value get no key.
    """
    first_fuzzy = next((f for f in fuzzy if f is not None), None)
    n = len(groups[0][0]) if groups[0] else len(first_fuzzy.column if first_fuzzy else [])
    rows = np.arange(n, dtype=np.int64)
    exact = _exact_keys(groups) if groups[0] else np.zeros(n * len(groups), dtype=np.int64)
    if first_fuzzy is None:
        return exact, np.tile(rows, len(groups))
    keys, owners = [], []
    for g, neighbourhoods in enumerate(fuzzy):
        base = exact[g * n : (g + 1) * n]
        if neighbourhoods is None:
            raise ValueError("every reading of a fuzzy blocking rule needs its fuzzy field")
        key, owner = neighbourhoods.keys(base, rows, part, parts)
        keys.append(key)
        owners.append(owner)
    key = np.concatenate(keys) if len(keys) > 1 else keys[0]
    owner = np.concatenate(owners) if len(owners) > 1 else owners[0]
    # Keys only need to be comparable; reinterpret the 64 bits as signed and clear the sign bit so that
    # -1 stays free to mean "no key".
    signed = key.view(np.int64)
    signed &= np.int64(0x7FFFFFFFFFFFFFFF)
    return signed, owner
