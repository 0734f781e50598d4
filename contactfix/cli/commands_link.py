"""``contactfix link``: link two CSV files of people, or deduplicate one (the contract in DESIGN.md).

Reads CSV with the standard library and hands numpy columns to :mod:`matchers`, so the command never
imports pandas: on a 5,000 × 5,000 link, start-up is most of the run.
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

_ENCODINGS = (("utf-8-sig", None), ("gb18030", "read as GB18030 (not UTF-8)"))
# Above this size a CSV file is read with pyarrow (when installed); below, import time would dominate.
_ARROW_FROM_BYTES = 16 * 1024 * 1024
# Fields can be long (addresses with notes); the default limit of 128 KiB stops real exports.
csv.field_size_limit(16 * 1024 * 1024)


def _decode(path: Path, label: str, warnings: list[str]) -> str:
    """The file's text: UTF-8 (BOM allowed), else GB18030 with a warning; IntakeError otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IntakeError(f"{label}: cannot read the file ({exc.strerror or exc})") from None
    first_error: UnicodeDecodeError | None = None
    for encoding, note in _ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
            continue
        if note:
            warnings.append(f"{label}: {note}")
        return text
    offset = first_error.start if first_error else 0
    raise IntakeError(
        f"{label}: not UTF-8 text (undecodable byte at offset {offset}); save the file as UTF-8"
    )


def _read_with_arrow(path: Path, label: str) -> object | None:
    """The table read by pyarrow (multithreaded, columnar), or None when pyarrow is absent or the file
    is not plain UTF-8 CSV (the standard-library path then reports or works around the problem)."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        return None
    from matchers.inputs import table_from_arrow

    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        return None
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    raw = table_from_arrow(table, label)
    del table
    # Arrow's allocator keeps freed pages for reuse by Arrow only; hand them back (about 250 MB a file).
    pa.default_memory_pool().release_unused()
    return raw


def read_table(path: Path, warnings: list[str]) -> object:
    """A :class:`matchers.normalize.RawTable` from a CSV file with a header row and an ``id`` column.

    Large files go through pyarrow when it is installed (ten times faster, a fraction of the memory);
    small ones, and files that are not clean UTF-8, through the csv module.
    """
    from matchers.inputs import table_from_columns

    label = path.name
    if path.is_file() and path.stat().st_size > _ARROW_FROM_BYTES:
        table = _read_with_arrow(path, label)
        if table is not None:
            return table
    text = _decode(path, label, warnings)
    rows = list(csv.reader(text.splitlines()))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise IntakeError(f"{label}: the file is empty (no header row)")
    header, body = rows[0], rows[1:]
    width = len(header)
    ragged = sum(1 for row in body if len(row) != width)
    if ragged:
        warnings.append(f"{label}: {ragged} row(s) do not have {width} fields; missing fields are blank")
    body = [(row + [""] * width)[:width] for row in body]
    columns = {name: [row[k] for row in body] for k, name in enumerate(header)}
    return table_from_columns(header, columns, label)


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
    left: Annotated[Path, typer.Argument(help="CSV with a header and an 'id' column.")],
    right: Annotated[
        Path | None, typer.Argument(help="Second CSV to link against; omit to deduplicate LEFT.")
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
    from matchers import LinkSettings, MatchersError
    from matchers.linker import Linker

    try:
        tables = [read_table(left, warnings), read_table(right, warnings) if right is not None else None]
        reading = time.perf_counter() - started
        settings = LinkSettings(threshold=threshold)
        labels = (left.name, right.name if right is not None else left.name)
        with _StageProgress(console) as progress:
            linker = Linker(settings, progress)
            # Hand the tables over without keeping a reference, so the linker can free them early.
            result = linker.link_tables(tables.pop(0), tables.pop(0), labels=labels)  # type: ignore[arg-type]
    except MatchersError as exc:
        raise IntakeError(str(exc)) from None
    for warning in [*warnings, *result.warnings]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    write_start = time.perf_counter()
    _write_csv(out, result.pair_rows(explain=explain))
    if clusters is not None:
        _write_csv(clusters, [("cluster", "source", "id"), *result.cluster_rows()])
    if verbose:
        _report(console, result, started, reading, time.perf_counter() - write_start)
    sys.stderr.flush()
