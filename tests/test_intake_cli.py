"""``contactfix submit`` / ``import-court``: one JSON line, exit codes, the issues CSV, the summary."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from intake_support import UNMASKED, bad_check, resident_id, write_csv
from typer.testing import CliRunner

from contactfix.cli import app, commands_intake
from contactfix.db.migrate import upgrade_database
from contactfix.settings import get_settings

HEADER = ["客户号", "姓名", "身份证号", "手机号"]


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade_database(url)
    monkeypatch.setenv("CONTACTFIX_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return write_csv(
        folder / "batch.csv",
        [HEADER, ["B1", "张三", resident_id(), "13800138000"], ["B2", "李四", bad_check(resident_id()), ""]],
    )


def test_submit_json_prints_one_line_and_writes_the_issues_beside_the_input(
    database: str, batch: Path
) -> None:
    result = CliRunner().invoke(app, ["submit", str(batch), "--org", "闽银行", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    receipt = json.loads(lines[0])
    assert set(receipt) == {"submission_id", "rows", "accepted", "rejected", "warnings", "duplicate_of"}
    assert (receipt["rows"], receipt["accepted"], receipt["rejected"], receipt["duplicate_of"]) == (
        2,
        1,
        1,
        None,
    )
    assert [w["field"] for w in receipt["warnings"]] == ["id_number", "name"]
    assert receipt["warnings"][1]["reason"].startswith("rejected: ")
    issues_csv = batch.with_name("batch.csv.issues.csv")
    text = issues_csv.read_text(encoding="utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["row", "field", "severity", "reason"]
    assert [r[:3] for r in parsed[1:]] == [["3", "id_number", "warning"], ["3", "name", "rejected"]]
    assert parsed[2][3].startswith("rejected: ")
    assert not UNMASKED.search(text) and not UNMASKED.search(result.stdout)

    again = CliRunner().invoke(app, ["submit", str(batch), "--org", "闽银行", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["duplicate_of"] == receipt["submission_id"]


def test_submit_without_json_prints_a_summary_and_a_masked_issue_table(database: str, batch: Path) -> None:
    result = CliRunner().invoke(app, ["submit", str(batch), "--org", "bank"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "2 rows" in result.stdout and "1 accepted" in result.stdout and "1 rejected" in result.stdout
    assert "id_number" in result.stdout and "350103********" in result.stdout
    assert "batch.csv.issues.csv" in result.stdout.replace("\n", "")
    assert not UNMASKED.search(result.stdout)
    assert "rows/s" in result.stderr


def test_a_file_that_cannot_be_taken_in_exits_2(database: str, tmp_path: Path) -> None:
    png = tmp_path / "photo.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    result = CliRunner().invoke(app, ["submit", str(png), "--org", "bank", "--json"])
    assert result.exit_code == 2
    assert "PNG image" in json.loads(result.stdout)["error"] and "PNG image" in result.stderr
    plain = CliRunner().invoke(app, ["submit", str(png), "--org", "bank"])
    assert plain.exit_code == 2 and plain.stdout == "" and "Traceback" not in plain.output


def test_import_court_defaults_to_the_court_export_organization(database: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "court.csv",
        [
            ["案号", "当事人", "诉讼地位", "联系电话"],
            ["（2024）闽0103民初1号", "张三", "被告", "13800138000"],
        ],
    )
    result = CliRunner().invoke(app, ["import-court", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == 1

    import sqlalchemy as sa

    engine = sa.create_engine(database)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT name, kind FROM organizations")).all() == [
            ("court-export", "court")
        ]
    engine.dispose()


def test_issues_go_to_the_current_directory_when_the_input_folder_is_not_writable(
    database: str, batch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root may write anywhere, so an unwritable folder is a path under a file rather than a chmod.
    monkeypatch.setattr(commands_intake, "issues_csv_path", lambda _: batch / "cannot" / "x.issues.csv")
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    result = CliRunner().invoke(app, ["submit", str(batch), "--org", "bank", "--json"])
    assert result.exit_code == 0, result.output
    assert (workdir / "x.issues.csv").is_file()
    assert str(workdir / "x.issues.csv") in result.stderr.replace("\n", "")


def test_the_issues_csv_does_not_run_formulas_from_headers(tmp_path: Path) -> None:
    from contactfix.intake.receipt import Issue, write_issues_csv

    target = tmp_path / "issues.csv"
    write_issues_csv(target, [Issue(1, '=HYPERLINK("http://x")', "unknown column, ignored")])
    row = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))[1]
    assert row[1].startswith("'=")


def test_submit_of_rows_that_once_crashed_it_prints_a_receipt(database: str, tmp_path: Path) -> None:
    header = [*HEADER, "欠款金额", "失联日期"]
    rows = [
        header,
        ["B1", "张三", resident_id(), "13800138000", "1e1000000", "2023-01-02"],
        ["B2", "李四", "", "13900139000", "", "福" * 131_073],
        ["B3", "王五", "", "13700137000", "100", "2999-01-01"],
    ]
    path = write_csv(tmp_path / "crash.csv", rows)
    result = CliRunner().invoke(app, ["submit", str(path), "--org", "闽银行", "--json"])
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    assert (receipt["rows"], receipt["accepted"], receipt["rejected"]) == (3, 2, 1)
    assert [(w["row"], w["field"]) for w in receipt["warnings"]] == [
        (2, "amount"),
        (3, "row"),
        (4, "lost_on"),
    ]
    assert not UNMASKED.search(result.stdout)
