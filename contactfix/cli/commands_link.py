"""``contactfix link``: link two files of people, or deduplicate one (the contract in DESIGN.md).

Reads what ``contactfix submit`` reads (CSV in UTF-8 or GB18030, XLSX, JSON lines; English or
Chinese headers) through :mod:`contactfix.intake.linkfiles` and hands numpy columns to
:mod:`matchers`, so the command never imports pandas: on a 5,000 × 5,000 link, start-up is most of
the run.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import TaskID

from contactfix.cli.app import app
from contactfix.errors import IntakeError


def _write_csv(path: Path, rows: object) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)  # type: ignore[arg-type]
    except OSError as exc:
        raise IntakeError(f"{path}: cannot write the file ({exc.strerror or exc})") from None


class _StageProgress:
    """A transient rich progress bar on stderr, one task per stage; silent when stderr is not a terminal."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _StageProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=max(total, 1))
        self._progress.update(self._tasks[stage], completed=done, total=max(total, 1))


def _report(console: Console, result: object, started: float, reading: float, writing: float) -> None:
    """Stage timings, the blocking report and the model's prior, for ``-v``."""
    from rich.table import Table

    from matchers import LinkResult

    assert isinstance(result, LinkResult)
    timings = Table("stage", "seconds", title="timings", title_justify="left")
    timings.add_row("read", f"{reading:.3f}")
    for stage, seconds in result.timings.items():
        timings.add_row(stage, f"{seconds:.3f}")
    timings.add_row("write", f"{writing:.3f}")
    timings.add_row("total", f"{time.perf_counter() - started:.3f}")
    console.print(timings)
    blocking = Table("rule", "pairs", "new", "capped blocks", title="blocking", title_justify="left")
    for r in result.blocking:
        blocking.add_row(r.rule, f"{r.pairs:,}", f"{r.new_pairs:,}", r.skipped or f"{r.capped_blocks:,}")
    console.print(blocking)
    model = result.model
    console.print(
        f"records {result.records.n:,}  candidate pairs {result.n_candidates:,}  "
        f"reported pairs {len(result.pairs_table):,}  EM iterations {model.iterations}  "
        f"prior 1 in {1 / model.prior:,.0f} pairs",
        highlight=False,
    )


@app.command("link")
def link(
    left: Annotated[Path, typer.Argument(help="CSV, XLSX or JSON lines with a header and an 'id' column.")],
    right: Annotated[
        Path | None, typer.Argument(help="Second file to link against; omit to deduplicate LEFT.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write left_id,right_id,probability.")] = Path(
        "pairs.csv"
    ),
    clusters: Annotated[Path | None, typer.Option("--clusters", help="Also write cluster,source,id.")] = None,
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.0, max=1.0, help="Report pairs at or above.")
    ] = 0.5,
    explain: Annotated[bool, typer.Option("--explain", help="Add each comparison's match weight.")] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Print stage timings and blocking.")
    ] = False,
) -> None:
    """Link RIGHT to LEFT (or deduplicate LEFT): every pair of records at or above the threshold."""
    started = time.perf_counter()
    console = Console(stderr=True)
    warnings: list[str] = []
    from contactfix.intake.linkfiles import read_link_table
    from contactfix.intake.receipt import mask_digit_runs
    from matchers import LinkSettings, MatchersError
    from matchers.linker import Linker

    try:
        tables = [
            read_link_table(left, warnings),
            read_link_table(right, warnings) if right is not None else None,
        ]
        reading = time.perf_counter() - started
        settings = LinkSettings(threshold=threshold)
        labels = (left.name, right.name if right is not None else left.name)
        with _StageProgress(console) as progress:
            linker = Linker(settings, progress)
            # Hand the tables over without keeping a reference, so the linker can free them early.
            result = linker.link_tables(tables.pop(0), tables.pop(0), labels=labels)  # type: ignore[arg-type]
    except MatchersError as exc:
        raise IntakeError(mask_digit_runs(str(exc))) from None
    for warning in [*warnings, *result.warnings]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    write_start = time.perf_counter()
    _write_csv(out, result.pair_rows(explain=explain))
    if clusters is not None:
        _write_csv(clusters, [("cluster", "source", "id"), *result.cluster_rows()])
    if verbose:
        _report(console, result, started, reading, time.perf_counter() - write_start)
    sys.stderr.flush()
