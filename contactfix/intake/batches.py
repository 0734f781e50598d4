"""Stream a table's rows through the normaliser into the database, one committed batch at a time."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, update

from contactfix.db.models import Submission
from contactfix.intake.reader import RawRow, Table, UnreadableRow
from contactfix.intake.receipt import Issue, Receipt, mask_digit_runs
from contactfix.intake.rows import RowNormaliser
from contactfix.intake.staging import StagedRecord, merge_staged
from contactfix.intake.store import RecordWriter
from contactfix.intake.validation import validated_chunks

__all__ = ["BatchProgress", "stream_batches"]


@dataclass(frozen=True)
class BatchProgress:
    """Whether to draw a progress bar on stderr, and the file size it measures against (None: unknown)."""

    enabled: bool
    total_bytes: int | None


@dataclass
class _Tally:
    """The running counts of a submission and the issues kept for its receipt."""

    receipt: Receipt
    issue_limit: int
    warnings: int = 0
    seen: dict[str, int] = field(default_factory=dict)

    def add_issues(self, issues: list[Issue]) -> None:
        for issue in issues:
            self.warnings += issue.severity == "warning"
            if len(self.receipt.warnings) < self.issue_limit:
                self.receipt.warnings.append(issue)
            else:
                self.receipt.warnings_omitted += 1


def stream_batches(
    connection: Connection,
    table: Table,
    normaliser: RowNormaliser,
    writer: RecordWriter,
    submission_id: int,
    file_issues: list[Issue],
    *,
    batch_size: int,
    progress: BatchProgress,
    issue_limit: int,
    debtors: bool,
    workers: int = 0,
) -> Receipt:
    """Normalise and store every non-blank row of ``table``; commit each ``batch_size`` rows.

    With ``workers`` > 0 the rows are validated in that many worker processes while this one
    writes; the order of rows, and so the outcome, is the same. Within the file a later row with the
    same record key (bank: the reference) replaces the earlier one, with a warning. Returns the
    receipt; the caller marks the submission completed.
    """
    tally = _Tally(Receipt(submission_id, 0, 0, 0), issue_limit)
    committer = _Committer(connection, writer, tally, debtors)
    if file_issues:
        committer.commit([], file_issues)
    chunks = _header_checked_chunks(table, normaliser, batch_size)
    # Entered in this order: the workers are forked before the bar's and the writer's threads start.
    overlap = committer.overlapped()
    with (
        validated_chunks(chunks, normaliser, debtors, workers) as validated,
        _progress_bar(progress) as bar,
        overlap,
    ):
        for (size, staged, row_issues), chunk_issues in validated:
            records: dict[str, StagedRecord] = {}
            duplicates: list[Issue] = []
            for record in staged:
                _keep_latest(records, record, tally, duplicates, debtors)
            tally.receipt.rows += size
            committer.submit(list(records.values()), chunk_issues + _in_row_order(row_issues, duplicates))
            if bar is not None:
                bar.advance(tally.receipt.rows, table.bytes_read())
    tally.receipt.rejected = tally.receipt.rows - tally.receipt.accepted
    return tally.receipt


def _in_row_order(row_issues: list[Issue], duplicates: list[Issue]) -> list[Issue]:
    """Each row's issues followed by its duplicate warning (a stable sort: both lists are in row order)."""
    if not duplicates:
        return row_issues
    return sorted(row_issues + duplicates, key=lambda issue: issue.row)


