"""``contactfix submit`` and ``contactfix import-court``: take in a bank batch or a court export.

Exit code 0 when the file was taken in (even with rejected rows), 2 when it could not be at all.
``--json`` prints exactly one line on stdout: the receipt (or ``{"error": …}`` with exit code 2).
The issues go to ``<input name>.issues.csv`` beside the input, or into the current directory when
the input's folder is not writable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contactfix.cli.app import app, fail
from contactfix.errors import ContactfixError
from contactfix.intake.receipt import Issue, Receipt, issues_csv_path, write_issues_csv

_SHOWN_ISSUES = 50

FileArg = Annotated[Path, typer.Argument(help="CSV (UTF-8, UTF-8 with BOM or GB18030), XLSX or JSON lines.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the receipt as one line of JSON.")]


@app.command("submit")
def submit(
    file: FileArg,
    org: Annotated[str, typer.Option("--org", help="The submitting bank (created if new).")],
    json_output: JsonOpt = False,
) -> None:
    """Take in a bank's batch of lost debtors (失联债务人); re-submitting a file is a no-op."""
    from contactfix.intake.service import submit_bank_batch

    _take_in(submit_bank_batch, file, org, json_output)


@app.command("import-court")
def import_court(
    file: FileArg,
    org: Annotated[str, typer.Option("--org", help="Where the export comes from.")] = "court-export",
    json_output: JsonOpt = False,
) -> None:
    """Take in a court records export (parties of cases, with their contacts)."""
    from contactfix.intake.service import import_court_export

    _take_in(import_court_export, file, org, json_output)


def _take_in(service: Callable[..., Receipt], file: Path, org: str, json_output: bool) -> None:
    from contactfix.db.engine import make_engine
    from contactfix.intake.service import iter_issues
    from contactfix.settings import get_settings

    settings = get_settings()
    err = Console(stderr=True, highlight=False)
    engine = make_engine(settings.database_url)
    try:
        receipt = service(
            engine,
            file,
            org,
            batch_size=settings.intake_batch_size,
            max_field_length=settings.intake_max_field_length,
            max_file_bytes=settings.intake_max_file_bytes,
            progress=not json_output or sys.stderr.isatty(),
            timezone=settings.timezone,
        )
        csv_path = _write_issues(file, lambda: iter_issues(engine, receipt.submission_id), receipt)
    except ContactfixError as exc:
        raise fail(exc, json_output) from None
    finally:
        engine.dispose()
    if json_output:
        print(receipt.to_json())
        if csv_path is not None and csv_path.parent != file.resolve().parent:
            err.print(f"issues written to {csv_path}")
        return
    _print_summary(Console(highlight=False), receipt, csv_path)


def _write_issues(file: Path, issues: Callable[[], Iterable[Issue]], receipt: Receipt) -> Path | None:
    """Write the issues CSV beside ``file`` (else in the current directory); None when there are none."""
    if not receipt.warnings:
        return None
    target = issues_csv_path(file.resolve())
    try:
        write_issues_csv(target, issues())
    except OSError:  # the input's folder is read-only (a mounted share, another user's folder)
        target = Path.cwd() / target.name
        write_issues_csv(target, issues())
    return target


def _print_summary(console: Console, receipt: Receipt, csv_path: Path | None) -> None:
    if receipt.duplicate_of is not None:
        console.print(f"[yellow]Already taken in as submission {receipt.duplicate_of}[/]: nothing changed.")
    issues = len(receipt.warnings) + receipt.warnings_omitted
    console.print(
        f"[bold]Submission {receipt.submission_id}[/]: {receipt.rows:,} rows, "
        f"[green]{receipt.accepted:,} accepted[/], [red]{receipt.rejected:,} rejected[/], {issues:,} issues"
    )
    if not receipt.warnings:
        return
    table = Table("row", "field", "severity", "reason", title=f"Issues (first {_SHOWN_ISSUES})")
    for issue in receipt.warnings[:_SHOWN_ISSUES]:
        style = "red" if issue.severity == "rejected" else ""
        table.add_row(str(issue.row), issue.field, issue.severity, issue.reason, style=style)
    console.print(table)
    if csv_path is not None:
        console.print(f"All issues: {csv_path}")
