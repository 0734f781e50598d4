"""One debtor as a bank (or its mediator) may see it: identity, linked records with why each is
linked, ranked contacts with their sources — everything masked.

``contactfix show`` prints :func:`debtor_view`; ``GET /api/v1/debtors/{reference}`` answers
:func:`debtor_card` (the same contacts, without the linked records, in a few indexed statements).
What another bank's records contribute is decided by :class:`contactfix.access.ContactView`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from contactfix.access.policy import ANOTHER_BANK, ContactView
from contactfix.db.identity_models import ContactRanking, Identity, IdentityMember, RecordLink
from contactfix.db.models import Debtor, Organization, SourceRecord
from contactfix.dispatch.message import mask_name
from contactfix.errors import ContactfixError, NotFound
from contactfix.queries.sources import mask_address, record_organizations, shown_sources_text
from matchers.identifiers import mask_id, mask_phone

__all__ = [
    "AmbiguousReference",
    "DebtorView",
    "LinkedRecord",
    "RankedRow",
    "ShownContact",
    "debtor_card",
    "debtor_card_query",
    "debtor_view",
    "find_debtor",
    "masked_contact",
    "shown_contacts",
]

_SOURCE_KEYS = ("source", "reference", "observed_on")  # record ids are internal: not shown
_WEIGHTS_SHOWN = 6  # the strongest comparisons of a link; the rest are summed up as "others"


class AmbiguousReference(ContactfixError, LookupError):
    """Several organisations have a debtor with this reference; --org says which one."""


@dataclass(frozen=True)
class LinkedRecord:
    """One record of the debtor's identity and the link that best explains why it is there."""

    record_id: int
    source: str
    organization: str | None
    reference: str | None
    role: str | None
    observed_on: dt.date | None
    name: str
    id_masked: str | None
    membership: float
    own: bool
    explanation: str


@dataclass(frozen=True)
class RankedRow:
    """One ranked contact as shown: phones masked, sources as the viewer may see them."""

    channel: str
    rank: int
    shown: str
    confidence: float
    flags: list[str]
    last_seen: dt.date | None
    sources: str


@dataclass(frozen=True)
class DebtorView:
    """Everything ``show`` prints about one debtor."""

    reference: str
    organization: str
    status: str
    name: str
    id_masked: str | None
    amount: Decimal | None
    currency: str
    identity_id: int | None
    identity_flags: list[str]
    records: list[LinkedRecord]
    contacts: list[RankedRow]


def find_debtor(session: Session, reference: str, org: str | None = None) -> tuple[Debtor, str]:
    """The debtor with ``reference`` (of organisation ``org``) and its organisation's name.

    :class:`NotFound` when there is none; :class:`AmbiguousReference` when several organisations
    have one and ``org`` is not given.
    """
    query = (
        select(Debtor, Organization.name)
        .join(Organization, Organization.id == Debtor.organization_id)
        .where(Debtor.reference == reference.strip())
    )
    if org is not None:
        query = query.where(Organization.name == org.strip())
    found = [(debtor, name) for debtor, name in session.execute(query)]
    if not found:
        where = f" of {org}" if org else ""
        raise NotFound(f"no debtor with reference {reference!r}{where}")
    if len(found) > 1:
        names = ", ".join(sorted(name for _, name in found))
        raise AmbiguousReference(f"reference {reference!r} is used by {names}: say which with --org")
    return found[0]


def debtor_view(session: Session, reference: str, org: str, *, share: bool = False) -> DebtorView:
    """What bank ``org`` may see of its debtor ``reference`` (``share``: the
    ``share_contacts_across_banks`` setting). :class:`NotFound` when ``org`` has no such debtor."""
    debtor, org_name = find_debtor(session, reference, org)
    view = ContactView(debtor.organization_id, share)
    own = session.get(IdentityMember, debtor.source_record_id)
    members: dict[int, float] = {}
    flags: list[str] = []
    if own is not None:
        query = select(IdentityMember.source_record_id, IdentityMember.probability).where(
            IdentityMember.identity_id == own.identity_id
        )
        members.update({record_id: probability for record_id, probability in session.execute(query)})
        identity = session.get(Identity, own.identity_id)
        flags = list(identity.flags) if identity is not None else []
    members[debtor.source_record_id] = 1.0  # the debtor's own record, whatever resolve scored it
    return DebtorView(
        reference=debtor.reference,
        organization=org_name,
        status=debtor.status,
        name=debtor.name_original,
        id_masked=mask_id(debtor.id_number) if debtor.id_number else None,
        amount=debtor.amount_owed,
        currency=debtor.currency,
        identity_id=own.identity_id if own is not None else None,
        identity_flags=flags,
        records=_records(session, debtor.source_record_id, members, view),
        contacts=[_row(c) for c in shown_contacts(session, debtor, view)],
    )


