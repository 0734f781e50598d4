"""``contactfix show REFERENCE [--org NAME]``: one debtor, its identity, its linked records with why
each is linked, and its ranked contacts.

ID numbers and phones are masked (``350103********1234``, ``+86 138****5678``): this is a screen for
operators, and the export is where a bank gets its repaired numbers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session

from contactfix.cli.app import app
from contactfix.cli.tables import compact_table, print_table
from contactfix.db.identity_models import ContactRanking, Identity, IdentityMember, RecordLink
from contactfix.db.models import Debtor, Organization, SourceRecord
from contactfix.errors import ContactfixError, NotFound
from contactfix.pipeline.ranking import sources_text
from matchers.identifiers import mask_id, mask_phone

__all__ = ["AmbiguousReference", "DebtorView", "LinkedRecord", "RankedRow", "debtor_view", "find_debtor"]

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
    """One ranked contact as shown: phones masked."""

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


def debtor_view(session: Session, reference: str, org: str | None = None) -> DebtorView:
    """What is known of one debtor, read from the database (see :func:`find_debtor` for errors)."""
    debtor, org_name = find_debtor(session, reference, org)
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
        records=_records(session, debtor.source_record_id, members),
        contacts=_contacts(session, debtor.id),
    )


def _records(session: Session, own_record: int, members: dict[int, float]) -> list[LinkedRecord]:
    links = _links(session, list(members))
    query = (
        select(SourceRecord, Organization.name)
        .outerjoin(Organization, Organization.id == SourceRecord.organization_id)
        .where(SourceRecord.id.in_(list(members)))
    )
    shown = []
    for record, org_name in session.execute(query):
        shown.append(
            LinkedRecord(
                record_id=record.id, source=record.source, organization=org_name, reference=record.reference,
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


def _contacts(session: Session, debtor_id: int) -> list[RankedRow]:
    query = (
        select(ContactRanking)
        .where(ContactRanking.debtor_id == debtor_id)
        .order_by(ContactRanking.channel.desc(), ContactRanking.rank)  # phones first, then addresses
    )
    return [
        RankedRow(
            channel=row.channel, rank=row.rank,
            shown=mask_phone(row.value) if row.channel == "phone" else row.value,
            confidence=row.confidence, flags=list(row.flags or []), last_seen=row.last_seen,
            sources=sources_text(row.sources or []),
        )
        for row in session.scalars(query)
    ]  # fmt: skip


@app.command("show")
def show(
    reference: Annotated[str, typer.Argument(help="The bank's reference of the debtor (e.g. CF0000123).")],
    org: Annotated[
        str | None, typer.Option("--org", help="The bank, when several banks use the reference.")
    ] = None,
) -> None:
    """Print one debtor: identity, linked records with the reason for each link, ranked contacts."""
    from contactfix.db.engine import make_engine
    from contactfix.settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine) as session:
            view = debtor_view(session, reference, org)
    except ContactfixError as exc:
        Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    print_view(Console(highlight=False), view)


def print_view(console: Console, view: DebtorView) -> None:
    """Print a :class:`DebtorView` (masked as it is).

    Fits an 80-column terminal without cutting what people copy from it: case numbers, references,
    masked IDs and phones are never wrapped or shortened (:mod:`contactfix.cli.tables`); a cell that
    holds two of them puts each on its own line; names, flags and sources wrap between words.
    """
    amount = f", owes {view.amount:,} {view.currency}" if view.amount is not None else ""
    head = Text.assemble(
        (view.reference, "bold"), f" of {view.organization}: {view.name}, ID {view.id_masked or '–'}",
        f"{amount}; status ", (view.status, "bold"),
    )  # fmt: skip
    console.print(head)
    if view.identity_id is None:
        console.print("identity: none yet (run `contactfix reconcile`); only the bank's own record is known")
    else:
        flags = f", flags: {', '.join(view.identity_flags)}" if view.identity_flags else ""
        count = len(view.records)
        console.print(f"identity {view.identity_id}: {count} record{'' if count == 1 else 's'}{flags}")
    print_table(console, *_records_table(view.records))
    # The explanations are sentences with a weight per field: under the table they read as text,
    # inside it they fold into a column a few letters wide on an 80-column terminal.
    for r in view.records:
        line = Text(f"record {r.record_id}: {r.explanation}")
        console.print(Padding(line, (0, 0, 0, 2)), highlight=False)
    for channel, title in (("phone", "ranked phones"), ("address", "ranked addresses")):
        rows = [c for c in view.contacts if c.channel == channel]
        if rows:
            print_table(
                console, _contacts_table(rows, title, channel), foldable={1} if channel != "phone" else ()
            )
    if not view.contacts:
        console.print("ranked contacts: none")


def _records_table(records: Sequence[LinkedRecord]) -> tuple[Table, set[int]]:
    """One row per record, two lines each: reference over the day seen, name over the masked ID.
    Also the columns that may fold (Chinese names: any two characters may part)."""
    table = compact_table("linked records")
    ids = [cell_len(r.id_masked) for r in records if r.id_masked]
    table.add_column("record", no_wrap=True, justify="right", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("reference\nseen", no_wrap=True, overflow="fold")
    table.add_column("name\nID", min_width=max(ids, default=8), overflow="fold")  # the ID stays whole
    table.add_column("p", no_wrap=True, overflow="fold")
    for r in records:
        source = "\n".join(part for part in (r.source, r.organization, r.role) if part)
        table.add_row(
            str(r.record_id), source, f"{r.reference or '–'}\n{_day(r.observed_on)}",
            f"{r.name}\n{r.id_masked or '–'}", f"{r.membership:.4f}", end_section=True,
        )  # fmt: skip
    return table, {1, 3}


def _contacts_table(contacts: Sequence[RankedRow], title: str, channel: str) -> Table:
    """Ranked contacts of one channel, flags and sources one a line. No "last seen" column: it is the
    newest date among the sources, which are listed newest first, each with its date."""
    table = compact_table(title)
    table.add_column("rank", no_wrap=True, justify="right", overflow="fold")
    table.add_column(channel, no_wrap=channel == "phone", overflow="fold")  # an address folds
    table.add_column("conf.", no_wrap=True, justify="right", overflow="fold")
    table.add_column("flags", no_wrap=True, overflow="fold")
    table.add_column("sources", overflow="fold")  # wraps between words: a case number stays whole
    for c in contacts:
        table.add_row(
            str(c.rank), c.shown, f"{c.confidence:.4f}", "\n".join(c.flags) or "–",
            c.sources.replace("; ", "\n") or "–", end_section=True,
        )  # fmt: skip
    return table


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else "–"
