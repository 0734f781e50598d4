"""Phones shared by many people: a court's switchboard, a lawyer's or an agent's mobile, a family line.

Such a number reaches someone, but not knowingly the debtor: ranking flags it, never ranks it first
and never lets it repair a debtor (:data:`contactfix.pipeline.ranking.SHARED_CONFIDENCE_CAP`).

A phone is shared when the records carrying it belong to at least ``min_identities`` distinct
identities. The count runs on the ``contacts (channel, value)`` index. A record that resolve has not
placed in an identity counts by its name: two unlinked records of one person are one, a switchboard
on the records of many different people is many.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.orm import Session

from contactfix.db.identity_models import IdentityMember
from contactfix.db.models import Contact, ContactChannel, Sealed, SourceRecord
from contactfix.errors import ContactfixError
from contactfix.pipeline.records import among, batches

__all__ = ["DEFAULT_MIN_IDENTITIES", "InvalidSharedPhoneSetting", "find_shared_phones"]

# Two people (a couple, a parent and child) share a home line often enough that two identities on
# one number is no sign of a switchboard; three unrelated identities is. A person split in two by a
# missed link also looks like two.
DEFAULT_MIN_IDENTITIES = 3


class InvalidSharedPhoneSetting(ContactfixError, ValueError):
    """The shared-phone threshold cannot work (fewer than 2 identities makes every phone shared)."""


def find_shared_phones(
    session: Session, *, min_identities: int = DEFAULT_MIN_IDENTITIES, values: Collection[str] | None = None
) -> dict[str, int]:
    """Phones (E.164) on the records of at least ``min_identities`` identities → how many identities.

    ``values`` limits the search to those phones (an incremental run looks only at the phones of the
    debtors it repairs); None searches every phone. Nothing is written.
    """
    if min_identities < 2:
        raise InvalidSharedPhoneSetting(f"min_identities must be at least 2, not {min_identities}")
    if values is None:
        return dict(_shared(session, min_identities, None))
    found: dict[str, int] = {}
    for part in batches(session.connection(), sorted(set(values))):
        found.update(_shared(session, min_identities, part))
    return found


def _shared(session: Session, min_identities: int, values: list[str] | None) -> Iterator[tuple[str, int]]:
    # 'i' + identity id or 'n' + name: one key space, so a record without an identity counts as the
    # person its name says, never as the identity whose id happens to look alike.
    who = func.coalesce(
        literal("i") + cast(IdentityMember.identity_id, String), literal("n") + SourceRecord.name
    )
    identities = func.count(func.distinct(who))
    query = (
        select(Contact.value, identities)
        .join(SourceRecord, SourceRecord.id == Contact.source_record_id)
        .outerjoin(IdentityMember, IdentityMember.source_record_id == Contact.source_record_id)
        .where(Contact.channel == ContactChannel.PHONE.value)
        .group_by(Contact.value)
        .having(identities >= min_identities)
    )
    if values is not None:
        query = query.where(among(session.connection(), Contact.value, values, Sealed()))
    for value, count in session.execute(query):
        yield str(value), int(count)
