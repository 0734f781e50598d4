"""The files ``contactfix sample`` writes: byte-identical for a seed, encodings, headers, truth."""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Literal

import pytest

from contactfix.sample import COURT_FIELDS, header, write_sample

DEBTORS = 300
FILES = ("bank.csv", "court.csv", "truth.csv", "persons.csv", "phones.csv", "settings.json")
CONTACTFIX = Path(sys.executable).with_name("contactfix")


def _digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


def _rows(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    write_sample(folder, DEBTORS, seed=5)
    return folder


def test_same_seed_same_bytes_other_seed_other_data(sample_dir: Path, tmp_path: Path) -> None:
    again = write_sample(tmp_path / "again", DEBTORS, seed=5)
    assert _digests(tmp_path / "again") == _digests(sample_dir)
    assert again.bank_rows == DEBTORS and again.persons == 2 * DEBTORS
    write_sample(tmp_path / "other", DEBTORS, seed=6)
    other = _digests(tmp_path / "other")
    assert other["bank.csv"] != _digests(sample_dir)["bank.csv"]
    assert other["court.csv"] != _digests(sample_dir)["court.csv"]
    assert not list((tmp_path / "again").glob(".court-spill-*"))  # the spill folder is cleaned up


def test_truth_covers_every_row_once(sample_dir: Path) -> None:
    bank, court = _rows(sample_dir / "bank.csv"), _rows(sample_dir / "court.csv")
    truth, persons = _rows(sample_dir / "truth.csv"), _rows(sample_dir / "persons.csv")
    assert bank[0] == header("bank", "en", lost_on=True) and court[0] == list(COURT_FIELDS)
    assert truth[0] == ["source", "id", "person_id", "phone_status", "live_phones"]
    assert persons[0] == ["person_id", "current_phone", "live_phones"]
    keys = [(source, row_id) for source, row_id, *_ in truth[1:]]
    assert len(set(keys)) == len(keys)
    assert {k for k in keys if k[0] == "bank"} == {("bank", row[0]) for row in bank[1:]}
    assert {k for k in keys if k[0] == "court"} == {("court", row[0]) for row in court[1:]}
    known = {person_id for person_id, *_ in persons[1:]}
    assert {person_id for _, _, person_id, *_ in truth[1:]} == known
    assert all(re.fullmatch(r"\+861\d{10}", phone) for _, phone, _ in persons[1:])
    assert all(live.split(";")[0] == phone for _, phone, live in persons[1:])
    # The court export is ordered by filing date.
    filed = [row[3] for row in court[1:]]
    assert filed == sorted(filed)


def test_rows_of_one_person_share_the_identity(sample_dir: Path) -> None:
    truth = {(source, row_id): person for source, row_id, person, *_ in _rows(sample_dir / "truth.csv")[1:]}
    ids_of: dict[str, set[str]] = defaultdict(set)
    for source, name, column in (("bank", "bank.csv", 2), ("court", "court.csv", 5)):
        for row in _rows(sample_dir / name)[1:]:
            value = row[column]
            if len(value) == 18 and "*" not in value and (source == "court" or _valid(value)):
                ids_of[truth[(source, row[0])]].add(value)
    assert all(len(ids) == 1 for ids in ids_of.values())  # one person, one full ID in every file
    owners: dict[str, str] = {}
    for person, ids in ids_of.items():
        for value in ids:
            assert owners.setdefault(value, person) == person  # two people never share an ID


def _valid(value: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    if not value[:17].isdigit():
        return True  # a unified social credit code; its check is tested elsewhere
    return "10X98765432"[sum(int(c) * w for c, w in zip(value, weights, strict=False)) % 11] == value[17]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_encodings_and_chinese_headers_round_trip(sample_dir: Path, tmp_path: Path, encoding: str) -> None:
    write_sample(tmp_path, DEBTORS, seed=5, headers="zh", encoding=encoding)  # type: ignore[arg-type]
    raw = (tmp_path / "court.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    for kind in ("bank", "court"):
        zh = _rows(tmp_path / f"{kind}.csv", encoding)
        en = _rows(sample_dir / f"{kind}.csv")
        # The same data, whatever the encoding.
        assert zh[0] == header(kind, "zh", lost_on=kind == "bank") and zh[1:] == en[1:]
    assert _digests(tmp_path)["truth.csv"] == _digests(sample_dir)["truth.csv"]


@pytest.mark.parametrize("kind", ["bank", "court"])
def test_headers_are_ones_intake_accepts(kind: Literal["bank", "court"]) -> None:
    from contactfix.intake import headers

    english = header(kind, "en")
    chinese = header(kind, "zh")
    for en, zh in zip(english, chinese, strict=True):
        expected = "reference" if en == "id" else en
        assert headers.canonical_field(en, kind) == expected
        assert headers.canonical_field(zh, kind) == expected, zh


def test_cli_writes_the_same_files(sample_dir: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CONTACTFIX), "sample", "--debtors", str(DEBTORS), "--out", str(tmp_path), "--seed", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _digests(tmp_path) == _digests(sample_dir)
    assert "court.csv" in result.stdout and "rows/s" in result.stdout
    assert not re.search(r"\d{11}", result.stdout)  # no ID or phone number in the output


def test_cli_rejects_bad_arguments(tmp_path: Path) -> None:
    for args in (
        ["--debtors", "0"],
        ["--debtors", "5", "--encoding", "latin-1"],
        ["--debtors", "5", "--headers", "fr"],
    ):
        result = subprocess.run(
            [str(CONTACTFIX), "sample", *args, "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2, args
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_full_benchmark_size_is_fast(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, 250_000, seed=1)
    assert summary.court_rows > 900_000
    assert summary.seconds < 120, f"{summary.rows_per_second:,.0f} rows/s"
