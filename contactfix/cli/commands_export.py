"""``contactfix export contacts --out FILE.csv|FILE.xlsx --org NAME [--status S]``: a bank's results.

One row per debtor and contact, best first (phones, then addresses, each by rank), with the columns
:data:`COLUMNS`. A debtor without a usable contact still gets one row, its contact cells empty, so the
bank sees every debtor it sent. Phones are E.164: carrying the repaired number is the export's purpose.
Contacts that must not be used are left out: numbers reported wrong, invalid ones, phones shared by
many people, and contacts the debtor objected to.

Rows stream from the database to the file (CSV: UTF-8 with a byte-order mark, which Excel needs to
read Chinese; XLSX: openpyxl's write-only mode), written to a temporary file that replaces ``--out``
only when complete. The file holds phones whole: it is created readable by its owner only (0600, as
``mkstemp`` makes it), whatever the mode of the file it replaces.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from contactfix.access.policy import ContactView
from contactfix.cli.app import app, fail
from contactfix.db.models import DebtorStatus, Organization
from contactfix.errors import ContactfixError, NotFound
from contactfix.queries.exports import COLUMNS, UNUSABLE, export_rows

__all__ = ["COLUMNS", "UNUSABLE", "ExportError", "export_contacts", "export_rows"]


export_app = typer.Typer(help="Export results: repaired contacts for the banks.", no_args_is_help=True)
app.add_typer(export_app, name="export")


class ExportError(ContactfixError, ValueError):
    """The export cannot be written (unknown format, unknown status, unwritable place)."""


def export_contacts(
    session: Session, out: Path, *, org: str, status: str | None = None, share: bool = False
) -> int:
    """Write bank ``org``'s export to ``out`` (.csv or .xlsx, by the suffix); the number of data rows.

    ``share``: the ``share_contacts_across_banks`` setting (see :mod:`contactfix.queries.exports`).

    Raises :class:`ExportError` for another suffix or an unknown status, :class:`NotFound` for an
    unknown organisation. ``out`` is replaced only once the whole file is written.
    """
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ExportError(
            f"{out.name}: the export is written as .csv or .xlsx, not {suffix or 'no suffix'!r}"
        )
    if status is not None and status not in {s.value for s in DebtorStatus}:
        allowed = ", ".join(s.value for s in DebtorStatus)
        raise ExportError(f"unknown status {status!r}; one of {allowed}")
    organization_id = session.scalar(select(Organization.id).where(Organization.name == org))
    if organization_id is None:
        raise NotFound(f"no organisation named {org!r}")
    rows = export_rows(session, ContactView(organization_id, share), status=status)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
        os.close(handle)
    except OSError as exc:
        raise ExportError(f"cannot write to {out.parent}: {exc.strerror or exc}") from exc
    try:
        written = (
            _write_csv(Path(temporary), rows) if suffix == ".csv" else _write_xlsx(Path(temporary), rows)
        )
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return written


def _write_csv(path: Path, rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    # utf-8-sig: the byte-order mark is how Excel knows the file is UTF-8 and shows Chinese right.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(["" if cell is None else cell for cell in row])
            count += 1
    return count


def _write_xlsx(path: Path, rows: Iterator[tuple[Any, ...]]) -> int:
    from openpyxl import Workbook

    # Write-only: rows go to a temporary file as they come, memory stays flat whatever the size.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("contacts")
    sheet.append(list(COLUMNS))
    count = 0
    for row in rows:
        sheet.append(list(row))
        count += 1
    workbook.save(path)
    return count


@export_app.command("contacts")
def contacts(
    out: Annotated[Path, typer.Option("--out", help="FILE.csv (UTF-8 with BOM) or FILE.xlsx.")],
    org: Annotated[str, typer.Option("--org", help="The bank whose debtors are exported.")],
    status: Annotated[
        str | None, typer.Option("--status", help="Only debtors with this status (e.g. repaired).")
    ] = None,
) -> None:
    """One row per debtor and contact, best first: reference,status,rank,channel,value,confidence,…"""
    from contactfix.db.engine import make_engine
    from contactfix.settings import get_settings

    err = Console(stderr=True, highlight=False)
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            share = settings.share_contacts_across_banks
            written = export_contacts(session, out, org=org, status=status, share=share)
    except ContactfixError as exc:
        raise fail(exc) from None
    finally:
        engine.dispose()
    err.print(f"{written:,} rows written to {out}", soft_wrap=True)
