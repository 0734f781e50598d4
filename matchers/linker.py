"""The facade: ``Linker(LinkSettings()).link(left, right)`` and ``.dedupe(table)`` → :class:`LinkResult`.

Normalise → block → compare → estimate (u from random pairs, m and λ by EM, term frequencies) →
score → cluster → pairs. Every default lives in :class:`LinkSettings`; the same defaults serve Latin
and Chinese data, linkage and deduplication. Stage timings and the blocking report come back with the
result; a progress hook, if given, hears about each stage and each chunk of pairs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from matchers.blocking import DEFAULT_RULES, BlockingRule, BlockLimits, CandidatePairs, block, pair_ids
from matchers.cluster import chain_pairs, cluster_records
from matchers.compare import Comparator, DateComparator, IdentifierComparator, StringComparator, compare_pairs
from matchers.compare_person import LocationComparator, NameComparator
from matchers.errors import InputError, MatchersError
from matchers.inputs import check_table, table_from_frame
from matchers.normalize import PersonRecords, RawTable, normalize_records
from matchers.results import LinkResult, PairTable
from matchers.scoring import (
    LabelledPairs,
    MatchModel,
    fit_model,
    match_probability,
    random_pairs,
    weight_matrix,
    with_term_frequencies,
)

__all__ = ["DEFAULT_COMPARATORS", "KnownPairs", "LinkSettings", "Linker", "ProgressHook", "SettingsError"]

IntArray = NDArray[np.int64]
# Below this many records EM has too little to learn from; the run says so.
_FEW_RECORDS = 50

DEFAULT_COMPARATORS: tuple[Comparator, ...] = (
    NameComparator(),
    DateComparator("birth_date"),
    IdentifierComparator("id", partial="id_ps", label="id_number"),
    IdentifierComparator("phone"),
    IdentifierComparator("email"),
    LocationComparator(),
    StringComparator("gender", thresholds=()),
)


_CLUSTER_FLOOR = 1e-9  # the lowest link probability that may join two records into one cluster


class SettingsError(MatchersError, ValueError):
    """LinkSettings hold a value that cannot work; the message lists every such setting."""


@dataclass(frozen=True)
class LinkSettings:
    """Every setting of the linker, with its default. Plain data: compare, copy, print."""

    threshold: float = 0.5  # pairs at or above this match probability are reported
    blocking_rules: tuple[BlockingRule, ...] = DEFAULT_RULES
    max_block_size: int = 50  # records a side; larger blocks (very common values) are skipped
    pairs_per_record: float = 20.0  # per blocking rule: beyond this the largest blocks are skipped
    comparators: tuple[Comparator, ...] = DEFAULT_COMPARATORS
    u_sample_pairs: int = 50_000  # random pairs for u
    em_max_iterations: int = 200
    em_tolerance: float = 1e-6
    term_frequency: bool = True  # adjust exact name agreement by how common the name is
    merge_probability: float = 0.99  # a link joining two multi-record clusters must be this strong
    chain_pairs: bool = True  # also report pairs joined through a chain of links (max product)
    chunk_pairs: int = 2_000_000  # pairs compared at a time (bounds memory)
    seed: int = 20_240_601

    def validate(self) -> None:
        """Raise SettingsError naming every setting out of range."""
        problems = []
        if not 0.0 <= self.threshold <= 1.0:
            problems.append(f"threshold={self.threshold} (must be between 0 and 1)")
        if not 0.0 < self.merge_probability <= 1.0:
            problems.append(f"merge_probability={self.merge_probability} (must be in (0, 1])")
        for name in ("max_block_size", "u_sample_pairs", "em_max_iterations", "chunk_pairs"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name}={getattr(self, name)} (must be at least 1)")
        if self.pairs_per_record <= 0:
            problems.append(f"pairs_per_record={self.pairs_per_record} (must be positive)")
        if not self.comparators:
            problems.append("comparators=() (at least one comparator is needed)")
        if problems:
            raise SettingsError("invalid link settings: " + "; ".join(problems))


class ProgressHook(Protocol):
    """Told the current stage, and how much of it is done (``done`` of ``total`` units)."""

    def __call__(self, stage: str, done: int, total: int) -> None: ...


def _no_progress(stage: str, done: int, total: int) -> None:
    del stage, done, total


@dataclass
class _Run:
    """Mutable bookkeeping of one run: timings, warnings, progress."""

    progress: ProgressHook
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.progress(name, 0, 1)
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        self.progress(name, 1, 1)


@dataclass(frozen=True)
class KnownPairs:
    """Pairs whose class people know, to inform the model's ``m`` (and λ): row positions as the result's
    pairs use them (for a link, a right row is ``n_left`` + its row), ``match`` True for the same
    entity. Each pair once; order within a pair does not matter. A handful of labels on the pairs the
    model doubts is the intended use: they count with weight 1 each among EM's expected counts."""

    left: IntArray
    right: IntArray
    match: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(np.asarray(self.left).shape[0])


