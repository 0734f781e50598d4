"""Stage 2 — block: the union of several cheap indexes gives the candidate pairs.

Each :class:`BlockingRule` is either an exact join on a tuple of fields (records agreeing on all of them
pair up) or a sorted neighbourhood (records sorted by the fields' joined value pair up with the next
``window - 1`` records). Joins run on integer keys with numpy only: pair lists are produced block by
block with ``np.repeat`` arithmetic, never with a Python loop per pair. A block larger than
``max_block_size`` records on a side (a very common name) is skipped and reported: it would grow
quadratically, and the other rules still cover its records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from matchers.arrays import unique_sorted
from matchers.blocking_keys import Neighbourhoods, rule_keys
from matchers.columns import CodedColumn, derive
from matchers.normalize import PersonRecords

__all__ = [
    "DEFAULT_RULES",
    "BlockLimits",
    "BlockingRule",
    "CandidatePairs",
    "RuleReport",
    "block",
    "pair_ids",
]

IntArray = NDArray[np.int64]
# Pair ids are tagged with their rule's position in the low bits (at most this many rules).
_RULE_TAGS = 64
# A typo-tolerant rule joins its keys in parts of about this many (memory: ~40 bytes a key).
_KEYS_PER_PART = 6_000_000


@dataclass(frozen=True)
class BlockingRule:
    """Pair records that agree on all ``fields`` (exactly) and on ``fuzzy`` (within one edit).

    With ``window > 1`` the rule is a sorted neighbourhood instead: records sorted by the joined value
    of ``fields`` pair with the next ``window - 1`` records. ``swap`` names two fields that may have
    been exchanged (given and family name): each record also gets the keys it would have with the two
    exchanged, so a swapped record still meets its twin. Swapped fields must share a vocabulary.
    ``swap`` lists pairs of fields exchanged together (names and their initials).
    """

    fields: tuple[str, ...]
    fuzzy: str | None = None
    window: int = 0
    swap: tuple[tuple[str, str], ...] = ()
    max_block_size: int | None = None  # tighter than the run's limit, for weak keys (a name alone)

    @property
    def name(self) -> str:
        """Readable name, e.g. ``name_sorted+birth_year``, ``~phone``, ``sorted(name_pinyin, 4)``."""
        parts = [*self.fields, *([f"~{self.fuzzy}"] if self.fuzzy else [])]
        joined = "+".join(parts) + (" (either order)" if self.swap else "")
        return f"sorted({joined}, {self.window})" if self.window > 1 else joined

    @property
    def all_fields(self) -> tuple[str, ...]:
        """Every field the rule reads."""
        return (*self.fields, *([self.fuzzy] if self.fuzzy else []), *(f for pair in self.swap for f in pair))

    def orientations(self) -> list[tuple[tuple[str, ...], str | None]]:
        """The (exact fields, fuzzy field) readings of the rule: one, or two with ``swap``."""
        readings = [(self.fields, self.fuzzy)]
        if self.swap:
            exchange = {a: b for a, b in self.swap} | {b: a for a, b in self.swap}
            readings.append(
                (tuple(exchange.get(f, f) for f in self.fields), exchange.get(self.fuzzy or "", self.fuzzy))
            )
        return readings


_NAMES = (("family_pinyin", "given_pinyin"),)
_SPELLINGS = (("family_alpha", "given_alpha"), ("family_initial", "given_initial"))

DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule(("id",)),
    BlockingRule(("id_ps",)),
    BlockingRule(("phone",)),
    BlockingRule(("email",)),
    BlockingRule(("name",), max_block_size=10),
    BlockingRule(("name_sorted", "birth_year")),
    BlockingRule(("name", "county")),
    BlockingRule(("family_pinyin", "birth_date"), swap=_NAMES),
    BlockingRule(("family_pinyin", "postcode"), swap=_NAMES),
    BlockingRule(("address",)),
    BlockingRule(("birth_date", "postcode")),
    BlockingRule((), fuzzy="phone"),
    BlockingRule((), fuzzy="email"),
    BlockingRule(("given_initial",), fuzzy="family_alpha", swap=_SPELLINGS),
    BlockingRule(("address",), window=4),
)


@dataclass(frozen=True)
class BlockLimits:
    """Caps that keep every rule near-linear: records per block side, and pairs per record per rule."""

    max_block_size: int = 50
    pairs_per_record: float = 20.0


@dataclass(frozen=True)
class RuleReport:
    """What one rule contributed: pairs it found, how many no earlier rule had, blocks it skipped."""

    rule: str
    pairs: int
    new_pairs: int
    capped_blocks: int = 0
    capped_records: int = 0
    largest_block: int = 0
    skipped: str | None = None


@dataclass(frozen=True)
class CandidatePairs:
    """Candidate pairs as row indices into :class:`PersonRecords`, ``left < right``, each pair once."""

    left: IntArray
    right: IntArray
    report: tuple[RuleReport, ...]

    def __len__(self) -> int:
        return int(self.left.shape[0])


def pair_ids(left: IntArray, right: IntArray, n: int) -> IntArray:
    """Pack pairs of row indices into one int64 each (``left * n + right``), for set operations."""
    return left.astype(np.int64) * n + right.astype(np.int64)


def _groups(keys: IntArray, rows: IntArray) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Rows sorted by key, and for each distinct key its value, start in that order and count."""
    present = rows[keys[rows] >= 0]
    order = present[np.argsort(keys[present])]
    ordered = keys[order]
    # Runs of equal keys in the sorted order: no second sort (np.unique would sort again).
    start = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1]))) if ordered.size else order
    count = np.diff(np.append(start, ordered.size))
    return order, ordered[start], start.astype(np.int64), count.astype(np.int64)


