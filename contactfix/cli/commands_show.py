"""``contactfix show REFERENCE [--org NAME]``: one debtor, its identity, its linked records with why
each is linked, and its ranked contacts.

ID numbers and phones are masked (``350103********1234``, ``+86 138****5678``): this is a screen for
operators, and the export is where a bank gets its repaired numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from contactfix.cli.app import app
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
        Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    print_view(Console(highlight=False), view)


def print_view(console: Console, view: DebtorView) -> None:
    """Print a :class:`DebtorView` (masked as it is)."""
    amount = f", owes {view.amount:,} {view.currency}" if view.amount is not None else ""
    console.print(f"[bold]{view.reference}[/] of {view.organization}: {view.name}, ID {view.id_masked or '–'}"
                  f"{amount}; status [bold]{view.status}[/]", soft_wrap=True)  # fmt: skip
    if view.identity_id is None:
        console.print("identity: none yet (run `contactfix reconcile`); only the bank's own record is known")
    else:
        flags = f", flags: {', '.join(view.identity_flags)}" if view.identity_flags else ""
        count = len(view.records)
        console.print(f"identity {view.identity_id}: {count} record{'' if count == 1 else 's'}{flags}")
    console.print(_records_table(view.records))
    # The explanations are sentences with a weight per field: under the table they read as text,
    # inside it they fold into a column a few letters wide on an 80-column terminal.
    for r in view.records:
        console.print(f"  record {r.record_id}: {r.explanation}", soft_wrap=False, highlight=False)
    console.print(_contacts_table(view.contacts))


def _records_table(records: Iterable[LinkedRecord]) -> Table:
    table = Table(title="linked records", title_justify="left")
    for column in ("record", "source", "reference", "role", "seen", "name", "ID", "p"):
        table.add_column(column, no_wrap=column in ("record", "seen", "p"))
    for r in records:
        table.add_row(
            str(r.record_id), f"{r.source} ({r.organization})" if r.organization else r.source,
            r.reference or "–", r.role or "–", _day(r.observed_on), r.name, r.id_masked or "–",
            f"{r.membership:.4f}",
        )  # fmt: skip
    return table


def _contacts_table(contacts: Iterable[RankedRow]) -> Table:
    table = Table(title="ranked contacts", title_justify="left")
    for column in ("channel", "rank", "contact", "confidence", "flags", "last seen"):
        table.add_column(column, justify="right" if column in ("rank", "confidence") else "left")
    table.add_column("sources", overflow="fold")
    for c in contacts:
        table.add_row(
            c.channel, str(c.rank), c.shown, f"{c.confidence:.4f}", ", ".join(c.flags) or "–",
            _day(c.last_seen), c.sources,
        )  # fmt: skip
    return table


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else "–"
