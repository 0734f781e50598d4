"""Blocking keys that stay the same from one run to the next, for storing and joining outside numpy.

:mod:`matchers.blocking` joins on integer codes that are only meaningful inside one run. An incremental
caller instead keeps every record's keys (in a database) and, for a few changed records, finds the
records sharing a key with them. The keys here are therefore hashes of the normalised *values*: the
same record gives the same keys whenever it is normalised, and two records that a blocking rule would
pair share a key of that rule's kind.

Typo-tolerant rules (``fuzzy``) would need a key per deleted character (19 for a resident ID) to
find every pair within one edit. Identifiers of a known shape use five *cut keys* instead: the
first ``f`` characters, the last ``f``, the first ``m`` with the last ``m``, and the value without
the two characters at each of the positions ``m`` and ``f`` (for a swap of neighbours there). Two
values within one substitution, insertion, deletion or swap of neighbours share one of them as long
as the longer is at least ``f + m`` characters long. Other fuzzy fields use the deletion neighbourhood.
Keys are 64-bit digests (stored as 16 hex digits): no ID number or phone is kept in clear. The digest
is the caller's: whoever stores keys passes a keyed one (an HMAC under a secret key), since a plain
digest of an ID number or a phone is reversed by trying every number. The default, an unkeyed BLAKE2b,
is for keys that live only in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from matchers.arrays import factorize_objects, unique_pairs
from matchers.blocking import DEFAULT_RULES, BlockingRule
from matchers.columns import combine_codes
from matchers.normalize import PersonRecords

__all__ = [
    "FUZZY_CUTS",
    "LINKABLE_FIELDS",
    "Digest",
    "RecordKeys",
    "edit_variants",
    "key_kind",
    "linkable",
    "stable_keys",
    "unkeyed_digest",
]

IntArray = NDArray[np.int64]
Digest = Callable[[str], int]
"""Text → an unsigned 64-bit key. Pass a keyed one (HMAC) for keys that are stored."""

# (f, m) per fuzzy field of a known length: 18-character IDs, 11-digit mobiles. See the module text.
FUZZY_CUTS: Mapping[str, tuple[int, int]] = {"id": (12, 6), "phone": (7, 4)}
# Fields that can tell one person from another; a name alone cannot (王伟 is a crowd).
LINKABLE_FIELDS: tuple[str, ...] = ("id", "id_ps", "phone", "email", "birth_date", "address")
# Deletion neighbourhoods stop here: long values gain nothing from more.
_MAX_CHARS = 32
_KIND_LENGTH = 20


@dataclass(frozen=True)
class RecordKeys:
    """One row per key: the record's row index, the rule's kind and the key (a 64-bit digest)."""

    rows: IntArray
    kinds: NDArray[np.object_]
    keys: NDArray[np.uint64]

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @classmethod
    def empty(cls) -> RecordKeys:
        """No keys."""
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=object), np.empty(0, dtype=np.uint64))

    def take(self, keep: NDArray[np.bool_]) -> RecordKeys:
        """The keys where ``keep`` (one flag per key) is True."""
        return RecordKeys(self.rows[keep], self.kinds[keep], self.keys[keep])

    def hex_keys(self) -> list[str]:
        """The keys as the 16-digit hex text they are stored as."""
        return [f"{key:016x}" for key in self.keys.tolist()]


def key_kind(rule: BlockingRule) -> str:
    """A short, stable name of ``rule`` (at most 20 characters) for the ``kind`` of its keys."""
    name = rule.name
    if len(name) <= _KIND_LENGTH:
        return name
    return name[:11] + "#" + hashlib.blake2b(name.encode(), digest_size=4).hexdigest()


def edit_variants(value: str, cuts: tuple[int, int] | None) -> list[str]:
    """The strings two values within one edit share at least one of (tagged so kinds never mix).

    With ``cuts = (f, m)``: the five cut keys; without: the value and each one-deletion of it.
    """
    if cuts is None:
        text = value[:_MAX_CHARS]
        return ["=" + text, *{"-" + text[:i] + text[i + 1 :] for i in range(len(text))}]
    f, m = cuts
    return [
        "F" + value[:f],
        "B" + value[-f:],
        "M" + value[:m] + "\x1f" + value[-m:],
        "X" + value[: m - 1] + "\x1f" + value[m + 1 :],
        "Y" + value[: f - 1] + "\x1f" + value[f + 1 :],
    ]


def unkeyed_digest(text: str) -> int:
    """64-bit BLAKE2b of ``text``: stable, but reversible by trying every value; in memory only."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _exact_part(records: PersonRecords, fields: Sequence[str]) -> tuple[IntArray, list[str]]:
    """Per record, a code of its tuple of ``fields`` values (-1 when one is missing), and each code's
    text: the values joined. With no fields every record has code 0 and the empty text."""
    if not fields:
        return np.zeros(records.n, dtype=np.int64), [""]
    columns = [records.fields[name] for name in fields]
    packed = combine_codes(columns)
    present = np.flatnonzero(packed >= 0)
    unique, first, inverse = np.unique(packed[present], return_index=True, return_inverse=True)
    codes = np.full(records.n, -1, dtype=np.int64)
    codes[present] = inverse.reshape(-1)
    rows = present[first]
    texts = ["\x1f".join(str(c.values[c.codes[r]]) for c in columns) for r in rows.tolist()]
    del unique
    return codes, texts


