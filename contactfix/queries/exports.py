"""The banks' export: one row per debtor and contact, best first, with the columns :data:`COLUMNS`.

A debtor without a usable contact still gets one row, its contact cells empty, so the bank sees
every debtor it sent. Phones are E.164: carrying the repaired number is the export's purpose.
Contacts that must not be used are left out (reported wrong, invalid, shared by many, objected to),
and so are contacts only other banks' records carry, unless the bank's :class:`ContactView` shares
them (then their source reads "another bank"). Rows stream from the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from contactfix.access.policy import ContactView
from contactfix.db.identity_models import ContactRanking
from contactfix.db.models import Debtor
from contactfix.pipeline.ranking import NOT_PUSHED
from contactfix.queries.sources import record_organizations, shown_sources_text

__all__ = ["COLUMNS", "UNUSABLE", "export_rows"]

COLUMNS = ("reference", "status", "rank", "channel", "value", "confidence", "sources", "last_seen")
# Flags that keep a contact out of the export: it must not be pushed to anyone.
UNUSABLE = NOT_PUSHED
_STREAM_ROWS = 2000


def export_rows(
    session: Session, view: ContactView, *, status: str | None = None
) -> Iterator[tuple[Any, ...]]:
    """The export of the bank ``view`` is of, in :data:`COLUMNS` order, streamed; ``status`` filters."""
    channel_order = case(
        (ContactRanking.channel == "phone", 0), (ContactRanking.channel == "address", 1), else_=2
    )
    query = (
        select(
            Debtor.id, Debtor.source_record_id, Debtor.reference, Debtor.status, ContactRanking.rank,
            ContactRanking.channel, ContactRanking.value, ContactRanking.confidence, ContactRanking.sources,
            ContactRanking.last_seen, ContactRanking.flags,
        )
        .outerjoin(ContactRanking, ContactRanking.debtor_id == Debtor.id)
        .where(Debtor.organization_id == view.organization_id)
        .order_by(Debtor.reference, Debtor.id, channel_order, ContactRanking.rank)
    )  # fmt: skip
    if status is not None:
        query = query.where(Debtor.status == status)
    current: int | None = None
    ranks: dict[str, int] = {}
    pending: tuple[Any, ...] | None = None  # the debtor's blank row, until a usable contact shows up
    result = session.execute(query.execution_options(yield_per=_STREAM_ROWS))
    for partition in result.partitions(_STREAM_ROWS):
        own = {row.source_record_id: view.organization_id for row in partition}
        orgs = record_organizations(session, (row.sources or [] for row in partition), own)
        for row in partition:
            if row.id != current:
                if pending is not None:
                    yield pending
                current, pending = row.id, (row.reference, row.status, None, None, None, None, None, None)
                ranks = {}
            if row.channel is None:
                continue
            sources = view.sources(row.sources or [], orgs)
            if not sources:
                continue  # only another bank's records carry it
            # Ranked again among what the bank may see: a gap would tell that another bank knows more.
            ranks[row.channel] = rank = ranks.get(row.channel, 0) + 1
            if UNUSABLE & set(row.flags or ()):
                continue
            pending = None
            last_seen = row.last_seen.isoformat() if row.last_seen else None
            yield (row.reference, row.status, rank, row.channel, row.value, round(row.confidence, 4),
                   shown_sources_text(sources), last_seen)  # fmt: skip
    if pending is not None:
        yield pending
