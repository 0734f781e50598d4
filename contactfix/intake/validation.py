"""Validate chunks of rows: in this process, or in worker processes while this one writes.

Per-row validation (ID check digits, phone parsing, name normalisation) is the cost of intake, and
writing waits on the database, so on a machine with a spare core the two overlap: chunks go to a
process pool in file order and come back in file order, at most ``workers + 1`` in flight, so memory
stays bounded and the outcome is the same as validating in process.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager

from contactfix.intake.reader import RawRow
from contactfix.intake.receipt import Issue
from contactfix.intake.rows import RowNormaliser
from contactfix.intake.staging import StagedRecord, stage

__all__ = ["ChunkOutcome", "RowOutcome", "normalise_chunk", "validated_chunks"]

RowOutcome = tuple[StagedRecord | None, list[Issue]]
ChunkOutcome = tuple[int, list[RowOutcome], list[Issue]]
"""(rows in the chunk, each row's staged record or None and its issues, the chunk's own issues)."""


def normalise_chunk(normaliser: RowNormaliser, chunk: list[RawRow], debtors: bool) -> list[RowOutcome]:
    """Each row of ``chunk`` normalised and staged for the writer (None when rejected), with its issues."""
    outcomes: list[RowOutcome] = []
    for number, cells in chunk:
        result = normaliser.normalise(number, cells)
        staged = stage(result.record, debtor=debtors) if result.record is not None else None
        outcomes.append((staged, result.issues))
    return outcomes


@contextmanager
def validated_chunks(
    chunks: Iterable[tuple[list[RawRow], list[Issue]]], normaliser: RowNormaliser, debtors: bool, workers: int
) -> Iterator[Iterator[ChunkOutcome]]:
    """The chunks validated, in order; by ``workers`` processes when > 0, else in this process.

    The first chunk is always validated here: that loads the reference data (name tables, phone
    metadata) before the workers are forked, so they share it instead of each loading their own,
    and a file of one chunk never starts a worker.
    """
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        yield iter(())
        return
    head = (len(first[0]), normalise_chunk(normaliser, first[0], debtors), first[1])
    if workers <= 0 or not _can_fork():
        rest = ((len(chunk), normalise_chunk(normaliser, chunk, debtors), issues) for chunk, issues in chunks)
        yield itertools.chain([head], rest)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    # Fork the workers now, before the caller starts threads (the progress bar's) that could hold
    # a lock at the moment of the fork.
    pool.submit(int).result()
    try:
        yield itertools.chain([head], _pipelined(pool, chunks, normaliser, debtors, depth=workers + 1))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _can_fork() -> bool:
    """Workers are forked: they start at once, sharing this process's imports and loaded reference
    data, and need no ``__main__`` guard in the caller's script. Not when other threads run (a web
    server calling intake): a thread holding a lock at the moment of the fork would leave it locked
    in the worker forever, so validation then stays in this process."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _pipelined(
    pool: ProcessPoolExecutor,
    chunks: Iterable[tuple[list[RawRow], list[Issue]]],
    normaliser: RowNormaliser,
    debtors: bool,
    depth: int,
) -> Iterator[ChunkOutcome]:
    in_flight: deque[tuple[int, Future[list[RowOutcome]], list[Issue]]] = deque()
    for chunk, issues in chunks:
        # The normaliser travels with each chunk: JSON lines may have grown its header map since.
        in_flight.append((len(chunk), pool.submit(normalise_chunk, normaliser, chunk, debtors), issues))
        if len(in_flight) >= depth:
            size, future, chunk_issues = in_flight.popleft()
            yield size, future.result(), chunk_issues
    while in_flight:
        size, future, chunk_issues = in_flight.popleft()
        yield size, future.result(), chunk_issues
