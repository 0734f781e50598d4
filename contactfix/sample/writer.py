"""Write the sample files: bank.csv, court.csv, truth.csv, persons.csv, phones.csv and settings.json.

bank.csv
    A bank's batch of lost debtors: ``id,name,id_number,birth_date,gender,phone,address,
    contract_number,amount,product``, then ``lost_on`` (the date the bank lost contact, ISO, blank
    on some rows) when :attr:`SampleSettings.lost_on` is above 0. ``phone`` is the number the bank
    lost the debtor on. Chinese headers with ``headers="zh"`` (``lost_on``: 失联日期).
court.csv
    A court's party export, ordered by filing date: ``id,case_number,role,filed_on,name,id_number,
    birth_date,gender,phone,address``. Phones are written as exports write them (styled, full-width).
truth.csv (UTF-8)
    One row per bank and court row: ``source,id,person_id,phone_status,live_phones``.
    ``phone_status`` is what the row's written phone is to its person: ``current``, ``bank_lost``,
    ``stale``, ``landline``, ``relative``, ``employer``, ``shared`` (a switchboard or lawyer's number
    many records carry), ``malformed`` (a bank typo), or blank (no phone). ``live_phones`` (bank rows,
    i.e. per debtor; blank on court rows) lists the debtor's live mobiles in E.164, ``;``-separated,
    the main one first.
persons.csv (UTF-8)
    ``person_id,current_phone,live_phones``: every person's main current mobile and all live
    mobiles, E.164 (``+8613812345678``), ``;``-separated.
phones.csv (UTF-8)
    ``person_id,phone,status,since,until``: every number that is or was the person's or that filings
    give for them, E.164, with its status as in truth.csv (``current``, ``bank_lost``, ``stale``,
    ``landline``, ``relative``, ``employer``) and, for their own mobiles, the days it was in use
    (ISO; ``until`` blank while live). A (person, number) pair missing here is ``shared``: not theirs.
settings.json (UTF-8)
    The knobs the files were made with (:class:`SampleSettings`) and the name of the profile they
    equal (``custom`` if none).

Rows stream to disk. Court rows go first to one spill file per filing month, then each month is
sorted and appended to court.csv, so the export is ordered by date as courts list it, without
holding a million rows in memory and without rows of one person sitting side by side.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from contactfix.sample.people import Person
from contactfix.sample.records import (
    BANK_FIELDS,
    COURT_FIELDS,
    LOST_ON_FIELD,
    generate_records,
)
from contactfix.sample.settings import REALISTIC, SampleSettings, profile_name

HeaderStyle = Literal["en", "zh"]
Encoding = Literal["utf-8", "utf-8-sig", "gb18030"]
ENCODINGS: tuple[Encoding, ...] = ("utf-8", "utf-8-sig", "gb18030")
# Phone numbers are unique per slot (16 per debtor: 4 main and 4 extra for each of 2N persons) and
# 10**8 slots less the shared numbers' run out beyond this.
MAX_DEBTORS = 6_000_000

# Chinese headers as core-banking and court systems export them.
ZH_HEADERS: dict[str, dict[str, str]] = {
    "bank": {
        "id": "客户号", "name": "姓名", "id_number": "身份证号", "birth_date": "出生日期", "gender": "性别",
        "phone": "手机号", "address": "地址", "contract_number": "合同编号", "amount": "欠款金额",
        "product": "产品", "lost_on": "失联日期",
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


def header(kind: Literal["bank", "court"], style: HeaderStyle, *, lost_on: bool = False) -> list[str]:
    """The header row of bank.csv (with ``lost_on`` if asked) or court.csv, English or Chinese."""
    fields = (*BANK_FIELDS, *([LOST_ON_FIELD] if lost_on else [])) if kind == "bank" else COURT_FIELDS
    return list(fields) if style == "en" else [ZH_HEADERS[kind][f] for f in fields]


def write_sample(
    out_dir: Path,
    debtors: int,
    seed: int = 0,
    headers: HeaderStyle = "en",
    encoding: Encoding = "utf-8",
    settings: SampleSettings = REALISTIC,
) -> SampleSummary:
    """Generate the world for ``seed`` under ``settings`` and write its files to ``out_dir`` (created).

    bank.csv and court.csv use ``headers`` and ``encoding``; the truth files (module docstring) are
    UTF-8. The same arguments always give byte-identical files.
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
        _open(out_dir / "phones.csv", "utf-8") as phones_file,
    ):
        bank, truth, persons = csv.writer(bank_file), csv.writer(truth_file), csv.writer(persons_file)
        phones = csv.writer(phones_file)
        bank.writerow(header("bank", headers, lost_on=bool(settings.lost_on)))
        truth.writerow(["source", "id", "person_id", "phone_status", "live_phones"])
        persons.writerow(["person_id", "current_phone", "live_phones"])
        phones.writerow(["person_id", "phone", "status", "since", "until"])
        spill = _MonthSpill(Path(spill_dir))
        bank_rows = people = 0
        try:
            for records in generate_records(debtors, seed, settings):
                person = records.person
                people += 1
                live = ";".join("+86" + number for number in person.live_phones)
                persons.writerow([person.person_id, "+86" + person.current_phone, live])
                phones.writerows(_phone_rows(person, records.bank.lost_phone if records.bank else ""))
                if records.bank is not None:
                    bank.writerow(records.bank.values)
                    truth.writerow(
                        ["bank", records.bank.values[0], person.person_id, records.bank.phone_status, live]
                    )
                    bank_rows += 1
                for row in records.court:
                    spill.add(row.sort_key, row.person.person_id, row.phone_status, row.values)
        finally:
            spill.close()
        with _open(out_dir / "court.csv", encoding) as court_file:
            court = csv.writer(court_file)
            court.writerow(header("court", headers))
            court_rows = spill.drain(court, truth)
    settings_text = json.dumps(
        {"profile": profile_name(settings), **settings.as_dict()}, ensure_ascii=False, indent=2
    )
    (out_dir / "settings.json").write_text(settings_text + "\n", encoding="utf-8")
    return SampleSummary(out_dir, bank_rows, court_rows, people, time.perf_counter() - started)