def _orientation_keys(
    records: PersonRecords,
    fields: Sequence[str],
    fuzzy: str | None,
    cuts: tuple[int, int] | None,
    digest: Digest,
) -> tuple[IntArray, list[int]]:
    """Rows and keys of one reading of a rule: a digest per distinct (exact values, fuzzy variant)."""
    codes, texts = _exact_part(records, fields)
    if fuzzy is None:
        digests = [digest(t) for t in texts]
        rows = np.flatnonzero(codes >= 0)
        return rows, [digests[c] for c in codes[rows].tolist()]
    column = records.fields[fuzzy]
    rows = np.flatnonzero((codes >= 0) & (column.codes >= 0))
    packed = codes[rows] * (len(column.values) + 1) + column.codes[rows]
    unique, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
    per_unique: list[list[int]] = []
    for row in rows[first].tolist():
        prefix = texts[int(codes[row])] + "\x1e"
        per_unique.append(
            [digest(prefix + v) for v in edit_variants(str(column.values[column.codes[row]]), cuts)]
        )
    counts = np.array([len(keys) for keys in per_unique], dtype=np.int64)
    owner = np.repeat(rows, counts[inverse.reshape(-1)])
    keys = [key for u in inverse.reshape(-1).tolist() for key in per_unique[u]]
    del unique
    return owner, keys


def _subsumed(rule: BlockingRule, rules: Sequence[BlockingRule]) -> bool:
    """An exact rule on one field is implied by a fuzzy rule on that field alone (equal values share
    every variant), so its keys need not be stored."""
    return (
        rule.fuzzy is None
        and not rule.swap
        and len(rule.fields) == 1
        and any(other.fuzzy == rule.fields[0] and not other.fields for other in rules)
    )


def stable_keys(
    records: PersonRecords,
    rules: Sequence[BlockingRule] = DEFAULT_RULES,
    cuts: Mapping[str, tuple[int, int]] = FUZZY_CUTS,
    digest: Digest = unkeyed_digest,
) -> RecordKeys:
    """Every key of every record under ``rules``, stable across runs and processes (for one
    ``digest``: keys made with different ones never meet).

    Sorted-neighbourhood rules (``window > 1``) have no keys and are left out, as are rules on fields
    the records lack and exact rules implied by a fuzzy one. A swapped rule gives each record the keys
    of both readings, under one kind.
    """
    all_rows: list[IntArray] = []
    all_kinds: list[NDArray[np.object_]] = []
    all_keys: list[NDArray[np.uint64]] = []
    for rule in rules:
        if rule.window > 1 or _subsumed(rule, rules) or any(f not in records.fields for f in rule.all_fields):
            continue
        fuzzy_cuts = cuts.get(rule.fuzzy or "")
        readings = [
            _orientation_keys(records, fields, fuzzy, fuzzy_cuts, digest)
            for fields, fuzzy in rule.orientations()
        ]
        rows, keys = readings[0]
        if len(readings) > 1:
            # Both readings of a swapped rule may give a record the same key: keep it once.
            unique = dict.fromkeys(
                (row, key)
                for part_rows, part_keys in readings
                for row, key in zip(part_rows.tolist(), part_keys, strict=True)
            )
            rows = np.fromiter((row for row, _ in unique), dtype=np.int64, count=len(unique))
            keys = [key for _, key in unique]
        all_rows.append(rows)
        all_kinds.append(np.full(len(keys), key_kind(rule), dtype=object))
        all_keys.append(np.array(keys, dtype=np.uint64))
    if not all_rows:
        return RecordKeys(
            np.empty(0, dtype=np.int64), np.empty(0, dtype=object), np.empty(0, dtype=np.uint64)
        )
    return RecordKeys(np.concatenate(all_rows), np.concatenate(all_kinds), np.concatenate(all_keys))


def linkable(records: PersonRecords, fields: Sequence[str] = LINKABLE_FIELDS) -> NDArray[np.bool_]:
    """Per record, True when it has a value in at least one field that can identify a person."""
    mask = np.zeros(records.n, dtype=bool)
    for name in fields:
        column = records.fields.get(name)
        if column is not None:
            mask |= column.present
    return mask


def pairs_sharing_keys(keys: RecordKeys, max_block_size: int) -> tuple[IntArray, IntArray, int]:
    """Every pair of rows (``left < right``, each once) sharing a key that at most ``max_block_size``
    rows share, and how many keys were shared by more (skipped: a switchboard, a very common name).

    The same pairs an incremental caller finds by joining stored keys, here for all records at once.
    """
    kind_codes = factorize_objects(keys.kinds).astype(np.uint64)
    digests = keys.keys
    order = np.lexsort((keys.rows, digests, kind_codes))
    kind_sorted, digest_sorted, rows = kind_codes[order], digests[order], keys.rows[order]
    starts = np.flatnonzero(
        np.concatenate(
            [[True], (kind_sorted[1:] != kind_sorted[:-1]) | (digest_sorted[1:] != digest_sorted[:-1])]
        )
    )
    sizes = np.diff(np.append(starts, len(rows)))
    lefts: list[IntArray] = []
    rights: list[IntArray] = []
    for size in range(2, max_block_size + 1):
        begin = starts[sizes == size]
        if begin.size == 0:
            continue
        members = rows[begin[:, None] + np.arange(size)[None, :]]
        first, second = np.triu_indices(size, k=1)
        a, b = members[:, first].reshape(-1), members[:, second].reshape(-1)
        lefts.append(np.minimum(a, b))
        rights.append(np.maximum(a, b))
    if not lefts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, int((sizes > max_block_size).sum())
    left, right = np.concatenate(lefts), np.concatenate(rights)
    distinct = left < right
    first, second = unique_pairs(left[distinct], right[distinct])
    return first, second, int((sizes > max_block_size).sum())
