"""A fitted model kept as plain data, to score new pairs later without fitting again.

:meth:`matchers.Linker.dedupe` fits m, u and λ on all records; an incremental caller scores the few
pairs of changed records with that same model. :func:`model_params` turns a :class:`LinkResult` into
JSON-ready data (comparators by class and arguments, m, u, prior, and the name frequencies behind the
term-frequency adjustments); :func:`model_from_params` reads it back; :func:`score_pairs` compares and
scores pairs of any :class:`PersonRecords` with it.

Term frequencies are kept as counts of the values seen at least twice, with the total: a value seen
once, or never, when the model was fitted is as rare as a value can be, and gets the same adjustment
as one seen once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from matchers.compare import (
    Comparator,
    Comparison,
    DateComparator,
    IdentifierComparator,
    StringComparator,
    compare_pairs,
)
from matchers.compare_person import LocationComparator, NameComparator
from matchers.errors import MatchersError
from matchers.normalize import PersonRecords
from matchers.pinyin import has_cjk
from matchers.results import LinkResult
from matchers.scoring import _TF_BOUND, MatchModel, probability_from_weight, weight_matrix

__all__ = [
    "FORMAT",
    "ModelFormatError",
    "ScoredPairs",
    "StoredModel",
    "model_from_params",
    "model_params",
    "name_conflicts",
    "score_pairs",
]

IntArray = NDArray[np.int64]
FORMAT = 1  # bump when the layout of the params changes

_COMPARATORS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (NameComparator, DateComparator, IdentifierComparator, LocationComparator, StringComparator)
}


class ModelFormatError(MatchersError, ValueError):
    """Stored model params cannot be read: another format, an unknown comparator, or inconsistent."""


@dataclass(frozen=True)
class StoredModel:
    """A fitted model with its comparators and the term-frequency counts it was fitted with."""

    model: MatchModel
    comparators: tuple[Comparator, ...]
    tf_totals: Mapping[str, int]
    tf_counts: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class ScoredPairs:
    """Per pair: probability, the comparison levels, and the weight of each comparison in bits."""

    probability: NDArray[np.float64]
    levels: NDArray[np.uint8]
    weights: NDArray[np.float32]
    comparisons: tuple[Comparison, ...]
    prior_weight: float


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


def _comparator_params(comparator: Comparator) -> dict[str, Any]:
    name = type(comparator).__name__
    if _COMPARATORS.get(name) is not type(comparator):
        raise ModelFormatError(f"comparator {name} cannot be stored: not one of {', '.join(_COMPARATORS)}")
    args = {f.name: _plain(getattr(comparator, f.name)) for f in fields(comparator)}  # type: ignore[arg-type]
    return {"type": name, "args": args}


def model_params(result: LinkResult) -> dict[str, Any]:
    """The fitted model of ``result`` as JSON-ready data that :func:`model_from_params` reads back."""
    model = result.model
    tf: dict[str, dict[str, Any]] = {}
    for field in model.tf_adjustments:
        column = result.records.fields[field]
        counts = column.counts()
        common = np.flatnonzero(counts >= 2)
        tf[field] = {
            "total": int(counts.sum()),
            "counts": {str(column.values[k]): int(counts[k]) for k in common.tolist()},
        }
    return {
        "format": FORMAT,
        "comparators": [_comparator_params(c) for c in result.comparators],
        "comparisons": [
            {"name": c.name, "levels": list(c.levels), "tf_field": c.tf_field} for c in model.comparisons
        ],
        "m": [m.tolist() for m in model.m],
        "u": [u.tolist() for u in model.u],
        "prior": model.prior,
        "iterations": model.iterations,
        "converged": model.converged,
        "term_frequencies": tf,
    }


def model_from_params(params: Mapping[str, Any]) -> StoredModel:
    """The :class:`StoredModel` that :func:`model_params` wrote; ModelFormatError if it cannot be."""
    if params.get("format") != FORMAT:
        raise ModelFormatError(f"stored model format {params.get('format')!r}, expected {FORMAT}")
    try:
        comparators = tuple(
            _COMPARATORS[c["type"]](**{k: _tupled(v) for k, v in c["args"].items()})
            for c in params["comparators"]
        )
        comparisons = tuple(
            Comparison(c["name"], tuple(c["levels"]), c["tf_field"]) for c in params["comparisons"]
        )
        m = tuple(np.asarray(v, dtype=np.float64) for v in params["m"])
        u = tuple(np.asarray(v, dtype=np.float64) for v in params["u"])
        tf = params["term_frequencies"]
        model = MatchModel(
            comparisons,
            m,
            u,
            float(params["prior"]),
            {},
            int(params["iterations"]),
            bool(params["converged"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"stored model params are incomplete: {type(exc).__name__} {exc}") from exc
    produced = tuple(c for comparator in comparators for c in comparator.comparisons)
    if produced != comparisons or len(m) != len(comparisons) or len(u) != len(comparisons):
        raise ModelFormatError("stored comparators do not produce the stored comparisons")
    return StoredModel(
        model,
        comparators,
        {k: int(v["total"]) for k, v in tf.items()},
        {k: {str(value): int(n) for value, n in v["counts"].items()} for k, v in tf.items()},
    )


def _tf_tables(stored: StoredModel, records: PersonRecords) -> dict[str, NDArray[np.float64]]:
    """Per TF field, the adjustment of each distinct value of ``records`` (as the fit computed it)."""
    tables: dict[str, NDArray[np.float64]] = {}
    for k, comparison in enumerate(stored.model.comparisons):
        field = comparison.tf_field
        if field is None or field not in stored.tf_totals or field not in records.fields:
            continue
        counts = stored.tf_counts[field]
        seen = np.array([counts.get(str(v), 1) for v in records.fields[field].values], dtype=np.float64)
        share = seen / max(float(stored.tf_totals[field]), 1.0)
        u_exact = float(stored.model.u[k][1])
        tables[field] = np.clip(np.log2(u_exact / share), -_TF_BOUND, _TF_BOUND)
    return tables


def score_pairs(stored: StoredModel, records: PersonRecords, left: IntArray, right: IntArray) -> ScoredPairs:
    """Compare the pairs ``(left[k], right[k])`` (row indices into ``records``) and score them."""
    comparisons, levels = compare_pairs(records, stored.comparators, left, right)
    model = replace(stored.model, tf_adjustments=_tf_tables(stored, records))
    weights = weight_matrix(model, records, levels, left)
    total = model.prior_weight + weights.sum(axis=1, dtype=np.float64)
    return ScoredPairs(probability_from_weight(total), levels, weights, comparisons, model.prior_weight)


def _tokens(name: str) -> set[str]:
    """A Chinese name's characters, or a Latin name's words: what two spellings of one name share."""
    return set(name) if has_cjk(name) else set(name.split())


def name_conflicts(records: PersonRecords, left: IntArray, right: IntArray) -> NDArray[np.bool_]:
    """Per pair, True when both records carry the same full identifier but name different people: the
    family names differ outright, or the given names do and share no character. A homophone or a
    one-character slip (张欣玲 / 张欣琳) is not a conflict; 张伟 / 李伟 and 张伟 / 张强 are."""
    ident = records.fields["id"].codes
    rows = np.flatnonzero((ident[left] >= 0) & (ident[left] == ident[right]))
    out = np.zeros(len(left), dtype=bool)
    if rows.size == 0:
        return out
    comparator = NameComparator()
    family, given = comparator.compare(records, left[rows], right[rows])
    different = [len(c.levels) for c in comparator.comparisons]
    given_column = records.fields["given"]
    left_given, right_given = given_column.take(left[rows]), given_column.take(right[rows])
    disjoint = np.array(
        [not _tokens(a) & _tokens(b) for a, b in zip(left_given, right_given, strict=True)], dtype=bool
    )
    out[rows] = (family == different[0]) | ((given == different[1]) & disjoint)
    return out
