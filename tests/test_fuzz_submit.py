"""Fuzzing a whole ``submit`` (hypothesis): random rows among valid ones, in every format intake reads.

Whatever the junk rows hold, a submission raises nothing, counts every non-blank row, keeps every
valid row (a reference, a name, and a valid phone or resident ID; its other cells may be junk), and
its receipt shows no ID or phone number unmasked. On SQLite, one database for all examples.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intake_support import UNMASKED

from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.intake.service import submit_bank_batch
from matchers.identifiers import id_check_digit

HEADER = ["客户号", "姓名", "身份证号", "手机号", "住址", "出生日期", "性别", "欠款金额(元)", "失联日期"]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "欧阳明", "司马懿", "黄晓明"]
_COUNTER = itertools.count()
# Junk: anything printable, plus the shapes that once crashed intake.
junk_cell = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="=\ufeff\ufffe\uffff"),
        max_size=25,
    ),
    st.sampled_from(
        ["1e1000000", "-1e1000000", "sNaN", "9" * 60, "0000-00-00", "2999-12-31", "１２３", '"', "\n"]
    ),
    st.from_regex(r"1[3-9][0-9]{9}|[0-9]{17}[0-9X]", fullmatch=True),
)


@dataclass(frozen=True)
class Valid:
    """A row that must be kept: its reference, name and a valid phone or ID; the rest junk."""

    name: str
    phone: str | None
    id_number: str | None
    junk: tuple[str, ...]


valid_row = st.builds(
    Valid,
    name=st.sampled_from(NAMES),
    phone=st.one_of(st.none(), st.from_regex(r"1(3[0-9]|5[0-35-9]|8[0-9])[0-9]{8}", fullmatch=True)),
    id_number=st.one_of(
        st.none(),
        st.builds(
            lambda county, birth, sequence: (lambda first: first + id_check_digit(first))(
                f"{county}{birth:%Y%m%d}{sequence:03d}"
            ),
            st.sampled_from(["110101", "350103", "440106"]),
            st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2005, 1, 1)),
            st.integers(0, 999),
        ),
    ),
    junk=st.tuples(junk_cell, junk_cell, junk_cell, junk_cell, junk_cell),
).filter(lambda row: row.phone is not None or row.id_number is not None)
junk_row = st.lists(junk_cell, min_size=len(HEADER), max_size=len(HEADER)).filter(
    lambda cells: not cells[0].strip().startswith("V")
)


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    with tempfile.TemporaryDirectory(prefix="fuzz-submit-") as folder:
        url = f"sqlite:///{folder}/contactfix.sqlite3"
        upgrade_database(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


def _cells(index: int, row: Valid) -> list[str]:
    address, birth, gender, amount, lost_on = row.junk
    return [
        f"V{index}",
        row.name,
        row.id_number or "",
        row.phone or "",
        address,
        birth,
        gender,
        amount,
        lost_on,
    ]


def _write(folder: Path, rows: list[list[str]], form: str) -> Path:
    if form == "xlsx":
        import openpyxl

        workbook = openpyxl.Workbook()
        sheet = workbook.active
        assert sheet is not None
        for row in [HEADER, *rows]:
            sheet.append([cell or None for cell in row])
        workbook.save(folder / "batch.xlsx")
        return folder / "batch.xlsx"
    if form == "jsonl":
        text = "".join(
            json.dumps(dict(zip(HEADER, row, strict=True)), ensure_ascii=False) + "\n" for row in rows
        )
        (folder / "batch.jsonl").write_text(text, encoding="utf-8")
        return folder / "batch.jsonl"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER, *rows])
    (folder / "batch.csv").write_bytes(buffer.getvalue().encode(form))
    return folder / "batch.csv"


def _blank(row: list[str], form: str) -> bool:
    if form == "xlsx":  # a sheet drops what XML cannot hold and reads \r as \n
        return not any(cell.replace("\r", "").strip() for cell in row)
    return not any(cell.strip() for cell in row)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid=st.lists(valid_row, min_size=1, max_size=6),
    junk=st.lists(junk_row, max_size=6),
    order=st.randoms(use_true_random=False),
    form=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "xlsx", "jsonl"]),
)
def test_a_submission_keeps_every_valid_row_whatever_surrounds_it(
    engine: sa.Engine, valid: list[Valid], junk: list[list[str]], order: random.Random, form: str
) -> None:
    rows = [_cells(index, row) for index, row in enumerate(valid)] + junk
    order.shuffle(rows)
    org = f"fuzz-{next(_COUNTER)}"
    with tempfile.TemporaryDirectory(prefix="fuzz-submit-") as folder:
        receipt = submit_bank_batch(engine, _write(Path(folder), rows, form), org, workers=0)
    assert receipt.rows == sum(not _blank(row, form) for row in rows)
    assert receipt.accepted + receipt.rejected == receipt.rows
    with engine.connect() as connection:
        kept = set(
            connection.execute(
                sa.text(
                    "SELECT d.reference FROM debtors d JOIN organizations o ON o.id = d.organization_id "
                    "WHERE o.name = :org"
                ),
                {"org": org},
            ).scalars()
        )
    assert {f"V{index}" for index in range(len(valid))} <= kept
    assert not UNMASKED.search(receipt.to_json())
