"""A reconciliation interrupted half-way — an error, or the process killed — is finished by the next
run with exactly the result of an uninterrupted run, and never leaves duplicate identities."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from reconcile_support import (
    Snapshot,
    World,
    load_world,
    partition,
    record_count,
    runs,
    snapshot,
    world,  # noqa: F401  (the fixture)
)

from contactfix.db import throwaway_database
from contactfix.db.identity_models import ReconcileRun
from contactfix.intake import import_court_export
from contactfix.pipeline.lock import ReconcileLocked
from contactfix.pipeline.reconcile import ReconcileReport, reconcile
from contactfix.pipeline.runs import ABANDONED


class Interrupted(Exception):
    """Raised from inside a run to stop it at a known step."""


@pytest.fixture
def twin_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second empty database of the same kind, for the uninterrupted run to compare with."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'twin.sqlite3'}"
        return
    server = str(request.getfixturevalue("postgres_server"))
    with throwaway_database(server, "contactfix_twin") as url:
        yield url


def _stop_at(step: str):  # type: ignore[no-untyped-def]
    def checkpoint(reached: str) -> None:
        if reached == step:
            raise Interrupted(f"stopped after {step}")

    return checkpoint


def _after_first_run(url: str, sample: World) -> tuple[sa.Engine, int]:
    """The older court records reconciled, then the newer ones taken in (how many: the second value)."""
    engine = load_world(url, sample)
    reconcile(engine, repair=False)
    before = record_count(engine)
    import_court_export(engine, sample.court_new)
    return engine, record_count(engine) - before


def _uninterrupted(url: str, sample: World) -> Snapshot:
    engine, _ = _after_first_run(url, sample)
    reconcile(engine, repair=False)
    return snapshot(engine)


def _check_same_and_no_duplicates(engine: sa.Engine, expected: Snapshot) -> None:
    got = snapshot(engine)
    assert got == expected
    # Every record in one identity, every identity with a record: nothing doubled, nothing left over.
    assert len(got.memberships) == record_count(engine)
    assert got.identities == len(set(got.memberships.values())) == len(partition(engine))


@pytest.mark.parametrize("step", ["keys", "links", "identities"])
def test_a_run_that_fails_half_way_is_finished_by_the_next(
    db_url: str,
    twin_url: str,
    world: World,  # noqa: F811
    step: str,
) -> None:
    expected = _uninterrupted(twin_url, world)
    engine, added = _after_first_run(db_url, world)
    with pytest.raises(Interrupted):
        reconcile(engine, repair=False, checkpoint=_stop_at(step))
    failed_id, status, full = runs(engine)[-1]
    assert (status, full) == ("failed", False)
    with engine.connect() as connection:
        error = connection.execute(
            sa.select(ReconcileRun.error).where(ReconcileRun.id == failed_id)
        ).scalar_one()
    assert error == f"Interrupted: stopped after {step}"

    report = reconcile(engine, repair=False)

    assert not report.full
    assert report.counts["records_compared"] == added  # the new records again, not everything
    _check_same_and_no_duplicates(engine, expected)


def test_a_full_run_that_fails_is_redone_in_full(db_url: str, twin_url: str, world: World) -> None:  # noqa: F811
    twin = load_world(twin_url, world)
    reconcile(twin, repair=False)
    expected = snapshot(twin)
    engine = load_world(db_url, world)
    with pytest.raises(Interrupted):
        reconcile(engine, repair=False, checkpoint=_stop_at("links"))

    report = reconcile(engine, repair=False)

    assert report.full and report.reason == "redoing a full run that did not finish"
    _check_same_and_no_duplicates(engine, expected)


_KILL_AFTER_LINKS = textwrap.dedent(
    """
    import os, signal, sys
    from contactfix.db import throwaway_database, make_engine
    from contactfix.pipeline.reconcile import reconcile

    def kill(step):
        if step == "links":
            os.kill(os.getpid(), signal.SIGKILL)

    reconcile(make_engine(sys.argv[1]), repair=False, checkpoint=kill)
    """
)


def _reconcile_once_the_lock_is_free(engine: sa.Engine) -> ReconcileReport:
    # The server notices a killed client's connection (and frees its lock) within moments.
    deadline = time.monotonic() + 10
    while True:
        try:
            return reconcile(engine, repair=False)
        except ReconcileLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_killed_run_is_marked_failed_and_finished_by_the_next(
    db_url: str,
    twin_url: str,
    world: World,  # noqa: F811
) -> None:
    expected = _uninterrupted(twin_url, world)
    engine, added = _after_first_run(db_url, world)
    killed = subprocess.run([sys.executable, "-c", _KILL_AFTER_LINKS, db_url], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    killed_id, status, _ = runs(engine)[-1]
    assert status == "running"  # nobody was left to say otherwise

    report = _reconcile_once_the_lock_is_free(engine)

    assert report.counts["abandoned_runs"] == 1
    assert report.counts["records_compared"] == added
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(ReconcileRun.status, ReconcileRun.error).where(ReconcileRun.id == killed_id)
        ).one()
    assert tuple(row) == ("failed", ABANDONED)
    _check_same_and_no_duplicates(engine, expected)