def _phone_rows(person: Person, lost: str) -> list[tuple[str, ...]]:
    """phones.csv rows of ``person``: their mobiles oldest first, second mobile, landline, third parties."""
    pid, rows, phones = person.person_id, list[tuple[str, ...]](), person.phones
    for k in range(len(phones) - 1):
        (since, number), following = phones[k], phones[k + 1][0]
        # A former mobile: the bank's lost number if it is the one in the batch.
        status = "bank_lost" if number == lost else "stale"
        rows.append((pid, "+86" + number, status, _iso(since), _iso(following - 1)))
    rows.append((pid, "+86" + phones[-1][1], "current", _iso(phones[-1][0]), ""))
    if person.second_phone is not None:
        rows.append((pid, "+86" + person.second_phone[1], "current", _iso(person.second_phone[0]), ""))
    rows.append((pid, "+86" + person.landline, "landline", "", ""))
    if person.relative:
        rows.append((pid, "+86" + person.relative, "relative", "", ""))
    if person.employer:
        rows.append((pid, "+86" + person.employer, "employer", "", ""))
    return rows


def _iso(day: int) -> str:
    return date.fromordinal(day).isoformat()


def _open(path: Path, encoding: str) -> IO[str]:
    # newline="" lets csv write its own CRLF line ends, as exports from Windows systems carry.
    return path.open("w", encoding=encoding, newline="")


class _MonthSpill:
    """Court rows spilled to one UTF-8 file per filing month, read back one month at a time."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._files: dict[str, IO[str]] = {}
        self._writers: dict[str, _RowWriter] = {}

    def add(self, sort_key: str, person_id: str, status: str, values: tuple[str, ...]) -> None:
        """Keep one court row until :meth:`drain`."""
        month = sort_key[:7]
        writer = self._writers.get(month)
        if writer is None:
            handle = (self._folder / f"{month}.csv").open("w", encoding="utf-8", newline="")
            self._files[month] = handle
            writer = self._writers[month] = csv.writer(handle)
        writer.writerow((sort_key, person_id, status, *values))

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
            for _key, person_id, status, *values in rows:
                count += 1
                row_id = f"C{count:08d}"
                court.writerow((row_id, *values))
                truth.writerow(("court", row_id, person_id, status, ""))
        return count