class Linker:
    """Links two tables of people, or deduplicates one, with the given :class:`LinkSettings`."""

    def __init__(self, settings: LinkSettings | None = None, progress: ProgressHook | None = None) -> None:
        self.settings = settings or LinkSettings()
        self.settings.validate()
        self._progress = progress or _no_progress

    def link(self, left: Any, right: Any) -> LinkResult:
        """Link two pandas DataFrames (each with an ``id`` column): pairs of one left and one right row."""
        return self.link_tables(table_from_frame(left, "LEFT"), table_from_frame(right, "RIGHT"))

    def dedupe(self, table: Any) -> LinkResult:
        """Deduplicate one pandas DataFrame (with an ``id`` column): each pair of rows once."""
        return self.link_tables(table_from_frame(table, "TABLE"), None)

    def link_tables(
        self,
        left: RawTable,
        right: RawTable | None,
        labels: tuple[str, str] = ("LEFT", "RIGHT"),
        known_pairs: KnownPairs | None = None,
    ) -> LinkResult:
        """Link (``right`` given) or deduplicate (``right`` None) columnar tables; the CLI's entry point.

        ``known_pairs`` (people's labels) inform the model's estimates; the pairs are still scored by
        the model like any other. Raises InputError for unusable tables (no rows, duplicate or blank
        ids, no person column, no column in common) or labels that name no pair of them. Warnings
        (blank columns, skipped oversized blocks) come back in the result.
        """
        run = _Run(self._progress)
        with run.stage("normalise"):
            run.warnings.extend(check_table(left, labels[0]))
            if right is not None:
                run.warnings.extend(check_table(right, labels[1]))
            records = normalize_records(left, right)
        # The raw tables are not needed any more; for a million rows that frees several hundred MB
        # (when the caller holds no reference of its own).
        del left, right
        if not records.is_link and records.n < 2:
            run.warnings.append(f"{labels[0]}: a single row; there is nothing to deduplicate")
            return self._nothing_to_compare(run, records)
        comparators = [c for c in self.settings.comparators if c.usable(records)]
        if not comparators:
            what = f"{labels[0]} and {labels[1]} have" if records.is_link else f"{labels[0]} has"
            raise InputError(
                f"{what} no person column with values to compare (on both sides, or in two rows)"
            )
        with run.stage("block"):
            candidates = block(
                records,
                self.settings.blocking_rules,
                BlockLimits(self.settings.max_block_size, self.settings.pairs_per_record),
            )
            run.warnings.extend(_blocking_warnings(candidates))
        if records.n < _FEW_RECORDS:
            run.warnings.append(
                f"only {records.n} records: too few to estimate the match model reliably; "
                "treat the probabilities with care"
            )
        levels = self._compare(run, records, comparators, candidates.left, candidates.right)
        with run.stage("estimate"):
            labelled = _labelled(records, comparators, candidates, levels, known_pairs)
            model = self._fit(records, comparators, levels, labelled)
            run.warnings.extend(_implausible_prior(records, model))
        with run.stage("score"):
            probability = (
                np.concatenate(
                    [
                        match_probability(model, records, levels[s], candidates.left[s])
                        for s in _chunks(len(candidates), self.settings.chunk_pairs)
                    ]
                )
                if len(candidates)
                else np.empty(0)
            )
        with run.stage("cluster"):
            pairs, labels_ = self._output(records, candidates, levels, probability, model)
        return LinkResult(
            pairs_table=pairs,
            records=records,
            cluster_labels=labels_,
            blocking=candidates.report,
            model=model,
            comparators=tuple(comparators),
            n_candidates=len(candidates),
            timings=dict(run.timings),
            warnings=tuple(run.warnings),
        )

    def _nothing_to_compare(self, run: _Run, records: PersonRecords) -> LinkResult:
        """The (empty) result of a run with no pair to compare."""
        empty = np.empty(0, dtype=np.int64)
        model = fit_model([], np.zeros((0, 0), dtype=np.uint8), np.zeros((0, 0), dtype=np.uint8), 1.0)
        table = PairTable(empty, empty, np.empty(0), np.zeros((0, 0), np.float32), np.empty(0, bool), (), 0.0)
        return LinkResult(
            pairs_table=table,
            records=records,
            cluster_labels=np.arange(records.n, dtype=np.int64),
            blocking=(),
            model=model,
            comparators=(),
            n_candidates=0,
            timings=dict(run.timings),
            warnings=tuple(run.warnings),
        )

    def _compare(
        self,
        run: _Run,
        records: PersonRecords,
        comparators: list[Comparator],
        left: IntArray,
        right: IntArray,
    ) -> NDArray[np.uint8]:
        n_out = sum(len(c.comparisons) for c in comparators)
        levels = np.zeros((len(left), n_out), dtype=np.uint8)
        with run.stage("compare"):
            for s in _chunks(len(left), self.settings.chunk_pairs):
                levels[s] = compare_pairs(records, comparators, left[s], right[s])[1]
                run.progress("compare", s.stop, len(left))
        return levels

    def _fit(
        self,
        records: PersonRecords,
        comparators: list[Comparator],
        levels: NDArray[np.uint8],
        labelled: LabelledPairs | None = None,
    ) -> MatchModel:
        total = _total_pairs(records)
        count = int(min(self.settings.u_sample_pairs, total)) if records.n > 1 else 0
        sample_left, sample_right = random_pairs(records, count, self.settings.seed)
        comparisons, sample_levels = compare_pairs(records, comparators, sample_left, sample_right)
        model = fit_model(
            comparisons,
            levels,
            sample_levels,
            total,
            max_iterations=self.settings.em_max_iterations,
            tolerance=self.settings.em_tolerance,
            labelled=labelled,
        )
        return with_term_frequencies(model, records) if self.settings.term_frequency else model

    def _output(
        self,
        records: PersonRecords,
        candidates: CandidatePairs,
        levels: NDArray[np.uint8],
        probability: NDArray[np.float64],
        model: MatchModel,
    ) -> tuple[PairTable, IntArray]:
        threshold = self.settings.threshold
        # Threshold 0 reports every candidate pair, but clusters need some evidence: joining on any
        # candidate pair would make one giant component (and the chain step is cubic in its size).
        cluster_threshold = max(threshold, _CLUSTER_FLOOR)
        clusters = cluster_records(
            records.n,
            candidates.left,
            candidates.right,
            probability,
            cluster_threshold,
            self.settings.merge_probability,
            _validated_identity(records),
        )
        direct = np.flatnonzero(probability >= threshold)
        left, right, prob = candidates.left[direct], candidates.right[direct], probability[direct]
        weights = weight_matrix(model, records, levels[direct], left)
        chained = np.zeros(len(direct), dtype=bool)
        if self.settings.chain_pairs:
            left, right, prob, weights, chained = _add_chains(
                records,
                clusters.labels,
                candidates,
                probability,
                cluster_threshold,
                (left, right, prob, weights),
            )
        order = np.lexsort((right, left))
        table = PairTable(
            left=left[order],
            right=right[order],
            probability=prob[order],
            weights=weights[order],
            chained=chained[order],
            comparison_names=tuple(c.name for c in model.comparisons),
            prior_weight=model.prior_weight,
        )
        return table, clusters.labels


