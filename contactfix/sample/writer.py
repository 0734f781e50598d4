"""Write the sample files: bank.csv, court.csv, truth.csv and persons.csv.

Rows stream to disk. Court rows go first to one spill file per filing month, then each month is
sorted and appended to court.csv, so the export is ordered by date as courts list it, without
holding a million rows in memory and without rows of one person sitting side by side.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from contactfix.sample.records import BANK_FIELDS, COURT_FIELDS, generate_records

HeaderStyle = Literal["en", "zh"]
Encoding = Literal["utf-8", "utf-8-sig", "gb18030"]
ENCODINGS: tuple[Encoding, ...] = ("utf-8", "utf-8-sig", "gb18030")
MAX_DEBTORS = 10_000_000  # phone numbers are unique per slot; slots run out beyond this

# Chinese headers as core-banking and court systems export them.
ZH_HEADERS: dict[str, dict[str, str]] = {
    "bank": {
        "id": "客户号", "name": "姓名", "id_number": "身份证号", "birth_date": "出生日期", "gender": "性别",
        "phone": "手机号", "address": "地址", "contract_number": "合同编号", "amount": "欠款金额",
        "product": "产品",
    },
    "court": {
        "id": "编号", "case_number": "案号", "role": "诉讼地位", "filed_on": "立案日期", "name": "当事人",
        "id_number": "证件号码", "birth_date": "出生日期", "gender": "性别", "phone": "联系电话",
        "address": "住址",
    },
}  # fmt: skip


class _RowWriter(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


@dataclass(frozen=True, slots=True)
class SampleSummary:
    """What :func:`write_sample` wrote: where, how many rows of each kind, and how long it took."""

    out_dir: Path
    bank_rows: int
    court_rows: int
    persons: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        """Bank and court rows written per second of wall time."""
        return (self.bank_rows + self.court_rows) / self.seconds if self.seconds > 0 else 0.0


def header(kind: Literal["bank", "court"], style: HeaderStyle) -> list[str]:
    """The header row of bank.csv or court.csv in the English canonical or the Chinese style."""
    fields = BANK_FIELDS if kind == "bank" else COURT_FIELDS
    return list(fields) if style == "en" else [ZH_HEADERS[kind][f] for f in fields]


def write_sample(
    out_dir: Path, debtors: int, seed: int = 0, headers: HeaderStyle = "en", encoding: Encoding = "utf-8"
) -> SampleSummary:
    """Generate the world for ``seed`` and write its files to ``out_dir`` (created if missing).

    bank.csv and court.csv use ``headers`` and ``encoding``; truth.csv (``source,id,person_id``)
    and persons.csv (``person_id,current_phone`` in E.164) are UTF-8. The same arguments always
    give byte-identical files.
    """
    if not 1 <= debtors <= MAX_DEBTORS:
        raise ValueError(f"debtors must be between 1 and {MAX_DEBTORS:,}, not {debtors}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(dir=out_dir, prefix=".court-spill-") as spill_dir,
        _open(out_dir / "bank.csv", encoding) as bank_file,
        _open(out_dir / "truth.csv", "utf-8") as truth_file,
        _open(out_dir / "persons.csv", "utf-8") as persons_file,
    ):
        bank, truth, persons = csv.writer(bank_file), csv.writer(truth_file), csv.writer(persons_file)
        bank.writerow(header("bank", headers))
        truth.writerow(["source", "id", "person_id"])
        persons.writerow(["person_id", "current_phone"])
        spill = _MonthSpill(Path(spill_dir))
        bank_rows = people = 0
        try:
            for records in generate_records(debtors, seed):
                person = records.person
                people += 1
                persons.writerow([person.person_id, "+86" + person.current_phone])
                if records.bank is not None:
                    bank.writerow(records.bank.values)
                    truth.writerow(["bank", records.bank.values[0], person.person_id])
                    bank_rows += 1
                for row in records.court:
                    spill.add(row.sort_key, row.person.person_id, row.values)
        finally:
            spill.close()
        with _open(out_dir / "court.csv", encoding) as court_file:
            court = csv.writer(court_file)
            court.writerow(header("court", headers))
            court_rows = spill.drain(court, truth)
    return SampleSummary(out_dir, bank_rows, court_rows, people, time.perf_counter() - started)


def _open(path: Path, encoding: str) -> IO[str]:
    # newline="" lets csv write its own CRLF line ends, as exports from Windows systems carry.
    return path.open("w", encoding=encoding, newline="")


class _MonthSpill:
    """Court rows spilled to one UTF-8 file per filing month, read back one month at a time."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._files: dict[str, IO[str]] = {}
        self._writers: dict[str, _RowWriter] = {}

    def add(self, sort_key: str, person_id: str, values: tuple[str, ...]) -> None:
        """Keep one court row until :meth:`drain`."""
        month = sort_key[:7]
        writer = self._writers.get(month)
        if writer is None:
            handle = (self._folder / f"{month}.csv").open("w", encoding="utf-8", newline="")
            self._files[month] = handle
            writer = self._writers[month] = csv.writer(handle)
        writer.writerow((sort_key, person_id, *values))

    def close(self) -> None:
        """Close every spill file (safe to call twice)."""
        for handle in self._files.values():
            handle.close()

    def drain(self, court: _RowWriter, truth: _RowWriter) -> int:
        """Write every row to court.csv in date order, numbering them, with their truth; the count."""
        count = 0
        for month in sorted(self._files):
            with (self._folder / f"{month}.csv").open(encoding="utf-8", newline="") as handle:
                rows = sorted(csv.reader(handle))
            for sort_key_and_person in rows:
                count += 1
                row_id = f"C{count:08d}"
                court.writerow((row_id, *sort_key_and_person[2:]))
                truth.writerow(("court", row_id, sort_key_and_person[1]))
        return count