def _expand(
    order_a: IntArray,
    start_a: IntArray,
    count_a: IntArray,
    order_b: IntArray,
    start_b: IntArray,
    count_b: IntArray,
) -> tuple[IntArray, IntArray]:
    """All pairs (a, b) of every block: block k pairs ``count_a[k] * count_b[k]`` rows."""
    sizes = count_a * count_b
    total = int(sizes.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    block_of = np.repeat(np.arange(len(sizes)), sizes)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    width = count_b[block_of]
    return (
        order_a[start_a[block_of] + offset // width],
        order_b[start_b[block_of] + offset % width],
    )


def _join(
    keys: IntArray, owner: IntArray, n_left: int, is_link: bool, limits: BlockLimits
) -> tuple[IntArray, IntArray, RuleReport]:
    """Pairs of rows sharing a key. ``keys[k]`` belongs to row ``owner[k]`` (a row may own several keys)."""
    entries = np.arange(keys.shape[0], dtype=np.int64)
    rows_a = entries[owner < n_left] if is_link else entries
    rows_b = entries[owner >= n_left] if is_link else entries
    order_a, unique_a, start_a, count_a = _groups(keys, rows_a)
    order_b, unique_b, start_b, count_b = _groups(keys, rows_b)
    _, ia, ib = np.intersect1d(unique_a, unique_b, assume_unique=True, return_indices=True)
    start_a, count_a, start_b, count_b = start_a[ia], count_a[ia], start_b[ib], count_b[ib]
    owners = np.zeros(int(owner.max(initial=-1)) + 1, dtype=bool)
    owners[owner] = True
    keep = _within_limits(count_a, count_b, int(owners.sum()), limits, is_link)
    capped = RuleReport(
        rule="",
        pairs=0,
        new_pairs=0,
        capped_blocks=int((~keep).sum()),
        capped_records=int((count_a[~keep] + (count_b[~keep] if is_link else 0)).sum()),
        largest_block=int(np.maximum(count_a, count_b).max()) if len(count_a) else 0,
    )
    left, right = _expand(order_a, start_a[keep], count_a[keep], order_b, start_b[keep], count_b[keep])
    if not is_link:
        # A block paired with itself yields (a, b) and (b, a): keep one, and never a row with itself.
        once = left < right
        left, right = owner[left[once]], owner[right[once]]
        left, right = np.minimum(left, right), np.maximum(left, right)
        distinct = left < right
        return left[distinct], right[distinct], capped
    return owner[left], owner[right], capped


def _within_limits(
    count_a: IntArray, count_b: IntArray, n_rows: int, limits: BlockLimits, is_link: bool
) -> NDArray[np.bool_]:
    """Blocks to keep: none larger than ``max_block_size`` a side, and the smallest blocks first until
    the rule's pairs reach ``pairs_per_record × rows`` — so common values are the ones capped."""
    # Deduplicating, a block of c records holds c(c-1)/2 pairs.
    sizes = count_a * count_b if is_link else count_a * (count_a - 1) // 2
    keep = np.maximum(count_a, count_b) <= limits.max_block_size
    budget = limits.pairs_per_record * max(n_rows, 1)
    if sizes[keep].sum() > budget:
        order = np.flatnonzero(keep)[np.argsort(sizes[keep], kind="stable")]
        within = np.cumsum(sizes[order]) <= budget
        keep[:] = False
        keep[order[within]] = True
    return keep


def _sort_ranks(column: CodedColumn) -> IntArray:
    """Per record, the rank of its value in sorted order (``-1`` where missing)."""
    ranks = np.empty(len(column.values), dtype=np.int64)
    ranks[np.argsort(column.values.astype(str), kind="stable")] = np.arange(len(column.values))
    return np.where(column.codes >= 0, ranks[np.maximum(column.codes, 0)], -1)


def _neighbourhood(ranks: IntArray, window: int, n_left: int, is_link: bool) -> tuple[IntArray, IntArray]:
    rows = np.flatnonzero(ranks >= 0)
    # Ties are broken by a fixed pseudo-random order, so that left and right records holding the same
    # key interleave instead of forming two runs that only meet at their boundary.
    tiebreak = (rows * 2654435761) % 4294967291
    order = rows[np.lexsort((tiebreak, ranks[rows]))]
    lefts, rights = [], []
    for distance in range(1, window):
        a, b = order[:-distance], order[distance:]
        low, high = np.minimum(a, b), np.maximum(a, b)
        keep = (low < n_left) & (high >= n_left) if is_link else low < high
        lefts.append(low[keep])
        rights.append(high[keep])
    if not lefts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(lefts), np.concatenate(rights)


def _rule_pairs(
    records: PersonRecords, rule: BlockingRule, limits: BlockLimits
) -> tuple[IntArray, IntArray, RuleReport]:
    if rule.window > 1:
        columns = [records.fields[name] for name in rule.fields]
        joined = columns[0] if len(columns) == 1 else derive(columns, _joined_or_none)
        left, right = _neighbourhood(_sort_ranks(joined), rule.window, records.n_left, records.is_link)
        return left, right, RuleReport(rule="", pairs=0, new_pairs=0)
    readings = rule.orientations()
    groups = [[records.fields[name] for name in fields] for fields, _ in readings]
    if rule.max_block_size is not None:
        limits = replace(limits, max_block_size=min(limits.max_block_size, rule.max_block_size))
    if rule.fuzzy is None:
        keys, owners = rule_keys(groups, [None] * len(readings))
        left, right, report = _join(keys, owners, records.n_left, records.is_link, limits)
    else:
        cache: dict[str, Neighbourhoods] = {}
        fuzzy = [
            cache.setdefault(name, Neighbourhoods.of(records.fields[name])) for _, name in readings if name
        ]
        # Bound memory: join the neighbourhood keys in parts of about _KEYS_PER_PART keys each.
        parts = max(
            1,
            -(
                -sum(len(f.flat) for f in fuzzy)
                * records.n
                // max(len(fuzzy[0].column.values), 1)
                // _KEYS_PER_PART
            ),
        )
        # Two near-identical values share most of their neighbourhood, so a pair is counted once per
        # shared key in the blocks: the budget grows by the neighbourhood size, and splits over the parts.
        per_value = sum(len(f.flat) for f in fuzzy) / max(sum(len(f.column.values) for f in fuzzy), 1)
        share = replace(limits, pairs_per_record=limits.pairs_per_record * max(per_value, 1.0) / parts)
        pieces = [
            _join(*rule_keys(groups, fuzzy, part, parts), records.n_left, records.is_link, share)
            for part in range(parts)
        ]
        left = np.concatenate([piece[0] for piece in pieces])
        right = np.concatenate([piece[1] for piece in pieces])
        report = RuleReport(
            rule="",
            pairs=0,
            new_pairs=0,
            capped_blocks=sum(piece[2].capped_blocks for piece in pieces),
            capped_records=sum(piece[2].capped_records for piece in pieces),
            largest_block=max(piece[2].largest_block for piece in pieces),
        )
    if len(readings) > 1 or rule.fuzzy is not None:
        # A record owns several keys, and two records may share more than one: keep each pair once.
        unique = unique_sorted(pair_ids(left, right, records.n))
        left, right = unique // records.n, unique % records.n
    return left, right, report


def _joined_or_none(*values: str | None) -> str | None:
    return None if any(v is None for v in values) else "\x1f".join(v for v in values if v is not None)


def block(
    records: PersonRecords, rules: Sequence[BlockingRule] = DEFAULT_RULES, limits: BlockLimits | None = None
) -> CandidatePairs:
    """Candidate pairs: the union of the pairs of every rule whose fields have values on both sides.

    For linkage every pair has its left row in the left table and its right row in the right one; for
    deduplication ``left < right``. Each pair appears once. The report lists, per rule, pairs found, new
    pairs, skipped oversized blocks (their count, records and the largest size) or why the rule was skipped.
    """
    n = records.n
    found: list[IntArray] = []
    infos: list[tuple[BlockingRule, RuleReport]] = []
    reports: list[RuleReport] = []
    for rule in rules:
        unusable = [
            name for name in rule.all_fields if name not in records.fields or not records.usable(name)
        ]
        if unusable:
            reports.append(RuleReport(rule.name, 0, 0, skipped=f"no values in {', '.join(unusable)}"))
            continue
        left, right, info = _rule_pairs(records, rule, limits or BlockLimits())
        found.append(pair_ids(left, right, n))
        infos.append((rule, info))
    # Pairs are distinct within a rule. Tag each with its rule's position and sort once: the first of
    # each run of one pair carries the earliest rule that found it, which counts the rule's new pairs.
    tagged = (
        np.concatenate([ids * _RULE_TAGS + k for k, ids in enumerate(found)])
        if found
        else np.empty(0, np.int64)
    )
    found_sizes = [len(ids) for ids in found]
    del found
    tagged.sort()
    pair = tagged // _RULE_TAGS
    first = np.concatenate(([True], pair[1:] != pair[:-1])) if pair.size else np.empty(0, dtype=bool)
    union = pair[first]
    new_pairs = np.bincount(tagged[first] % _RULE_TAGS, minlength=len(found_sizes))
    del tagged, pair
    for k, (rule, info) in enumerate(infos):
        reports.append(
            RuleReport(
                rule.name,
                pairs=found_sizes[k],
                new_pairs=int(new_pairs[k]),
                capped_blocks=info.capped_blocks,
                capped_records=info.capped_records,
                largest_block=info.largest_block,
            )
        )
    order = {rule.name: k for k, rule in enumerate(rules)}
    reports.sort(key=lambda report: order[report.rule])
    return CandidatePairs(left=union // n, right=union % n, report=tuple(reports))