def _add_chains(
    records: PersonRecords,
    labels: IntArray,
    candidates: CandidatePairs,
    probability: NDArray[np.float64],
    threshold: float,
    direct: tuple[IntArray, IntArray, NDArray[np.float64], NDArray[np.float32]],
) -> tuple[IntArray, IntArray, NDArray[np.float64], NDArray[np.float32], NDArray[np.bool_]]:
    """Direct pairs plus cluster pairs joined by a chain stronger than the threshold (weights NaN)."""
    left, right, prob, weights = direct
    a, b, p = chain_pairs(labels, candidates.left, candidates.right, probability, threshold)
    if records.is_link:
        across = (a < records.n_left) & (b >= records.n_left)
        a, b, p = a[across], b[across], p[across]
    n = records.n
    known = left * n + right
    new = ~np.isin(a * n + b, known)
    # A chain stronger than the direct score raises it: the direct pair is then one link of the chain.
    order = np.argsort(known, kind="stable")
    position = order[np.searchsorted(known[order], a[~new] * n + b[~new])]
    prob = prob.copy()
    np.maximum.at(prob, position, p[~new])
    extra = int(new.sum())
    nan_weights = np.full((extra, weights.shape[1]), np.nan, dtype=np.float32)
    return (
        np.concatenate([left, a[new]]),
        np.concatenate([right, b[new]]),
        np.concatenate([prob, p[new]]),
        np.concatenate([weights, nan_weights]),
        np.concatenate([np.zeros(len(left), dtype=bool), np.ones(extra, dtype=bool)]),
    )


