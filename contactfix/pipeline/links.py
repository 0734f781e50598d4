"""Record links in the database: each scored pair at or above the threshold, with its explanation.

A link's ``weights`` hold each comparison's match weight in bits and the prior (``"prior"``): their
sum is the match weight, ``1 / (1 + 2^-weight)`` the probability. Links of a changed record are
replaced as a whole, so a redone run writes the same rows again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Table, delete, or_, select

from contactfix.db.identity_models import RecordLink
from contactfix.pipeline.bulk import insert_rows, rewrite_table
from contactfix.pipeline.records import among, batches

__all__ = ["ScoredLinks", "delete_links_of", "insert_links", "replace_all_links", "weights_json"]

_COLUMNS = ("record_a_id", "record_b_id", "probability", "weights", "run_id")
_TABLE: Table = RecordLink.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
_DECIMALS = 4


class ScoredLinks:
    """Pairs of record ids (``a < b``) with probability and per-comparison weights."""

    def __init__(
        self,
        a: NDArray[np.int64],
        b: NDArray[np.int64],
        probability: NDArray[np.float64],
        weights: NDArray[np.float32],
        names: Sequence[str],
        prior_weight: float,
    ) -> None:
        low, high = np.minimum(a, b), np.maximum(a, b)
        order = np.lexsort((high, low))
        self.a, self.b = low[order], high[order]
        self.probability = probability[order]
        self.weights = weights[order]
        self.names = tuple(names)
        self.prior_weight = prior_weight

    @classmethod
    def empty(cls) -> ScoredLinks:
        """No links."""
        none = np.empty(0, dtype=np.int64)
        return cls(none, none, np.empty(0), np.empty((0, 0), dtype=np.float32), (), 0.0)

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def at_least(self, threshold: float) -> ScoredLinks:
        """The pairs whose probability reaches ``threshold``."""
        keep = self.probability >= threshold
        return ScoredLinks(
            self.a[keep],
            self.b[keep],
            self.probability[keep],
            self.weights[keep],
            self.names,
            self.prior_weight,
        )


def weights_json(links: ScoredLinks) -> list[str]:
    """Per link, ``{"<comparison>": bits, …, "prior": bits}`` as JSON text (4 decimals)."""
    # One %-template per run instead of json.dumps per link: ten times faster on a million links.
    # Weights are finite (m and u are smoothed away from 0), so repr() of each is a JSON number.
    fields = [f"{json.dumps(name)}: %r" for name in links.names]
    template = "{" + ", ".join([*fields, f'"prior": {round(links.prior_weight, _DECIMALS)!r}']) + "}"
    rounded = np.round(links.weights.astype(np.float64), _DECIMALS).tolist()
    return [template % tuple(row) for row in rounded]


def delete_links_of(connection: Connection, record_ids: Sequence[int] | None) -> set[int]:
    """Delete the links touching ``record_ids`` (every link when None); the other ends they had."""
    if record_ids is None:
        connection.execute(delete(RecordLink))
        return set()
    others: set[int] = set()
    for batch in batches(connection, record_ids):
        touching = or_(
            among(connection, RecordLink.record_a_id, batch), among(connection, RecordLink.record_b_id, batch)
        )
        for a, b in connection.execute(
            select(RecordLink.record_a_id, RecordLink.record_b_id).where(touching)
        ):
            others.update((a, b))
        connection.execute(delete(RecordLink).where(touching))
    return others - set(record_ids)


def _rows(links: ScoredLinks, run_id: int) -> list[tuple[int, int, float, str, int]]:
    texts = weights_json(links)
    ends = zip(links.a.tolist(), links.b.tolist(), links.probability.tolist(), texts, strict=True)
    return [(a, b, p, w, run_id) for a, b, p, w in ends]


def _row_blocks(
    links: ScoredLinks, run_id: int, size: int = 100_000
) -> Iterator[tuple[int, int, float, str, int]]:
    """The rows of ``links`` made a block at a time (a million JSON texts are a lot of memory)."""
    for start in range(0, len(links), size):
        part = slice(start, start + size)
        block = ScoredLinks(
            links.a[part],
            links.b[part],
            links.probability[part],
            links.weights[part],
            links.names,
            links.prior_weight,
        )
        yield from _rows(block, run_id)


def insert_links(connection: Connection, links: ScoredLinks, run_id: int) -> None:
    """Insert ``links`` (none of which may exist yet: delete the old ones first)."""
    rows = _rows(links, run_id)
    for start in range(0, len(rows), 100_000):
        insert_rows(connection, "record_links", _COLUMNS, rows[start : start + 100_000])


def replace_all_links(connection: Connection, links: ScoredLinks, run_id: int) -> None:
    """Make ``links`` the only links there are (a full run)."""
    rewrite_table(connection, _TABLE, _COLUMNS, _row_blocks(links, run_id))
