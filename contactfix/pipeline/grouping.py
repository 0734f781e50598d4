"""Records and links → identities, as pure functions: guarded clusters, and ids that stay put.

Clusters come from :func:`matchers.cluster.cluster_records` (strongest links first; a weak link never
joins two groups of several records; two valid, different resident IDs are never joined). Links are
taken in record-id order, so equally strong links are applied in the same order by a full run and by
an incremental one, and both reach the same clusters.

Identity ids are kept stable: a cluster takes the oldest (smallest) identity id any of its records
already had and that no larger cluster took first; a cluster of records that had none, or whose ids
were all taken, gets a new one. So an identity keeps its id when it gains members, two identities
merging keep the older id, and of an identity split in two the larger part keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from matchers.cluster import cluster_records

__all__ = ["Grouping", "assign_identities", "group_records"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Grouping:
    """Clusters of record ids (each sorted; larger clusters first, then by smallest id) and, per
    record, the probability of its strongest link inside its cluster (1.0 for a record alone)."""

    clusters: list[list[int]]
    probability: dict[int, float]


def group_records(
    record_ids: Sequence[int],
    links: tuple[IntArray, IntArray, NDArray[np.float64]],
    identity_numbers: Mapping[int, str],
    threshold: float,
    merge_probability: float,
) -> Grouping:
    """Cluster ``record_ids`` by ``links`` (record ids a, b and probability; both ends among the records).

    ``identity_numbers`` gives the validated resident ID of the records that have one.
    """
    ids = np.asarray(sorted(record_ids), dtype=np.int64)
    a, b, p = links
    order = np.lexsort((b, a))
    left, right, prob = np.searchsorted(ids, a[order]), np.searchsorted(ids, b[order]), p[order]
    numbers = {number: k for k, number in enumerate(sorted(set(identity_numbers.values())))}
    codes = np.full(len(ids), -1, dtype=np.int32)
    if identity_numbers:  # one searchsorted for all, not one per record (a million at full size)
        holders = np.fromiter(identity_numbers.keys(), dtype=np.int64, count=len(identity_numbers))
        held = np.fromiter((numbers[n] for n in identity_numbers.values()), np.int32, len(identity_numbers))
        codes[np.searchsorted(ids, holders)] = held
    labels = cluster_records(len(ids), left, right, prob, threshold, merge_probability, codes).labels
    best = np.ones(len(ids), dtype=np.float64)
    inside = (labels[left] == labels[right]) & (prob >= threshold)
    strongest = np.zeros(len(ids), dtype=np.float64)
    np.maximum.at(strongest, left[inside], prob[inside])
    np.maximum.at(strongest, right[inside], prob[inside])
    sizes = np.bincount(labels, minlength=int(labels.max(initial=-1)) + 1)
    best = np.where(sizes[labels] > 1, strongest, best)
    # Largest clusters first, then by smallest member: the order identity ids are handed out in.
    by_label = np.lexsort((ids, labels))
    bounds = np.flatnonzero(np.diff(labels[by_label])) + 1
    clusters = [part.tolist() for part in np.split(ids[by_label], bounds)] if len(ids) else []
    clusters.sort(key=lambda members: (-len(members), members[0]))
    return Grouping(clusters, dict(zip(ids.tolist(), best.tolist(), strict=True)))


def assign_identities(clusters: Sequence[Sequence[int]], current: Mapping[int, int]) -> list[int | None]:
    """Per cluster (in the given order), the identity id it keeps, or None for a new identity.

    ``current`` maps record id → the identity id the record has now.
    """
    taken: set[int] = set()
    assigned: list[int | None] = []
    for members in clusters:
        choice = min((current[r] for r in members if r in current and current[r] not in taken), default=None)
        if choice is not None:
            taken.add(choice)
        assigned.append(choice)
    return assigned
