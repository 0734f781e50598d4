"""Validate chunks of rows: in this process, or in worker processes while this one writes.

Per-row validation (ID check digits, phone parsing, name normalisation) is the cost of intake, and
writing waits on the database, so on a machine with a spare core the two overlap: chunks go to a
process pool in file order and come back in file order, at most ``workers + 1`` in flight, so memory
stays bounded and the outcome is the same as validating in process.
"""

from __future__ import annotations

import gc
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

__all__ = ["ChunkOutcome", "normalise_chunk", "validated_chunks"]

ChunkOutcome = tuple[int, list[StagedRecord], list[Issue]]
"""(rows in the chunk, the accepted rows' records in file order, the issues of its rows in row order)."""

# What a worker sends back: records as plain tuples, which pickle in C both ways, where a named
# tuple costs a call into Python per record (the bulk of the transfer's cost).
_Transfer = tuple[list[tuple[object, ...]], list[Issue]]


def normalise_chunk(normaliser: RowNormaliser, chunk: list[RawRow], debtors: bool) -> ChunkOutcome:
    """``chunk`` normalised: the staged records of its accepted rows and the issues of all its rows."""
    records: list[StagedRecord] = []
    issues: list[Issue] = []
    for number, cells in chunk:
        result = normaliser.normalise(number, cells)
        if result.issues:
            issues += result.issues
        if result.record is not None:
            records.append(stage(result.record, debtor=debtors))
    return len(chunk), records, issues


def _normalise_for_transfer(normaliser: RowNormaliser, chunk: list[RawRow], debtors: bool) -> _Transfer:
    _, records, issues = normalise_chunk(normaliser, chunk, debtors)
    return [tuple(record) for record in records], issues


def _received(size: int, transfer: _Transfer) -> ChunkOutcome:
    records, issues = transfer
    return size, list(map(StagedRecord._make, records)), issues


@contextmanager
def validated_chunks(
    chunks: Iterable[tuple[list[RawRow], list[Issue]]], normaliser: RowNormaliser, debtors: bool, workers: int
) -> Iterator[Iterator[tuple[ChunkOutcome, list[Issue]]]]:
    """The chunks validated, in order, each with its own issues; by ``workers`` processes when > 0,
    else in this process.

    The first chunk is always validated here: that loads the reference data (name tables, phone
    metadata) before the workers are forked, so they share it instead of each loading their own,
    and a file of one chunk never starts a worker. That data then sits in the collector's permanent
    generation until the end (see :func:`_reference_data_frozen`).
    """
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        yield iter(())
        return
    head = (normalise_chunk(normaliser, first[0], debtors), first[1])
    with _reference_data_frozen():
        if workers <= 0 or not _can_fork():
            rest = ((normalise_chunk(normaliser, chunk, debtors), issues) for chunk, issues in chunks)
            yield itertools.chain([head], rest)
            return
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_started
        )
        # Fork the workers now, before the caller starts threads (the progress bar's) that could hold
        # a lock at the moment of the fork.
        pool.submit(int).result()
        try:
            yield itertools.chain([head], _pipelined(pool, chunks, normaliser, debtors, depth=workers + 1))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _reference_data_frozen() -> Iterator[None]:
    """Keep the collector off what is loaded by now (phone metadata, name tables: a million objects).

    Each full collection would walk all of it again (measured: validation 65 → 56 µs a row once
    frozen), and in a forked worker it would write to every page of it, unsharing them. gc.freeze()
    before fork is what the gc documentation prescribes for both; unfrozen when the file is done.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _worker_started() -> None:
    """A worker collects its youngest generation every 10,000 net allocations instead of 700.

    Validating a row allocates dozens of short-lived containers and no cycles to speak of: the
    collections that default triggers free nothing and cost the worker ~7% of its time. Cycles, if
    any, are still collected.
    """
    gc.set_threshold(10_000, 10, 10)


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
) -> Iterator[tuple[ChunkOutcome, list[Issue]]]:
    in_flight: deque[tuple[int, Future[_Transfer], list[Issue]]] = deque()
    for chunk, issues in chunks:
        # The normaliser travels with each chunk: JSON lines may have grown its header map since.
        in_flight.append(
            (len(chunk), pool.submit(_normalise_for_transfer, normaliser, chunk, debtors), issues)
        )
        if len(in_flight) >= depth:
            size, future, chunk_issues = in_flight.popleft()
            yield _received(size, future.result()), chunk_issues
    while in_flight:
        size, future, chunk_issues = in_flight.popleft()
        yield _received(size, future.result()), chunk_issues
