"""Stage 6 — explain: why two records were (or were not) judged the same person, in readable form.

A pair's match weight is the prior weight plus one weight per comparison, in bits: +1 doubles the odds
that the records belong to one person, -1 halves them. The explanation lists each comparison's level,
its weight (with the part due to how common the agreed name is), and the two values compared —
identifiers masked, since an explanation is shown to mediators and judges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matchers.compare import compare_pairs
from matchers.errors import InputError
from matchers.scoring import probability_from_weight, weight_matrix

if TYPE_CHECKING:
    from matchers.results import LinkResult

__all__ = ["Contribution", "PairExplanation", "explain_pair", "mask_value"]

# Which normalised fields to show beside a comparison (default: the field named like the comparison).
_SHOWN = {
    "family_name": ("family",),
    "given_name": ("given",),
    "id_number": ("id", "id_ps"),
    "location": ("address", "city", "postcode", "region"),
}
_MASKED = frozenset({"id", "id_ps", "phone", "email"})


@dataclass(frozen=True)
class Contribution:
    """One comparison's part in a match weight."""

    comparison: str
    level: str
    weight: float
    term_frequency: float
    left_value: str
    right_value: str


@dataclass(frozen=True)
class PairExplanation:
    """Prior, per-comparison contributions and the resulting probability of one pair of records."""

    left_id: str
    right_id: str
    probability: float
    match_weight: float
    prior_weight: float
    prior: float
    contributions: tuple[Contribution, ...]

    def render(self) -> str:
        """Plain text for a person to read: one line per comparison, strongest evidence first."""
        lines = [
            f"{self.left_id} ↔ {self.right_id}: match probability {self.probability:.4f} "
            f"(match weight {self.match_weight:+.2f} bits)",
            f"  {'prior':<13} {'':<44} {self.prior_weight:+7.2f}   "
            f"(before comparing, 1 in {1 / self.prior:,.0f} pairs of records is the same person)",
        ]
        for c in sorted(self.contributions, key=lambda c: -abs(c.weight)):
            tf = (
                f"  (of which {c.term_frequency:+.2f} for how common the value is)"
                if abs(c.term_frequency) >= 0.005
                else ""
            )
            values = f"{c.left_value or '—'} / {c.right_value or '—'}"
            lines.append(f"  {c.comparison:<13} {c.level:<44} {c.weight:+7.2f}   {values}{tf}")
        return "\n".join(lines)


def mask_value(value: str) -> str:
    """Identifier shown as its first three and last two characters: ``350***34``; short ones fully hidden."""
    if len(value) <= 6:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def _row_of(result: LinkResult, record_id: str, left_side: bool) -> int:
    records = result.records
    ids = records.ids
    low, high = (0, records.n_left) if left_side or not records.is_link else (records.n_left, records.n)
    matches = np.flatnonzero(ids[low:high] == record_id)
    if matches.size == 0:
        side = "left" if left_side or not records.is_link else "right"
        raise InputError(f"no record with id {record_id!r} in the {side} table")
    return int(low + matches[0])


def _shown(result: LinkResult, comparison: str, row: int) -> str:
    parts = []
    for name in _SHOWN.get(comparison, (comparison,)):
        column = result.records.fields.get(name)
        if column is None or column.codes[row] < 0:
            continue
        text = str(column.values[column.codes[row]])
        parts.append(mask_value(text) if name in _MASKED else text)
        if name == "id":
            break  # the prefix/suffix form only matters when there is no full number
    return ", ".join(parts)


def explain_pair(result: LinkResult, left_id: str, right_id: str) -> PairExplanation:
    """Explain the pair (``left_id`` from the left table, ``right_id`` from the right one, or both from
    the one table when deduplicating), whether or not the blocking proposed it."""
    a, b = _row_of(result, left_id, True), _row_of(result, right_id, False)
    left, right = np.array([min(a, b)], dtype=np.int64), np.array([max(a, b)], dtype=np.int64)
    comparisons, levels = compare_pairs(result.records, list(result.comparators), left, right)
    model = result.model
    weights = weight_matrix(model, result.records, levels, left)[0]
    plain = [float(w[levels[0, k]]) if levels[0, k] else 0.0 for k, w in enumerate(model.level_weights())]
    contributions = tuple(
        Contribution(
            comparison=c.name,
            level="missing" if levels[0, k] == 0 else c.levels[levels[0, k] - 1],
            weight=float(weights[k]),
            term_frequency=float(weights[k]) - plain[k],
            left_value=_shown(result, c.name, int(left[0])),
            right_value=_shown(result, c.name, int(right[0])),
        )
        for k, c in enumerate(comparisons)
    )
    total = model.prior_weight + float(weights.sum())
    return PairExplanation(
        left_id=left_id,
        right_id=right_id,
        probability=float(probability_from_weight(np.array([total]))[0]),
        match_weight=total,
        prior_weight=model.prior_weight,
        prior=model.prior,
        contributions=contributions,
    )
