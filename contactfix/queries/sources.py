"""What a bank may see of a ranking's provenance: the organisations of the bank records behind it.

A ranking stores its sources as ``[{record_id, source, reference, observed_on}]``; whether a bank
source is the viewer's own or another bank's needs the record's organisation, read here in one
statement per batch of rankings. :class:`contactfix.access.ContactView` decides what is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from contactfix.access.policy import ANOTHER_BANK, bank_record_ids
from contactfix.db.models import SourceRecord
from contactfix.pipeline.ranking import sources_text

__all__ = ["mask_address", "record_organizations", "shown_sources_text"]

_ADDRESS_KEPT = 6  # province and city, most often: enough to know the place, not the door
_IN_CHUNK = 5000


def record_organizations(
    session: Session | Connection,
    rankings_sources: Iterable[Sequence[Mapping[str, Any]]],
    known: Mapping[int, int] = {},
) -> dict[int, int | None]:
    """Record id → organisation id of every bank record among ``rankings_sources`` (``known``: some
    already known, e.g. the debtor's own record, not read again)."""
    wanted = sorted(bank_record_ids(rankings_sources) - set(known))
    found: dict[int, int | None] = dict(known)
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        query = select(SourceRecord.id, SourceRecord.organization_id).where(SourceRecord.id.in_(chunk))
        found.update({int(record_id): org for record_id, org in session.execute(query)})
    return found


def shown_sources_text(sources: Iterable[Mapping[str, Any]]) -> str:
    """Provenance as people read it: "court （2024）闽0103民初1234号 2024-03-01; another bank 2025-06-01"."""
    parts = []
    for source in sources:
        if source.get("source") != ANOTHER_BANK:
            parts.append(sources_text([source]))
        elif source.get("observed_on"):
            parts.append(f"{ANOTHER_BANK} {source['observed_on']}")
        else:
            parts.append(ANOTHER_BANK)
    return "; ".join(parts)


def mask_address(value: str) -> str:
    """An address as shown outside the export: its first characters (the place), then ``****``."""
    value = value.strip()
    return value[:_ADDRESS_KEPT] + "****" if len(value) > _ADDRESS_KEPT else "****"