def _records(
    session: Session, own_record: int, members: dict[int, float], view: ContactView
) -> list[LinkedRecord]:
    links = _links(session, list(members))
    query = (
        select(SourceRecord, Organization.name)
        .outerjoin(Organization, Organization.id == SourceRecord.organization_id)
        .where(SourceRecord.id.in_(list(members)))
    )
    shown = []
    for record, org_name in session.execute(query):
        verdict = view.record_shown(record.source, record.organization_id)
        if verdict is False:
            continue  # another bank's record: it helped link, it is not this bank's to see
        anonymous = verdict is None
        shown.append(
            LinkedRecord(
                record_id=record.id, source=ANOTHER_BANK if anonymous else record.source,
                organization=None if anonymous else org_name,
                reference=None if anonymous else record.reference,
                role=record.role_original or record.role, observed_on=record.observed_on,
                name=record.name_original, id_masked=_masked_id(record), membership=members[record.id],
                own=record.id == own_record, explanation=_explain(record.id, own_record, links),
            )
        )  # fmt: skip
    # The debtor's own record first, then the others newest first.
    return sorted(shown, key=lambda r: (not r.own, -(r.observed_on or dt.date.min).toordinal(), r.record_id))


def _masked_id(record: SourceRecord) -> str | None:
    if record.id_number:
        return mask_id(record.id_number)
    if record.id_prefix or record.id_suffix:  # a court's masked ID: only its ends were given
        return f"{record.id_prefix or ''}********{record.id_suffix or ''}"
    return None


def _links(session: Session, record_ids: list[int]) -> list[tuple[int, int, float, dict[str, float]]]:
    query = select(RecordLink.record_a_id, RecordLink.record_b_id, RecordLink.probability, RecordLink.weights)
    query = query.where(RecordLink.record_a_id.in_(record_ids), RecordLink.record_b_id.in_(record_ids))
    found = []
    for a, b, probability, weights in session.execute(query):
        parsed = json.loads(weights) if isinstance(weights, str) else dict(weights or {})
        found.append((a, b, float(probability), {str(k): float(v) for k, v in parsed.items()}))
    return found


def _explain(
    record_id: int, own_record: int, links: Sequence[tuple[int, int, float, dict[str, float]]]
) -> str:
    """Why ``record_id`` is in the identity: its link to the debtor's record, else its strongest one."""
    if record_id == own_record:
        return "the debtor's own record"
    touching = [link for link in links if record_id in link[:2]]
    if not touching:
        return "no stored link (placed by an earlier run or through other records)"
    direct = [link for link in touching if own_record in link[:2]]
    a, b, probability, weights = max(direct or touching, key=lambda link: link[2])
    other = b if a == record_id else a
    target = "the debtor's record" if other == own_record else f"record {other}"
    return f"linked to {target}, p={probability:.4f}: {_weights_text(weights)}"


def _weights_text(weights: dict[str, float]) -> str:
    """Match weights in bits, strongest first; the prior last (it is what every pair starts from)."""
    prior = weights.get("prior")
    comparisons = sorted(((k, v) for k, v in weights.items() if k != "prior"), key=lambda kv: -abs(kv[1]))
    parts = [f"{name} {value:+.1f}" for name, value in comparisons[:_WEIGHTS_SHOWN]]
    rest = comparisons[_WEIGHTS_SHOWN:]
    if rest:
        parts.append(f"others {sum(v for _, v in rest):+.1f}")
    if prior is not None:
        parts.append(f"prior {prior:+.1f}")
    return ", ".join(parts) + " (bits)"


@dataclass(frozen=True, slots=True)
class ShownContact:
    """One ranked contact of a debtor that the viewer may see, value unmasked (callers mask it)."""

    channel: str
    value: str
    rank: int
    confidence: float
    flags: list[str]
    last_seen: dt.date | None
    sources: list[dict[str, Any]]


