"""``contactfix show REFERENCE [--org NAME]``: one debtor, its identity, its linked records with why
each is linked, and its ranked contacts.

ID numbers and phones are masked (``350103********1234``, ``+86 138****5678``): this is a screen for
operators, and the export is where a bank gets its repaired numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from contactfix.cli.app import app, fail
from contactfix.cli.tables import compact_table, print_table
from contactfix.errors import ContactfixError
from contactfix.queries.debtors import (
    AmbiguousReference,
    DebtorView,
    LinkedRecord,
    RankedRow,
    debtor_view,
    find_debtor,
)

__all__ = ["AmbiguousReference", "DebtorView", "LinkedRecord", "RankedRow", "debtor_view", "find_debtor"]


@app.command("show")
def show(
    reference: Annotated[str, typer.Argument(help="The bank's reference of the debtor (e.g. CF0000123).")],
    org: Annotated[str, typer.Option("--org", help="The bank whose debtor it is (and whose view is shown).")],
) -> None:
    """Print one debtor: identity, linked records with the reason for each link, ranked contacts."""
    from contactfix.db.engine import make_engine
    from contactfix.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            view = debtor_view(session, reference, org, share=settings.share_contacts_across_banks)
    except ContactfixError as exc:
        raise fail(exc) from None
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
