"""``contactfix demo`` end to end: a fresh SQLite file of its own, and a summary the database bears out."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from contactfix.demo import reason_pattern, run_demo

CONTACTFIX = Path(sys.executable).with_name("contactfix")
_TABLE_ROW = re.compile(r"(bank\.csv|court\.csv)\s*│\s*([\d,]+)\s*│\s*([\d,]+)\s*│\s*([\d,]+)\s*│\s*([\d,]+)")


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        TMPDIR=str(tmp_path),
        COLUMNS="200",
        # Settings that point elsewhere must be ignored: the demo has its own database and outbox.
        CONTACTFIX_DATABASE_URL=f"sqlite:///{tmp_path / 'real.sqlite3'}",
        CONTACTFIX_OUTBOX_PATH=str(tmp_path / "real-outbox.jsonl"),
    )
    return subprocess.run(
        [str(CONTACTFIX), "demo", *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def _db_counts(database: Path) -> dict[str, tuple[int, int, int, int, int]]:
    """file → rows, accepted, rejected, warning issues, source records, read from the database."""
    with sqlite3.connect(database) as db:
        counts = {}
        for submission_id, filename, rows, accepted, rejected in db.execute(
            "SELECT id, filename, rows, accepted, rejected FROM submissions WHERE status = 'completed'"
        ):
            (warnings,) = db.execute(
                "SELECT count(*) FROM submission_issues WHERE submission_id = ? AND severity = 'warning'",
                (submission_id,),
            ).fetchone()
            (records,) = db.execute(
                "SELECT count(*) FROM source_records WHERE submission_id = ?", (submission_id,)
            ).fetchone()
            counts[filename] = (rows, accepted, rejected, warnings, records)
    return counts


def test_demo_summary_matches_the_database(tmp_path: Path) -> None:
    result = _demo(tmp_path, "--debtors", "200")
    assert result.returncode == 0, result.stderr
    folder = Path(re.search(r"^演示目录 folder: (\S+)$", result.stdout, re.MULTILINE)[1])  # type: ignore[index]
    assert folder.parent == tmp_path and folder.name.startswith("contactfix-demo-")
    assert not (tmp_path / "real.sqlite3").exists() and not (tmp_path / "real-outbox.jsonl").exists()
    printed = {
        m[1]: tuple(int(v.replace(",", "")) for v in m.groups()[1:])
        for m in _TABLE_ROW.finditer(result.stdout)
    }
    stored = _db_counts(folder / "contactfix.sqlite3")
    assert set(printed) == set(stored) == {"bank.csv", "court.csv"}
    for name, (rows, accepted, rejected, warnings) in printed.items():
        lines = (folder / "sample" / name).read_text(encoding="utf-8").count("\n") - 1
        assert (rows, accepted, rejected, warnings) == stored[name][:4]
        assert rows == lines and accepted + rejected == rows and accepted == stored[name][4]
    assert printed["bank.csv"][0] == 200 and printed["bank.csv"][2] >= 0
    assert printed["court.csv"][0] > 500
    # The generated rejections (a name and nothing else) and warnings are reported, masked.
    assert "rejected" in result.stdout and "most common issues" in result.stdout
    assert not re.search(r"\d{11}|\d{6}19\d\d", result.stdout.replace(",", ""))
    assert f"folder kept: {folder}" in result.stdout
    # The screen is in Chinese, as mediators' texts are; each line keeps its English key word.
    keys = ("数据库 database: ", "样本 sample: ", "接收 intake", "对账 reconcile: ", "修复 repaired: ",
            "发送状态 dispatch states: ", "给调解员的短信 sms to mediator: 【联系方式修复】")  # fmt: skip
    for key in keys:
        assert key in result.stdout, key
    texts = [line for line in result.stdout.splitlines() if "sms to mediator" in line]
    assert texts and all(re.search(r" http://127\.0\.0\.1:8000/cases/\d+ ", t) for t in texts)


def test_demo_clean_removes_its_folder(tmp_path: Path) -> None:
    result = _demo(tmp_path, "--debtors", "20", "--clean", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "folder removed:" in result.stdout
    assert not list(tmp_path.glob("contactfix-demo-*"))


def test_run_demo_steps_return_their_data(tmp_path: Path) -> None:
    from contactfix.demo import make_folder

    folder = make_folder(tmp_path)
    result = run_demo(30, seed=2, folder=folder)
    assert result.sample is not None and result.sample.bank_rows == 30
    bank, court = result.intake
    assert (bank.file, court.file) == ("bank.csv", "court.csv")
    assert bank.rows == 30 and court.rows == result.sample.court_rows
    stored = _db_counts(folder.path / "contactfix.sqlite3")
    assert stored["bank.csv"][:4] == (bank.rows, bank.accepted, bank.rejected, bank.warnings)
    assert all(issue.severity == "rejected" for s in result.intake for issue in s.example_rejections)
    assert sum(r.count for r in court.top_reasons) <= court.rejected + court.warnings


def test_cli_default_is_the_demo_default() -> None:
    from contactfix import demo
    from contactfix.cli import commands_demo

    assert commands_demo.DEFAULT_DEBTORS == demo.DEFAULT_DEBTORS


def test_reason_pattern_groups_rows_alike() -> None:
    first = reason_pattern("invalid ID number 140925********8329: check digit does not match; dropped")
    second = reason_pattern("invalid ID number 530426********909X: check digit does not match; dropped")
    assert first == second == "invalid ID number …: check digit does not match; dropped"
    assert reason_pattern("duplicate reference in this file: this row replaces row 12") == (
        "duplicate reference in this file: this row replaces row …"
    )
    assert "13800138000" not in reason_pattern("phone 13800138000 seen")
