"""Stage 5 — cluster: records linked by pairs above the threshold form one identity, with guards.

Plain connected components let one weak link chain two people together (A–B strong, B–C weak, C–D
strong makes A and D one person). Links are therefore applied strongest first, and a link that would
join two groups which each already hold several records must itself be strong (``merge_probability``);
and no link may join two groups that hold different *valid* resident ID numbers (a valid check digit
rules out a typo, so two valid numbers are two people).

Pairs implied by a cluster but never scored directly (B–C when A–B and A–C were) can be reported with
the probability of the strongest chain joining them: the product of its links' probabilities, which
is the probability that every link in the chain is right, so a lower bound for the pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Clusters", "chain_pairs", "cluster_records"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# Clusters larger than this are left without implied pairs: O(k³) per cluster, and a cluster this big
# is a data problem (a shared placeholder value) to report, not to multiply into pairs.
MAX_CHAIN_CLUSTER = 64


@dataclass(frozen=True)
class Clusters:
    """Cluster label per record (``0..n_clusters-1``, singletons included) and the links refused."""

    labels: IntArray
    refused_weak: int
    refused_conflict: int

    @property
    def n_clusters(self) -> int:
        """Number of clusters, singletons included."""
        return int(self.labels.max()) + 1 if self.labels.size else 0


def _find(parent: list[int], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def cluster_records(
    n: int,
    left: IntArray,
    right: IntArray,
    probability: FloatArray,
    threshold: float,
    merge_probability: float = 0.99,
    identity: NDArray[np.int32] | None = None,
) -> Clusters:
    """Guarded connected components of the pairs with ``probability >= threshold``.

    ``identity`` holds, per record, a code for a validated identity number (``-1`` when none): groups
    whose codes differ are never joined. Returns labels numbered in order of first appearance.
    """
    keep = np.flatnonzero(probability >= threshold)
    order = keep[np.argsort(-probability[keep], kind="stable")]
    parent = list(range(n))
    size = [1] * n
    ident = [-1] * n if identity is None else identity.tolist()
    refused_weak = refused_conflict = 0
    for a, b, p in zip(left[order].tolist(), right[order].tolist(), probability[order].tolist(), strict=True):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb:
            continue
        if size[ra] > 1 and size[rb] > 1 and p < merge_probability:
            refused_weak += 1
            continue
        if ident[ra] >= 0 and ident[rb] >= 0 and ident[ra] != ident[rb]:
            refused_conflict += 1
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        if ident[ra] < 0:
            ident[ra] = ident[rb]
    roots = np.array([_find(parent, x) for x in range(n)], dtype=np.int64)
    _, labels = np.unique(roots, return_inverse=True)
    return Clusters(labels.astype(np.int64).reshape(-1), refused_weak, refused_conflict)


def chain_pairs(
    labels: IntArray, left: IntArray, right: IntArray, probability: FloatArray, threshold: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs of records in one cluster with the probability of their strongest chain of links.

    Only links with ``probability >= threshold`` that lie inside a cluster are used. Returns every pair
    ``(a, b)``, ``a < b``, of clusters of size 2..``MAX_CHAIN_CLUSTER`` whose chain probability is at
    least ``threshold`` — directly scored pairs included, with max(direct, chain).
    """
    keep = (probability >= threshold) & (labels[left] == labels[right])
    el, er, ep = left[keep], right[keep], probability[keep]
    sizes = np.bincount(labels)
    out_a, out_b, out_p = [], [], []
    for k in range(2, min(int(sizes.max(initial=0)), MAX_CHAIN_CLUSTER) + 1):
        members_of = np.flatnonzero(sizes == k)
        if members_of.size == 0:
            continue
        rows = np.flatnonzero(np.isin(labels, members_of))
        rows = rows[np.argsort(labels[rows], kind="stable")]
        slot = np.empty(labels.shape[0], dtype=np.int64)
        slot[rows] = np.tile(np.arange(k), members_of.size)
        index = np.full(labels.shape[0], -1, dtype=np.int64)
        index[rows] = np.repeat(np.arange(members_of.size), k)
        inside = index[el] >= 0
        logp = np.full((members_of.size, k, k), -np.inf)
        c, i, j = index[el[inside]], slot[el[inside]], slot[er[inside]]
        logp[c, i, j] = np.log(ep[inside])
        logp[c, j, i] = np.log(ep[inside])
        for m in range(k):
            logp = np.maximum(logp, logp[:, :, m : m + 1] + logp[:, m : m + 1, :])
        ci, ii, jj = np.nonzero(np.triu(logp >= np.log(threshold), k=1))
        first, second = rows.reshape(-1, k)[ci, ii], rows.reshape(-1, k)[ci, jj]
        out_a.append(np.minimum(first, second))
        out_b.append(np.maximum(first, second))
        out_p.append(np.exp(logp[ci, ii, jj]))
    if not out_a:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_p)