def shown_contacts(session: Session, debtor: Debtor | Any, view: ContactView) -> list[ShownContact]:
    """The debtor's ranked contacts the viewer may see, phones first, each by rank (numbered among
    those shown); a contact only other banks' records carry is left out unless ``view`` shares
    them. ``debtor``: a row with ``id``, ``organization_id`` and ``source_record_id``."""
    query = (
        select(*_RANKING_COLUMNS)
        .where(ContactRanking.debtor_id == debtor.id)
        .order_by(ContactRanking.channel.desc(), ContactRanking.rank)  # phones first, then addresses
    )
    return _visible(session, debtor, session.execute(query).all(), view)


_RANKING_COLUMNS = (
    ContactRanking.channel, ContactRanking.value, ContactRanking.rank, ContactRanking.confidence,
    ContactRanking.flags, ContactRanking.last_seen, ContactRanking.sources,
)  # fmt: skip


def _visible(
    session: Session | Connection, debtor: Any, rows: Sequence[Any], view: ContactView
) -> list[ShownContact]:
    """The rankings ``rows`` (``_RANKING_COLUMNS``; ``channel`` None: no ranking) the view shows."""
    rows = [row for row in rows if row.channel is not None]
    orgs = record_organizations(
        session, (row.sources or [] for row in rows), {debtor.source_record_id: debtor.organization_id}
    )
    shown = []
    ranks: dict[str, int] = {}
    for row in rows:
        sources = view.sources(row.sources or [], orgs)
        if not sources:
            continue
        # Ranked again among what is shown: a gap would tell that another bank knows more.
        ranks[row.channel] = ranks.get(row.channel, 0) + 1
        shown.append(
            ShownContact(row.channel, row.value, ranks[row.channel], float(row.confidence),
                         list(row.flags or []), row.last_seen, sources)
        )  # fmt: skip
    return shown


def masked_contact(channel: str, value: str) -> str:
    """A contact as shown anywhere but the bank's export and a mediator's one audited reveal."""
    return mask_phone(value) if channel == "phone" else mask_address(value)


def _row(contact: ShownContact) -> RankedRow:
    return RankedRow(
        channel=contact.channel, rank=contact.rank, shown=masked_contact(contact.channel, contact.value),
        confidence=contact.confidence, flags=contact.flags, last_seen=contact.last_seen,
        sources=shown_sources_text(contact.sources),
    )  # fmt: skip


def debtor_card_query(visible: ColumnElement[bool]) -> Select[Any]:
    """The statement :func:`debtor_card` runs for the rows ``visible`` keeps (a caller's scope): the
    debtor and its rankings in one statement, the reference its one parameter. Built once per
    caller and kept (building and keying a statement costs more than running it)."""
    return (
        select(
            Debtor.id, Debtor.organization_id, Debtor.source_record_id, Debtor.reference, Debtor.status,
            Debtor.name_original, Debtor.id_number, Debtor.updated_at, *_RANKING_COLUMNS,
        )
        .outerjoin(ContactRanking, ContactRanking.debtor_id == Debtor.id)
        .where(Debtor.reference == bindparam("reference"), visible)
        .order_by(ContactRanking.channel.desc(), ContactRanking.rank)
    )  # fmt: skip


def debtor_card(
    session: Session | Connection, query: Select[Any], reference: str, view_of: Any
) -> dict[str, Any] | None:
    """The API's answer for debtor ``reference`` among the rows ``query`` (:func:`debtor_card_query`)
    keeps (JSON-ready), or None (404).

    ``view_of(organization_id)`` gives the :class:`ContactView` of the debtor's bank. Contacts masked;
    sources as the view allows, each ``{source, reference, observed_on}``.
    """
    rows = session.execute(query, {"reference": reference}).all()
    if not rows:
        return None
    debtor = rows[0]
    contacts = _visible(session, debtor, rows, view_of(debtor.organization_id))
    return {
        "id": debtor.id,
        "reference": debtor.reference,
        "status": debtor.status,
        "name": mask_name(debtor.name_original),
        "id_number": mask_id(debtor.id_number) if debtor.id_number else None,
        "updated_at": debtor.updated_at.isoformat(),
        "contacts": [
            {
                "channel": c.channel, "rank": c.rank, "value": masked_contact(c.channel, c.value),
                "confidence": round(c.confidence, 4), "flags": c.flags,
                "last_seen": c.last_seen.isoformat() if c.last_seen else None,
                "sources": [{key: s.get(key) for key in _SOURCE_KEYS} for s in c.sources],
            }
            for c in contacts
        ],
    }  # fmt: skip