class _Committer:
    """Writes and commits batches in order, each with the submission's counts as of that batch.

    On PostgreSQL, inside :meth:`overlapped`, a batch is written on a thread of its own while the
    caller reads and validates the next one: the server does most of a batch's work in its own
    process, and this one would otherwise wait for it. One batch is in flight at a time, so memory
    stays bounded and a batch's error is raised by the next :meth:`submit` (or on leaving
    :meth:`overlapped`), before anything after it is written. SQLite works in this process: it
    gains nothing from the thread and commits in line.
    """

    def __init__(self, connection: Connection, writer: RecordWriter, tally: _Tally, debtors: bool) -> None:
        self.connection, self.writer, self.tally, self.debtors = connection, writer, tally, debtors
        self._thread: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def commit(self, records: list[StagedRecord], issues: list[Issue]) -> None:
        """Write and commit one batch now; the counts saved are the receipt's at this moment."""
        receipt = self.tally.receipt
        self._commit(records, issues, receipt.rows, receipt.accepted)

    def submit(self, records: list[StagedRecord], issues: list[Issue]) -> None:
        """Write and commit one batch, on the writer thread when there is one."""
        if self._thread is None:
            self.commit(records, issues)
            return
        self._wait()
        receipt = self.tally.receipt  # counted now: the caller goes on counting the next batch
        self._pending = self._thread.submit(self._commit, records, issues, receipt.rows, receipt.accepted)

    @contextmanager
    def overlapped(self) -> Iterator[None]:
        """Within: batches go to a writer thread (PostgreSQL). On leaving, every batch is committed,
        or its error raised; after an error of the caller's, the batch in flight still finishes, so
        the connection is idle when the caller rolls back, and the caller's error is the one raised."""
        if self.connection.dialect.name != "postgresql":
            yield
            return
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-writer")
        try:
            yield
        except BaseException:
            with suppress(Exception):
                self._wait()
            raise
        else:
            self._wait()
        finally:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _commit(self, records: list[StagedRecord], issues: list[Issue], rows: int, accepted: int) -> None:
        self.writer.write(records, issues, debtors=self.debtors)
        self.tally.add_issues(issues)
        values = {
            "rows": rows,
            "accepted": accepted,
            "rejected": rows - accepted,
            "warnings": self.tally.warnings,
        }
        self.connection.execute(
            update(Submission).where(Submission.id == self.tally.receipt.submission_id).values(**values)
        )
        self.connection.commit()


def _header_checked_chunks(
    table: Table, normaliser: RowNormaliser, size: int
) -> Iterator[tuple[list[RawRow], list[Issue]]]:
    """Chunks of rows, each with the unknown-column warnings of keys first seen in it (JSON lines)."""
    for chunk in _chunks(table, size):
        issues: list[Issue] = []
        if len(table.headers) > normaliser.header_map.mapped:
            new = normaliser.header_map.extend(table.headers, normaliser.kind)
            issues += [
                Issue(table.header_source(at), mask_digit_runs(h), "unknown column, ignored") for at, h in new
            ]
        yield chunk, issues


def _keep_latest(
    records: dict[str, StagedRecord], staged: StagedRecord, tally: _Tally, issues: list[Issue], debtors: bool
) -> None:
    """Count ``staged`` and keep it in ``records``, folding in (with a warning) an earlier row of its key."""
    tally.receipt.accepted += 1
    key = staged.record_key
    earlier = tally.seen.get(key)
    if earlier is not None:
        if debtors:
            reason = f"duplicate reference in this file: this row replaces row {earlier}"
            issues.append(Issue(staged.row, "reference", reason))
        else:
            reason = f"same case, party, ID and role as row {earlier}: this row replaces it"
            issues.append(Issue(staged.row, "record", reason))
        previous = records.pop(key, None)  # re-inserted last: the batch keeps the file's order
        if previous is not None:
            staged = merge_staged(staged, previous)
    tally.seen[key] = staged.row
    records[key] = staged


def _chunks(table: Table, size: int) -> Iterator[list[RawRow]]:
    """Non-blank rows in lists of ``size`` (a blank line between records is not a row of data)."""
    rows = (row for row in table if not _blank(row[1]))
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def _blank(cells: list[Any]) -> bool:
    try:  # a CSV row: all text, checked in one C call; an unreadable row has no cells but counts
        return not "".join(cells).strip() and type(cells) is not UnreadableRow
    except TypeError:
        return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


class _Bar:
    """A rich progress bar on stderr: rows, rows/s and, for text files, the share of bytes read."""

    def __init__(self, total_bytes: int | None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("[bold]intake"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[rows]:,} rows"),
            TextColumn("{task.fields[rate]:,.0f} rows/s"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.task = self.progress.add_task("intake", total=total_bytes, rows=0, rate=0.0)

    def advance(self, rows: int, bytes_read: int | None) -> None:
        rate = rows / max(time.monotonic() - self.started, 1e-6)
        self.progress.update(self.task, completed=bytes_read, rows=rows, rate=rate)

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _progress_bar(progress: BatchProgress) -> AbstractContextManager[_Bar | None]:
    return _Bar(progress.total_bytes) if progress.enabled else nullcontext()
