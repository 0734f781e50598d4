"""Identity flags: what resolution refuses to trust silently, worked out from the records each time.

* ``id_name_conflict``: a record carries the same full identifier as another record but a different
  name (family or given name different outright — a homophone or a typo is not a conflict). Both
  records' identities are flagged, linked or not: one of the two sources is wrong.
* ``no_linkable_field``: a record with no blocking key, i.e. nothing but a name to find it by. It is
  never linked (a name alone does not identify a person) and stays alone, flagged.

Flags are recomputed for every identity a run regroups, and for the identities of records in
conflict with them, from the records themselves, so they follow the data both ways.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.orm import aliased

from contactfix.db.identity_models import BlockingKey, Identity, IdentityFlag, IdentityMember
from contactfix.db.models import SourceRecord
from contactfix.pipeline.keys import VERSION_KIND
from contactfix.pipeline.records import among, batches, load_records
from matchers.normalize import normalize_records
from matchers.stored_model import name_conflicts

__all__ = ["conflicting_records", "refresh_flags", "unlinkable_records"]


def unlinkable_records(connection: Connection, record_ids: Sequence[int] | None) -> set[int]:
    """The records of ``record_ids`` (None: all) without a single blocking key."""
    keyed = (
        select(BlockingKey.source_record_id)
        .where(BlockingKey.source_record_id == SourceRecord.id, BlockingKey.kind != VERSION_KIND)
        .exists()
    )
    query = select(SourceRecord.id).where(~keyed)
    if record_ids is None:
        return set(connection.execute(query).scalars())
    found: set[int] = set()
    for batch in batches(connection, record_ids):
        found.update(connection.execute(query.where(among(connection, SourceRecord.id, batch))).scalars())
    return found


def conflicting_records(connection: Connection, record_ids: Sequence[int] | None) -> dict[int, set[int]]:
    """Records of ``record_ids`` (None: all) in an ID/name conflict → the records they conflict with."""
    mine, other = aliased(SourceRecord), aliased(SourceRecord)
    query = select(mine.id, other.id).join(
        other,
        and_(other.id_number == mine.id_number, other.id != mine.id, other.name != mine.name),
    )
    pairs: list[tuple[int, int]] = []
    parts = [None] if record_ids is None else list(batches(connection, record_ids))
    for batch in parts:
        bounded = query if batch is None else query.where(among(connection, mine.id, batch))
        pairs.extend((a, b) for a, b in connection.execute(bounded))
    if not pairs:
        return {}
    loaded = load_records(connection, sorted({r for pair in pairs for r in pair}))
    records = normalize_records(loaded.table)
    position = {rid: k for k, rid in enumerate(loaded.ids)}
    left = np.array([position[a] for a, _ in pairs], dtype=np.int64)
    right = np.array([position[b] for _, b in pairs], dtype=np.int64)
    conflicts: dict[int, set[int]] = {}
    for (a, b), conflict in zip(pairs, name_conflicts(records, left, right).tolist(), strict=True):
        if conflict:
            conflicts.setdefault(a, set()).add(b)
    return conflicts


def _membership(connection: Connection, column: str, values: Collection[int] | None) -> dict[int, int]:
    """Record id → identity id, for the records (``column`` "record") or identities ("identity")
    in ``values``; every membership when None."""
    query = select(IdentityMember.source_record_id, IdentityMember.identity_id)
    if values is None:
        return {rid: ident for rid, ident in connection.execute(query.execution_options(yield_per=100_000))}
    key = IdentityMember.source_record_id if column == "record" else IdentityMember.identity_id
    found: dict[int, int] = {}
    for batch in batches(connection, sorted(values)):
        rows = connection.execute(query.where(among(connection, key, batch)))
        found.update({rid: ident for rid, ident in rows})
    return found


def refresh_flags(connection: Connection, identity_ids: Collection[int] | None) -> int:
    """Recompute the flags of ``identity_ids`` (None: every identity) and of the identities of records
    in conflict with theirs; store those that changed. Returns how many identities changed flags."""
    everything = identity_ids is None
    members = _membership(connection, "identity", identity_ids)
    conflicts = conflicting_records(connection, None if everything else sorted(members))
    partners = {b for others in conflicts.values() for b in others} - members.keys()
    if partners:
        extra = _membership(connection, "identity", set(_membership(connection, "record", partners).values()))
        members.update(extra)
        conflicts.update(conflicting_records(connection, sorted(extra)))
    flags: dict[int, set[str]] = {ident: set() for ident in members.values()}
    for rid in conflicts:
        if rid in members:
            flags[members[rid]].add(IdentityFlag.ID_NAME_CONFLICT.value)
    for rid in unlinkable_records(connection, None if everything else sorted(members)):
        flags[members[rid]].add(IdentityFlag.NO_LINKABLE_FIELD.value)
    stored: dict[int, list[str]] = {}
    query = select(Identity.id, Identity.flags)
    for batch in [None] if everything else batches(connection, sorted(flags)):
        rows = connection.execute(
            query if batch is None else query.where(among(connection, Identity.id, batch))
        )
        stored.update({ident: list(current or []) for ident, current in rows})
    updates = [
        (ident, sorted(new)) for ident, new in flags.items() if sorted(stored.get(ident, [])) != sorted(new)
    ]
    for ident, new in updates:
        connection.execute(
            update(Identity).where(Identity.id == ident).values(flags=new, updated_at=func.now())
        )
    return len(updates)
