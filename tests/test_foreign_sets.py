"""The foreign bank-vs-court sets: they load through intake, repeat for a seed, and their answers hold.

Rejections expected by design: a court row with neither an ID (blank ID, ``p_blank_id``) nor a phone
(``p_no_phone``) is "a name without an ID number, phone or birth date" — a few per thousand rows.
Warnings expected: the columns contactfix does not read (序号, 案由, 承办法院, 工作单位, 失联日期,
紧急联系人, 紧急联系人电话, 备注) and, in ``two_numbers``, a mistyped number that is no longer valid.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import sqlalchemy as sa

from bench.foreign_eval import diagnose_unrepaired, newest_filing_current, precision_by_confidence, score
from bench.foreign_sets import PHONE_HEADERS, PROFILES, ROLES, generate, phone_tokens
from bench.foreign_world import AS_OF
from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.intake.headers import canonical_field
from contactfix.intake.service import import_court_export, submit_bank_batch
from matchers.identifiers import id_check_digit

DEBTORS = 200
SEED = 3
SETS = sorted(PROFILES)
_REFERENCE_HEADERS = {"客户编号", "客户号", "reference"}
_EXPECTED_WARNINGS = {"unknown column, ignored", "invalid phone"}
_UNREAD_COLUMNS = {"序号", "案由", "承办法院", "工作单位", "失联日期", "紧急联系人", "紧急联系人电话", "备注"}


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("foreign")
    for name in SETS:
        generate(root / name, name, DEBTORS, SEED)
    return {name: root / name for name in SETS}


def _rows(path: Path, encoding: str) -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[1:] if len(rows[0]) == 1 else rows  # a title line above the header


def _dicts(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _answers(folder: Path) -> dict[str, dict[str, dict[str, str]]]:
    found: dict[str, dict[str, dict[str, str]]] = {}
    for row in _dicts(folder / "answers.csv"):
        found.setdefault(row["reference"], {})[row["phone"]] = row
    return found


def _numbers_by_row(rows: list[list[str]]) -> Iterator[tuple[list[str], list[str]]]:
    header, data = rows[0], rows[1:]
    phone_columns = [at for at, name in enumerate(header) if name in PHONE_HEADERS]
    for row in data:
        yield row, [number for at in phone_columns for number in phone_tokens(row[at])]


def test_the_same_seed_writes_the_same_files_and_another_seed_others(
    sets: dict[str, Path], tmp_path: Path
) -> None:
    generate(tmp_path / "again", "two_numbers", DEBTORS, SEED)
    generate(tmp_path / "other", "two_numbers", DEBTORS, SEED + 1)
    for name in ("bank.csv", "court.csv", "answers.csv", "court_rows.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (sets["two_numbers"] / name).read_bytes(), name
        assert (tmp_path / "other" / name).read_bytes() != (sets["two_numbers"] / name).read_bytes(), name


@pytest.mark.parametrize("name", SETS)
def test_every_debtor_has_a_current_number_and_the_bank_none(sets: dict[str, Path], name: str) -> None:
    folder = sets[name]
    answers = _answers(folder)
    assert len(answers) == DEBTORS
    for reference, numbers in answers.items():
        roles = [a["role"] for a in numbers.values()]
        assert set(roles) <= set(ROLES), reference
        assert "current" in roles, reference
        assert roles.count("bank_lost") == 1, reference
        for phone, a in numbers.items():
            assert (a["current"] == "1") == (a["role"] == "current"), (reference, phone)
            assert not (a["in_bank"] == "1" and a["current"] == "1"), (
                f"{reference}: the bank lists a live number"
            )
            if a["role"] == "bank_lost":
                assert a["in_bank"] == "1" and a["until"], reference
            if a["role"] in ("current", "old", "bank_lost"):  # the person's own: a holding with dates
                assert a["since"] and a["since"] <= AS_OF.isoformat(), reference  # ISO dates sort as text
            if a["role"] == "current":
                assert not a["until"], reference
    summary = json.loads((folder / "set.json").read_text(encoding="utf-8"))
    assert summary["debtors"] == DEBTORS
    assert 0 < summary["debtors_with_current_in_court"] < DEBTORS


@pytest.mark.parametrize("name", SETS)
def test_answers_cover_every_number_written_in_the_files(sets: dict[str, Path], name: str) -> None:
    folder, encoding = sets[name], PROFILES[name].encoding
    answers = _answers(folder)
    bank = _rows(folder / "bank.csv", encoding)
    reference_at = next(at for at, h in enumerate(bank[0]) if h in _REFERENCE_HEADERS)
    for row, numbers in _numbers_by_row(bank):
        assert numbers, row[reference_at]
        for number in numbers:
            assert number in answers[row[reference_at]], (row[reference_at], number)
    truth = _dicts(folder / "court_rows.csv")
    court = list(_numbers_by_row(_rows(folder / "court.csv", encoding)))
    assert len(court) == len(truth)
    for (_, numbers), known in zip(court, truth, strict=True):
        written = set(filter(None, known["phones"].split(";")))
        assert set(numbers) == written, f"court row {known['line']}: cell does not read back"
        if not known["party_of"]:
            assert known["party_kind"] in ("plaintiff", "stranger")
            continue
        for number in numbers:
            assert number in answers[known["party_of"]], (known["line"], number)
    in_court = {
        (ref, p) for ref, numbers in answers.items() for p, a in numbers.items() if a["in_court"] == "1"
    }
    written_for = {(k["party_of"], p) for k in truth if k["party_of"] for p in k["phones"].split(";") if p}
    assert in_court == written_for


@pytest.mark.parametrize("name", SETS)
def test_a_filing_knows_only_numbers_the_person_had_by_its_date(sets: dict[str, Path], name: str) -> None:
    answers = _answers(sets[name])
    checked = 0
    for known in _dicts(sets[name] / "court_rows.csv"):
        if known["party_kind"] != "self":
            continue
        for number in filter(None, known["phones"].split(";")):
            a = answers[known["party_of"]][number]
            if a["role"] in ("current", "old", "bank_lost"):
                assert a["since"] <= known["filed"], (known["line"], number)
                checked += 1
    assert checked > DEBTORS / 2


@pytest.mark.parametrize("name", SETS)
def test_identity_numbers_are_valid_and_headers_are_the_intake_contract(
    sets: dict[str, Path], name: str
) -> None:
    profile = PROFILES[name]
    bank = _rows(sets[name] / "bank.csv", profile.encoding)
    court = _rows(sets[name] / "court.csv", profile.encoding)
    files: tuple[tuple[list[list[str]], Literal["bank", "court"]], ...] = ((bank, "bank"), (court, "court"))
    for rows, kind in files:
        header = rows[0]
        unread = [h for h in header if canonical_field(h, kind) is None]
        assert set(unread) <= _UNREAD_COLUMNS, unread
        id_at = next(at for at, h in enumerate(header) if canonical_field(h, kind) == "id_number")
        shapes = {"18": 0, "15": 0, "masked": 0, "blank": 0}
        for row in rows[1:]:
            value = row[id_at].upper()
            if not value:
                shapes["blank"] += 1
            elif "*" in value:
                shapes["masked"] += 1
            elif len(value) == 15:
                shapes["15"] += 1
            else:
                assert len(value) == 18 and id_check_digit(value[:17]) == value[17], "bad check digit"
                shapes["18"] += 1
        if kind == "bank":
            assert shapes["masked"] == shapes["blank"] == 0
            assert shapes["18"] > 0.9 * (len(rows) - 1)
        else:
            assert (shapes["masked"] > 0) == (profile.p_masked_id > 0)
        if profile.p_old_id:
            assert shapes["15"] > 0 or kind == "court"


@pytest.mark.parametrize("name", SETS)
def test_the_files_load_through_intake_with_few_rejections(
    sets: dict[str, Path], name: str, sqlite_url: str, tmp_path: Path
) -> None:
    folder = sets[name]
    for file in ("bank.csv", "court.csv"):  # intake writes its issues beside the input
        (tmp_path / file).write_bytes((folder / file).read_bytes())
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        bank = submit_bank_batch(engine, tmp_path / "bank.csv", "外部银行", workers=0)
        court = import_court_export(engine, tmp_path / "court.csv", workers=0)
        with engine.connect() as connection:
            phones = connection.execute(
                sa.text("SELECT count(*) FROM contacts WHERE channel = 'phone'")
            ).scalar()
    finally:
        engine.dispose()
    assert (bank.rows, bank.accepted, bank.rejected) == (DEBTORS, DEBTORS, 0)
    assert court.rejected <= 0.01 * court.rows
    for issue in court.warnings:
        if issue.severity == "rejected":
            assert "without an ID number, phone or birth date" in issue.reason
    for issue in [*bank.warnings, *court.warnings]:
        if issue.severity != "rejected":
            assert any(expected in issue.reason for expected in _EXPECTED_WARNINGS), issue.reason
    assert phones and phones > DEBTORS


def test_score_counts_what_the_export_says(sets: dict[str, Path], tmp_path: Path) -> None:
    folder = sets["court_follows"]
    answers = _answers(folder)
    repairable = sorted(
        ref
        for ref, numbers in answers.items()
        if any(a["current"] == a["in_court"] == "1" for a in numbers.values())
    )
    right, wrong_bank = repairable[:5], sorted(set(answers) - set(repairable))[:2]
    export = tmp_path / "export.csv"
    with export.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["reference", "status", "rank", "channel", "value", "confidence", "sources", "last_seen"]
        )
        for ref in right:
            current = next(p for p, a in answers[ref].items() if a["current"] == "1" and a["in_court"] == "1")
            bank_number = next(p for p, a in answers[ref].items() if a["role"] == "bank_lost")
            writer.writerow([ref, "repaired", 2, "phone", bank_number, 0.1, "bank", ""])
            writer.writerow([ref, "repaired", 1, "phone", current, 0.9, "court", ""])
        for ref in wrong_bank:
            bank_number = next(p for p, a in answers[ref].items() if a["role"] == "bank_lost")
            writer.writerow([ref, "repaired", 1, "phone", bank_number, 0.5, "bank", ""])
    result = score(folder, export)
    assert result["repaired"] == result["repaired_with_phone"] == 7
    assert result["repaired_current"] == 5
    assert result["recall_of_repairable"] == round(5 / len(repairable), 4)
    assert result["precision"] == round(5 / 7, 4)
    assert result["bank_lost_repairs"] == result["bank_batch_repairs"] == 2
    assert result["best_phone_roles"] == {"current": 5, "bank_lost": 2}
    bands = {
        b["confidence"]: (b["repaired"], b["precision"]) for b in precision_by_confidence(folder, export)
    }
    assert (
        bands["0.90–0.95"] == (5, 1.0) and bands["0.50–0.70"] == (2, 0.0) and bands["0.95–1.00"] == (0, None)
    )
    with (tmp_path / "export_all.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["reference", "status", "rank", "channel", "value", "confidence", "sources", "last_seen"]
        )
        for ref in repairable[5:8]:  # left unrepaired: the bank's number ranked above the current one
            current = next(p for p, a in answers[ref].items() if a["current"] == "1" and a["in_court"] == "1")
            bank_number = next(p for p, a in answers[ref].items() if a["role"] == "bank_lost")
            writer.writerow([ref, "lost", 1, "phone", bank_number, 0.5, "bank", ""])
            writer.writerow([ref, "lost", 2, "phone", current, 0.4, "court", ""])
        writer.writerow([repairable[8], "lost", "", "", "", "", "", ""])
    unrepaired = diagnose_unrepaired(folder, tmp_path / "export_all.csv")
    assert unrepaired["unrepaired_repairable"] == 4
    assert unrepaired["current_number_ranked"] == 3
    assert unrepaired["best_phone_roles"] == {"bank_lost": 3, "(no phone)": 1}
    easy = newest_filing_current(folder, answers)
    assert easy and easy <= set(repairable)  # the newest filing's current number is in a court record
    assert result["newest_filing_current"] == len(easy)


@pytest.mark.slow
def test_eval_runs_the_real_pipeline_on_a_small_set(tmp_path: Path) -> None:
    generate(tmp_path / "set", "court_follows", 60, SEED)
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.foreign_eval", str(tmp_path / "set"), "--json", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["pipeline"]["bank"]["accepted"] == 60
    assert result["score"]["debtors"] == 60
    assert result["score"]["bank_lost_repairs"] == 0