def _labelled(
    records: PersonRecords,
    comparators: list[Comparator],
    candidates: CandidatePairs,
    levels: NDArray[np.uint8],
    known: KnownPairs | None,
) -> LabelledPairs | None:
    """The known pairs' comparison levels, and which of them are candidates: those take their levels
    from the candidates' (one binary search per candidate among the few labels), the others are
    compared here. None without labels (the fit is then exactly the unlabelled one)."""
    if known is None or len(known) == 0:
        return None
    a, b = np.asarray(known.left, dtype=np.int64), np.asarray(known.right, dtype=np.int64)
    match = np.asarray(known.match, dtype=bool)
    if not (a.shape == b.shape == match.shape) or a.ndim != 1:
        raise InputError("known pairs: left, right and match must be of one length")
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    if np.any(lo < 0) or np.any(hi >= records.n) or np.any(lo == hi):
        raise InputError("known pairs: a pair names a row outside the tables, or a row with itself")
    if records.is_link and np.any((lo >= records.n_left) | (hi < records.n_left)):
        raise InputError("known pairs: in a link, a pair is one left row and one right row")
    keys = pair_ids(lo, hi, records.n)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    if np.any(ordered[1:] == ordered[:-1]):
        raise InputError("known pairs: a pair is given more than once")
    found = np.zeros(len(keys), dtype=bool)
    pair_levels = np.zeros((len(keys), levels.shape[1]), dtype=np.uint8)
    if len(candidates):
        packed = pair_ids(candidates.left, candidates.right, records.n)
        at = np.minimum(np.searchsorted(ordered, packed), len(ordered) - 1)
        rows = np.flatnonzero(ordered[at] == packed)
        found[order[at[rows]]] = True
        pair_levels[order[at[rows]]] = levels[rows]
    missing = np.flatnonzero(~found)
    if missing.size:
        pair_levels[missing] = compare_pairs(records, comparators, lo[missing], hi[missing])[1]
    return LabelledPairs(pair_levels, match, found)


def _validated_identity(records: PersonRecords) -> NDArray[np.int32]:
    """Per record, the code of its full, check-digit-valid resident ID (-1 when it has none)."""
    ident, parsed = records.fields["id"], records.fields["id_ps"]
    return np.where((ident.codes >= 0) & (parsed.codes >= 0), ident.codes, -1).astype(np.int32)


def _implausible_prior(records: PersonRecords, model: MatchModel) -> list[str]:
    """A warning when EM expects more matching pairs than a table can hold duplicates for.

    With no real duplicates (or thousands of namesakes), EM still finds a "match" class — records that
    merely share common values. More than two expected matches per record is the sign.
    """
    expected = model.prior * _total_pairs(records)
    smaller = min(records.n_left, records.n - records.n_left) if records.is_link else records.n
    if expected <= 2 * max(smaller, 1):
        return []
    return [
        f"the model expects {expected:,.0f} matching pairs among {records.n:,} records — more than two a "
        "record: the data may hold many people who share values (namesakes, placeholders); check the pairs"
    ]


def _blocking_warnings(candidates: CandidatePairs) -> list[str]:
    return [
        f"blocking rule {r.rule}: {r.capped_blocks} oversized block(s) skipped "
        f"({r.capped_records} records; the largest holds {r.largest_block}) — a very common value; "
        "other rules still pair these records"
        for r in candidates.report
        if r.capped_blocks
    ]


def _total_pairs(records: PersonRecords) -> float:
    if records.is_link:
        return float(records.n_left) * float(records.n - records.n_left)
    return max(float(records.n) * float(records.n - 1) / 2.0, 1.0)


def _chunks(total: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, total)) for start in range(0, total, size)]
