"""``contactfix demo``: the pipeline on generated data, no arguments, no services."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from contactfix.cli.app import app

if TYPE_CHECKING:
    from contactfix.demo import DemoResult, DispatchSummary, IntakeSummary, ReconcileSummary

# contactfix.demo.DEFAULT_DEBTORS (a test checks): the demo module is imported only when it runs,
# as it pulls in the database and intake, which every other command would pay for at start-up.
DEFAULT_DEBTORS = 2000


@app.command(
    "demo",
    help="Run contactfix end to end on generated data, with no services: create a fresh SQLite "
    "database in a new temporary folder, generate a bank batch and a court export, take both in, "
    "link them into identities, rank every debtor's contacts and print what was accepted and "
    "rejected, how many debtors were repaired and a few of them with where their new phone was found "
    "(phones masked).\n\n"
    "The demo ignores CONTACTFIX_* settings: its database and outbox are always files in its own "
    "folder. The folder is kept and its path printed, so the database and files can be looked at "
    "afterwards; --clean removes it at the end.",
)
def demo(
    debtors: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Lost debtors to generate (court-only people as many).")
    ] = DEFAULT_DEBTORS,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 0,
    keep: Annotated[
        bool, typer.Option("--keep/--clean", help="Keep the demo folder (default) or remove it at the end.")
    ] = True,
) -> None:
    """Run the demo and print its summary."""
    from contactfix.demo import make_folder, run_demo

    console = Console()
    folder = make_folder()
    console.print(f"folder: {folder.path}", soft_wrap=True, highlight=False)
    try:
        result = run_demo(debtors, seed, folder)
    except BaseException:
        Console(stderr=True).print(f"demo stopped; its folder is kept: {folder.path}", soft_wrap=True)
        raise
    print_result(console, result)
    if keep:
        console.print(f"folder kept: {folder.path}", soft_wrap=True, highlight=False)
    else:
        shutil.rmtree(folder.path, ignore_errors=True)
        console.print(f"folder removed: {folder.path}", soft_wrap=True, highlight=False)


def print_result(console: Console, result: DemoResult) -> None:
    """Print what each step of the demo did. Issues are shown masked, as intake stored them."""
    console.print(f"database: {result.folder.database_url}", soft_wrap=True, highlight=False)
    if result.sample is not None:
        console.print(
            f"sample: {result.sample.bank_rows:,} debtors in bank.csv, {result.sample.court_rows:,} rows "
            f"in court.csv (seed {result.seed}, {result.sample.seconds:.1f} s)",
            highlight=False,
        )
    counts = Table(title="intake", title_justify="left")
    for column in ("file", "rows", "accepted", "rejected", "warnings", "seconds"):
        counts.add_column(column, justify="left" if column == "file" else "right")
    for summary in result.intake:
        counts.add_row(
            summary.file, f"{summary.rows:,}", f"{summary.accepted:,}", f"{summary.rejected:,}",
            f"{summary.warnings:,}", f"{summary.seconds:.1f}",
        )  # fmt: skip
    console.print(counts)
    for summary in result.intake:
        _print_issues(console, summary)
    if result.reconcile is not None:
        _print_reconcile(console, result.reconcile)
    if result.dispatch is not None:
        _print_dispatch(console, result.dispatch, result.folder.outbox_path)
    console.print(f"elapsed: {result.seconds:.1f} s", highlight=False)


def _print_issues(console: Console, summary: IntakeSummary) -> None:
    if summary.top_reasons:
        table = Table(title=f"{summary.file}: most common issues", title_justify="left")
        for column in ("count", "severity", "field"):
            table.add_column(column, justify="right" if column == "count" else "left", no_wrap=True)
        table.add_column("reason", overflow="fold")
        for reason in summary.top_reasons:
            table.add_row(f"{reason.count:,}", reason.severity, reason.field, reason.reason)
        console.print(table)
    for issue in summary.example_rejections:
        line = f"  rejected, {summary.file} row {issue.row}: {issue.reason.removeprefix('rejected: ')}"
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _print_reconcile(console: Console, summary: ReconcileSummary) -> None:
    counts = summary.counts
    share = summary.repaired / summary.debtors if summary.debtors else 0.0
    console.print(
        f"reconcile: run {summary.run_id}, {counts.get('links', 0):,} links, "
        f"{counts.get('ranked_debtors', 0):,} debtors ranked, {counts.get('shared_phones', 0):,} shared "
        f"phones flagged ({summary.seconds:.1f} s)",
        highlight=False,
    )
    console.print(
        f"repaired: {summary.repaired:,} of {summary.debtors:,} debtors ({share:.1%}) have a new phone "
        "ranked first with enough confidence",
        highlight=False,
    )
    if not summary.examples:
        return
    table = Table(title="repaired debtors (first few)", title_justify="left")
    for column in ("reference", "new phone", "confidence", "phone the bank had"):
        table.add_column(column, no_wrap=True, justify="right" if column == "confidence" else "left")
    table.add_column("found in", overflow="fold")
    for example in summary.examples:
        table.add_row(
            example.reference, example.phone, f"{example.confidence:.3f}", example.lost_phone or "–",
            example.sources,
        )  # fmt: skip
    console.print(table)


def _print_dispatch(console: Console, summary: DispatchSummary, outbox: Path) -> None:
    def listed(counts: dict[str, int]) -> str:
        return ", ".join(f"{count:,} {what}" for what, count in sorted(counts.items())) or "nothing"

    console.print(f"dispatch now: {listed(summary.outcomes)}", highlight=False)
    if summary.simulated_at is not None:
        at = summary.simulated_at.astimezone(ZoneInfo("Asia/Shanghai"))
        console.print(
            f"dispatch from {at:%Y-%m-%d %H:%M} Asia/Shanghai (a simulated clock, moved to each "
            "deferral's time): "
            f"{listed(summary.later_outcomes)}",
            highlight=False,
        )
    console.print(f"dispatch states: {listed(summary.states)}", highlight=False)
    console.print(f"outbox {outbox}: {listed(summary.outbox_lines)} lines", highlight=False, soft_wrap=True)
    for text in summary.example_texts:
        console.print(f"  sms to mediator: {text}", highlight=False, markup=False, soft_wrap=True)
