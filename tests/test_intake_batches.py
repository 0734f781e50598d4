"""How batches travel: validated in a worker, written while the next is read, issues kept in row order."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from intake_support import bad_check, resident_id, write_csv

from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.errors import IntakeError
from contactfix.intake import store
from contactfix.intake.service import submit_bank_batch

HEADER = ["客户号", "姓名", "身份证号", "手机号", "住址", "欠款金额(元)"]


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _rows(count: int) -> list[list[object]]:
    return [[f"R{i:04d}", f"客户{i}", resident_id(), f"1380013{i:04d}", "", str(i)] for i in range(count)]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_duplicate_warning_follows_the_other_issues_of_its_row(
    engine: sa.Engine, tmp_path: Path, workers: int
) -> None:
    rows: list[list[object]] = [
        ["B1", "张三", resident_id(), "", "", "1"],
        ["B2", "李四", bad_check(resident_id()), "13800138001", "", "x"],  # two warnings
        ["B1", "张三", bad_check(resident_id()), "13800138000", "", "y"],  # two warnings, then the duplicate
        ["B3", "王五", "", "12", "", ""],  # a bad phone and no identifier left: rejected
    ]
    path = write_csv(tmp_path / "batch.csv", [HEADER, *rows])
    receipt = submit_bank_batch(engine, path, "bank", workers=workers)
    assert [(i.row, i.field) for i in receipt.warnings] == [
        (3, "id_number"),
        (3, "amount"),
        (4, "id_number"),
        (4, "amount"),
        (4, "reference"),
        (5, "phone"),
        (5, "name"),
    ]
    with engine.connect() as connection:
        stored = connection.execute(sa.text('SELECT "row", field FROM submission_issues ORDER BY id')).all()
    assert [tuple(r) for r in stored] == [(i.row, i.field) for i in receipt.warnings]


def test_batches_are_written_on_a_thread_of_their_own_on_postgresql(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_database(postgres_url)
    engine = make_engine(postgres_url)
    threads: list[str] = []
    real_write = store.RecordWriter.write

    def write(self: store.RecordWriter, *args: Any, **kwargs: Any) -> None:
        threads.append(threading.current_thread().name)
        real_write(self, *args, **kwargs)

    monkeypatch.setattr(store.RecordWriter, "write", write)
    receipt = submit_bank_batch(
        engine, write_csv(tmp_path / "b.csv", [HEADER, *_rows(9)]), "bank", batch_size=4
    )
    assert receipt.accepted == 9 and len(threads) == 3
    assert all(name.startswith("intake-writer") for name in threads)
    assert threading.active_count() == 1  # the writer thread is gone with the file
    engine.dispose()


def test_an_error_while_a_batch_is_in_flight_lets_it_finish_first(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller's error is the one raised, and the connection is idle when the submission is failed."""
    real_write = store.RecordWriter.write

    def write(self: store.RecordWriter, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.2)  # still writing when the reader reaches the broken line
        real_write(self, *args, **kwargs)

    monkeypatch.setattr(store.RecordWriter, "write", write)
    path = write_csv(tmp_path / "b.csv", [HEADER, *_rows(4)])
    path.write_text(path.read_text(encoding="utf-8") + 'R9,"客户9,,13800130009,,\n', encoding="utf-8")
    with pytest.raises(IntakeError, match="unbalanced quote"):
        submit_bank_batch(engine, path, "bank", batch_size=4)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT status, rows FROM submissions")).all() == [("failed", 4)]
        assert connection.execute(sa.text("SELECT count(*) FROM debtors")).scalar_one() == 4


def test_reference_data_is_frozen_only_while_a_file_is_taken_in(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_during: list[int] = []
    real_write = store.RecordWriter.write

    def write(self: store.RecordWriter, *args: Any, **kwargs: Any) -> None:
        frozen_during.append(gc.get_freeze_count())
        real_write(self, *args, **kwargs)

    monkeypatch.setattr(store.RecordWriter, "write", write)
    submit_bank_batch(engine, write_csv(tmp_path / "b.csv", [HEADER, *_rows(3)]), "bank")
    assert frozen_during and all(count > 0 for count in frozen_during)
    assert gc.get_freeze_count() == 0
