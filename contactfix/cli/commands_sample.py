"""``contactfix sample``: generated bank and court files with the truth behind them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contactfix.cli.app import app
from contactfix.errors import ContactfixError
from contactfix.sample.writer import MAX_DEBTORS, write_sample


class HeaderStyle(StrEnum):
    """Column names: the canonical English ones or the Chinese ones exports carry."""

    en = "en"
    zh = "zh"


class FileEncoding(StrEnum):
    """Text encoding of bank.csv and court.csv."""

    utf8 = "utf-8"
    utf8_sig = "utf-8-sig"
    gb18030 = "gb18030"


@app.command(
    "sample",
    help="Write DIR/bank.csv (a bank's batch of lost debtors) and DIR/court.csv (a court's party "
    "export, with about as many court-only people as debtors), deterministic for a seed.\n\n"
    "DIR/truth.csv maps every row to its person (source,id,person_id); DIR/persons.csv gives each "
    "person's current phone (person_id,current_phone, E.164), for benchmarks to score against.",
)
def sample(
    debtors: Annotated[int, typer.Option(min=1, max=MAX_DEBTORS, help="Lost debtors in the bank's batch.")],
    out: Annotated[Path, typer.Option(file_okay=False, help="Folder to write the files to (created).")],
    seed: Annotated[int, typer.Option(help="Same seed, same arguments: byte-identical files.")] = 0,
    headers: Annotated[HeaderStyle, typer.Option(help="Column names of bank.csv and court.csv.")] = (
        HeaderStyle.en
    ),
    encoding: Annotated[FileEncoding, typer.Option(help="Encoding of bank.csv and court.csv.")] = (
        FileEncoding.utf8
    ),
) -> None:
    """Generate sample bank and court files with the truth behind them."""
    try:
        summary = write_sample(out, debtors, seed, headers.value, encoding.value)
    except OSError as exc:
        raise ContactfixError(f"cannot write the sample to {out}: {exc.strerror or exc}") from exc
    table = Table(title=f"sample written to {summary.out_dir}", show_header=True)
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_row("bank.csv", f"{summary.bank_rows:,}")
    table.add_row("court.csv", f"{summary.court_rows:,}")
    table.add_row("persons.csv", f"{summary.persons:,}")
    table.add_row("truth.csv", f"{summary.bank_rows + summary.court_rows:,}")
    console = Console()
    console.print(table)
    console.print(
        f"{summary.seconds:.1f} s, {summary.rows_per_second:,.0f} rows/s "
        f"(seed {seed}, headers {headers.value}, encoding {encoding.value})",
        highlight=False,
    )
