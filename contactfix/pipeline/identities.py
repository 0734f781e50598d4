"""Identities in the database: recompute those a run touched, keeping their ids, and store them.

Only whole groups are recomputed: starting from the records a run changed or linked, the group grows
by every link and every shared identity until nothing more joins, then is clustered again from its
links (:mod:`contactfix.pipeline.grouping`). Membership is keyed by source record, so a record is in
exactly one identity whatever happens; the rows are written in one transaction with the identities
they point at, so a run that dies mid-way leaves the old identities whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, delete, func, select, text, update

from contactfix.db.identity_models import Identity, IdentityMember, RecordLink
from contactfix.db.models import IdType, SourceRecord
from contactfix.pipeline.bulk import upsert_rows
from contactfix.pipeline.grouping import Grouping, assign_identities, group_records
from contactfix.pipeline.records import among, batches, chunks

__all__ = ["IdentityChanges", "connected_records", "regroup"]

_VALIDATED = (IdType.RESIDENT_ID.value, IdType.RESIDENCE_PERMIT.value)
_MEMBER_COLUMNS = (
    ("source_record_id", "int"),
    ("identity_id", "int"),
    ("probability", "float"),
    ("run_id", "int"),
)


@dataclass(frozen=True)
class IdentityChanges:
    """What regrouping changed: identities created, kept but with other members, and merged away."""

    new: int
    changed: int
    removed: int
    identity_ids: frozenset[int]  # every identity of the regrouped records, after the change


def _neighbours(connection: Connection, frontier: Sequence[int]) -> set[int]:
    """Records linked to, or sharing an identity with, a record of ``frontier``."""
    found: set[int] = set()
    for batch in batches(connection, frontier):
        links = select(RecordLink.record_a_id, RecordLink.record_b_id).where(
            among(connection, RecordLink.record_a_id, batch)
            | among(connection, RecordLink.record_b_id, batch)
        )
        for a, b in connection.execute(links):
            found.update((a, b))
        same = select(IdentityMember.identity_id).where(
            among(connection, IdentityMember.source_record_id, batch)
        )
        members = select(IdentityMember.source_record_id).where(IdentityMember.identity_id.in_(same))
        found.update(connection.execute(members).scalars())
    return found


def connected_records(connection: Connection, seeds: Iterable[int]) -> list[int]:
    """``seeds`` and every record reachable from them through links and shared identities, sorted."""
    seen = set(seeds)
    frontier = sorted(seen)
    while frontier:
        frontier = sorted(_neighbours(connection, frontier) - seen)
        seen.update(frontier)
    return sorted(seen)


def _links_among(
    connection: Connection, record_ids: Sequence[int] | None
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    query = select(RecordLink.record_a_id, RecordLink.record_b_id, RecordLink.probability)
    rows: list[tuple[int, int, float]] = []
    if record_ids is None:
        rows = [(a, b, p) for a, b, p in connection.execute(query.execution_options(yield_per=100_000))]
    else:
        # Both ends are in the group by construction; looking up by the first end finds each link once.
        for batch in batches(connection, record_ids):
            found = connection.execute(query.where(among(connection, RecordLink.record_a_id, batch)))
            rows.extend((a, b, p) for a, b, p in found)
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=np.int64)
    return a, b, np.array([r[2] for r in rows], dtype=np.float64)


def _identity_numbers(connection: Connection, record_ids: Sequence[int] | None) -> dict[int, str]:
    query = select(SourceRecord.id, SourceRecord.id_number).where(
        SourceRecord.id_type.in_(_VALIDATED), SourceRecord.id_number.is_not(None)
    )
    if record_ids is None:
        return {rid: number for rid, number in connection.execute(query) if number is not None}
    numbers: dict[int, str] = {}
    for batch in batches(connection, record_ids):
        rows = connection.execute(query.where(among(connection, SourceRecord.id, batch)))
        numbers.update({rid: n for rid, n in rows if n is not None})
    return numbers


def _memberships(connection: Connection, record_ids: Sequence[int] | None) -> dict[int, tuple[int, float]]:
    query = select(IdentityMember.source_record_id, IdentityMember.identity_id, IdentityMember.probability)
    if record_ids is None:
        return {
            rid: (ident, p)
            for rid, ident, p in connection.execute(query.execution_options(yield_per=100_000))
        }
    found: dict[int, tuple[int, float]] = {}
    for batch in batches(connection, record_ids):
        rows = connection.execute(query.where(among(connection, IdentityMember.source_record_id, batch)))
        found.update({rid: (ident, p) for rid, ident, p in rows})
    return found


_NEW_IDENTITIES = text(
    """
    WITH RECURSIVE counter(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counter WHERE n < :count)
    INSERT INTO identities (flags) SELECT '[]' FROM counter RETURNING id
    """
)


def _new_identities(connection: Connection, count: int) -> list[int]:
    """``count`` new identities in one statement; their ids in ascending order."""
    if count == 0:
        return []
    return sorted(connection.execute(_NEW_IDENTITIES, {"count": count}).scalars())


def _member_rows(
    grouping: Grouping, final: Sequence[int], old: dict[int, tuple[int, float]], run_id: int
) -> tuple[list[tuple[int, int, float, int]], set[int]]:
    """Membership rows that differ from ``old``, and the identities that gained or lost a record."""
    rows: list[tuple[int, int, float, int]] = []
    changed: set[int] = set()
    for members, identity_id in zip(grouping.clusters, final, strict=True):
        for rid in members:
            before = old.get(rid)
            probability = grouping.probability[rid]
            if before == (identity_id, probability):
                continue
            rows.append((rid, identity_id, probability, run_id))
            if before is None or before[0] != identity_id:
                changed.add(identity_id)
                changed.update(() if before is None else (before[0],))
    return rows, changed


def regroup(
    connection: Connection,
    run_id: int,
    record_ids: Sequence[int] | None,
    *,
    threshold: float,
    merge_probability: float,
) -> IdentityChanges:
    """Cluster ``record_ids`` (a whole group, see :func:`connected_records`; None: every record) again
    and store their identities and memberships. Only rows that change are written."""
    ids = record_ids
    if ids is None:
        ids = list(connection.execute(select(SourceRecord.id).order_by(SourceRecord.id)).scalars())
    links = _links_among(connection, record_ids)
    grouping = group_records(
        ids, links, _identity_numbers(connection, record_ids), threshold, merge_probability
    )
    old = _memberships(connection, record_ids)
    current = {rid: ident for rid, (ident, _) in old.items()}
    kept = assign_identities(grouping.clusters, current)
    fresh = iter(_new_identities(connection, sum(1 for k in kept if k is None)))
    final = [k if k is not None else next(fresh) for k in kept]
    rows, changed = _member_rows(grouping, final, old, run_id)
    upsert_rows(connection, "identity_members", _MEMBER_COLUMNS, rows, ("source_record_id",))
    removed = set(current.values()) - set(final)
    for batch in chunks(sorted(removed)):
        connection.execute(delete(Identity).where(Identity.id.in_(batch)))
    orphans = 0
    if record_ids is None:
        # Identities whose records were all deleted since (memberships go with their records).
        orphaned = (
            ~select(IdentityMember.identity_id).where(IdentityMember.identity_id == Identity.id).exists()
        )
        orphans = int(connection.execute(delete(Identity).where(orphaned)).rowcount or 0)
    new = {f for f, k in zip(final, kept, strict=True) if k is None}
    kept_changed = changed - removed - new
    for batch in chunks(sorted(kept_changed)):
        connection.execute(update(Identity).where(Identity.id.in_(batch)).values(updated_at=func.now()))
    return IdentityChanges(len(new), len(kept_changed), len(removed) + orphans, frozenset(final))
