"""Intake end to end into SQLite and PostgreSQL: receipts, stored rows, re-submissions, failures."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from intake_support import UNMASKED, bad_check, resident_id, write_csv, write_jsonl, write_xlsx

from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.errors import IntakeError
from contactfix.intake import store, validation
from contactfix.intake.receipt import write_issues_csv
from contactfix.intake.service import DatabaseNotReady, import_court_export, iter_issues, submit_bank_batch
from contactfix.privacy.sealing import field_cipher, is_sealed

ID_A = resident_id("110101", "19900307", "457")
ID_B = resident_id("350103", "19851231", "222")
HEADER = ["客户号", "姓名", "身份证号", "手机号", "住址", "欠款金额(元)"]


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def rows_of(engine: sa.Engine, sql: str, *, ordered: bool = False, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` with sealed values opened (encryption at rest); ``ordered``: sorted here,
    for a query whose ORDER BY names a sealed column (the database orders the ciphertexts)."""
    cipher = field_cipher()
    with engine.connect() as connection:
        rows = [
            tuple(cipher.open(v) if isinstance(v, str) and is_sealed(v) else v for v in row)
            for row in connection.execute(sa.text(sql), params)
        ]
    return sorted(rows, key=repr) if ordered else rows


def bank_file(tmp_path: Path, rows: list[list[object]], name: str = "batch.csv", **kwargs: Any) -> Path:
    return write_csv(tmp_path / name, [HEADER, *rows], **kwargs)


def test_a_bank_batch_is_stored(engine: sa.Engine, tmp_path: Path) -> None:
    path = bank_file(
        tmp_path,
        [
            ["B1", "张三", ID_A, "13800138000；0591-87654321", "福建省福州市台江区", "12,345.60"],
            ["B2", "李四", bad_check(ID_B), "", "福州", ""],
            ["B3", "王五", "", "13900139000", "", "1.2万"],
        ],
    )
    receipt = submit_bank_batch(engine, path, "闽银行")
    assert (receipt.rows, receipt.accepted, receipt.rejected, receipt.duplicate_of) == (3, 2, 1, None)
    assert [(i.row, i.field, i.severity) for i in receipt.warnings] == [
        (3, "id_number", "warning"),
        (3, "name", "rejected"),
    ]
    debtors = rows_of(
        engine,
        "SELECT reference, name, id_type, id_number, birth_date, gender, amount_owed, "
        "currency, status FROM debtors ORDER BY reference",
    )
    assert [d[:4] for d in debtors] == [("B1", "张三", "resident_id", ID_A), ("B3", "王五", None, None)]
    assert str(debtors[0][4]) == "1990-03-07" and debtors[0][5] == "M"
    assert [float(d[6]) for d in debtors] == [12345.6, 12000.0] and debtors[0][7:] == ("CNY", "lost")
    contacts = rows_of(
        engine,
        "SELECT s.reference, c.channel, c.value, c.first_seen FROM contacts c "
        "JOIN source_records s ON s.id = c.source_record_id ORDER BY s.reference, c.id",
    )
    today = str(dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date())
    assert [c[:3] for c in contacts] == [
        ("B1", "phone", "+8613800138000"),
        ("B1", "phone", "+8659187654321"),
        ("B1", "address", "福建省福州市台江区"),
        ("B3", "phone", "+8613900139000"),
    ]
    assert {str(c[3]) for c in contacts} == {today}
    submission = rows_of(engine, "SELECT rows, accepted, rejected, warnings, status, kind FROM submissions")
    assert submission == [(3, 2, 1, 1, "completed", "bank_batch")]
    keys = rows_of(engine, "SELECT record_key, source FROM source_records ORDER BY record_key")
    org_id = rows_of(engine, "SELECT id FROM organizations WHERE name = '闽银行' AND kind = 'bank'")[0][0]
    assert keys == [(f"bank:{org_id}:B1", "bank"), (f"bank:{org_id}:B3", "bank")]
    audit = rows_of(engine, "SELECT action, subject_id FROM audit_log")
    assert audit == [("submission.completed", receipt.submission_id)]
    issues = rows_of(engine, "SELECT row, field, severity FROM submission_issues ORDER BY id")
    assert issues == [(3, "id_number", "warning"), (3, "name", "rejected")]


def test_the_same_file_again_is_a_no_op_naming_the_earlier_submission(
    engine: sa.Engine, tmp_path: Path
) -> None:
    path = bank_file(tmp_path, [["B1", "张三", ID_A, "13800138000", "", ""], ["B2", "", "", "", "", ""]])
    first = submit_bank_batch(engine, path, "bank")
    again = submit_bank_batch(engine, path, "bank")
    assert first.duplicate_of is None and again.duplicate_of == first.submission_id
    assert (again.rows, again.accepted, again.rejected, again.warnings) == (2, 1, 1, first.warnings)
    assert rows_of(engine, "SELECT count(*) FROM submissions") == [(1,)]
    assert rows_of(engine, "SELECT count(*) FROM audit_log") == [(1,)]
    other_org = submit_bank_batch(engine, path, "another bank")
    assert other_org.duplicate_of is None and other_org.submission_id != first.submission_id


def test_a_later_file_updates_the_debtor_and_adds_contacts(engine: sa.Engine, tmp_path: Path) -> None:
    submit_bank_batch(
        engine, bank_file(tmp_path, [["B1", "张三", ID_A, "13800138000", "福州", "100"]], "a.csv"), "bank"
    )
    # As if the first file came a year ago: the bump of last_seen must be visible.
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE contacts SET first_seen = :d, last_seen = :d"), {"d": dt.date(2023, 1, 1)}
        )
    later = bank_file(tmp_path, [["B1", "张三丰", "", "13800138000,13900139000", "", "200"]], "b.csv")
    receipt = submit_bank_batch(engine, later, "bank")
    assert receipt.accepted == 1
    debtors = rows_of(engine, "SELECT reference, name, id_number, amount_owed, submission_id FROM debtors")
    assert len(debtors) == 1
    assert debtors[0][:3] == ("B1", "张三丰", ID_A)  # no ID in the later file: the earlier one is kept
    assert float(debtors[0][3]) == 200.0 and debtors[0][4] == receipt.submission_id
    contacts = rows_of(engine, "SELECT value, first_seen, last_seen FROM contacts", ordered=True)
    assert [c[0] for c in contacts] == ["+8613800138000", "+8613900139000", "福州"]
    assert str(contacts[0][1]) == "2023-01-01" and str(contacts[0][2]) != "2023-01-01"
    assert rows_of(engine, "SELECT count(*) FROM source_records") == [(1,)]


def test_a_batch_of_known_and_new_debtors_updates_the_one_and_inserts_the_other(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # One batch, both ways through the merge: B1's record exists (upserted), B2's is new (inserted).
    submit_bank_batch(
        engine, bank_file(tmp_path, [["B1", "张三", ID_A, "13800138000", "福州", "100"]], "a.csv"), "bank"
    )
    later = bank_file(
        tmp_path,
        [["B2", "李四", ID_B, "13700137000", "厦门", "50"], ["B1", "张三", "", "13900139000", "", ""]],
        "b.csv",
    )
    receipt = submit_bank_batch(engine, later, "bank")
    assert (receipt.accepted, receipt.rejected) == (2, 0)
    debtors = rows_of(
        engine, "SELECT reference, id_number, amount_owed, currency FROM debtors ORDER BY reference"
    )
    assert [(d[0], d[1], float(d[2]), d[3]) for d in debtors] == [
        ("B1", ID_A, 100.0, "CNY"),  # blank in the later file: the earlier ID and amount are kept
        ("B2", ID_B, 50.0, "CNY"),
    ]
    contacts = rows_of(
        engine,
        "SELECT r.reference, c.value FROM contacts c JOIN source_records r ON r.id = c.source_record_id"
        " ORDER BY r.reference, c.value",
        ordered=True,
    )
    assert contacts == [
        ("B1", "+8613800138000"),
        ("B1", "+8613900139000"),
        ("B1", "福州"),
        ("B2", "+8613700137000"),
        ("B2", "厦门"),
    ]
    linked = "SELECT count(*) FROM debtors d JOIN source_records r ON r.id = d.source_record_id"
    assert rows_of(engine, "SELECT count(*) FROM source_records") == rows_of(engine, linked) == [(2,)]


@pytest.mark.parametrize("workers", [0, 1])
def test_duplicate_reference_in_a_file_later_row_wins_whatever_the_batch_size(
    engine: sa.Engine, tmp_path: Path, workers: int
) -> None:
    rows = [
        ["B1", "张三", ID_A, "13800138000", "", "1"],
        ["B2", "李四", ID_B, "", "", ""],
        ["B1", "张三丰", "", "13900139000", "", "2"],
    ]
    states = []
    for batch_size, org in ((1, "one"), (1000, "many")):
        path = bank_file(tmp_path, rows)
        receipt = submit_bank_batch(engine, path, org, batch_size=batch_size, workers=workers)
        assert [(i.row, i.field) for i in receipt.warnings] == [(4, "reference")]
        assert "replaces row 2" in receipt.warnings[0].reason
        states.append(
            rows_of(
                engine,
                "SELECT d.reference, d.name, d.id_number, d.amount_owed, c.value FROM debtors d "
                "JOIN organizations o ON o.id = d.organization_id JOIN contacts c ON "
                "c.source_record_id = d.source_record_id WHERE o.name = :org "
                "ORDER BY d.reference, c.value",
                ordered=True,
                org=org,
            )
        )
    assert states[0] == states[1]
    # The later B1 row wins, keeps the earlier ID it left blank, and both rows' phones are kept.
    assert [(s[:3], s[4]) for s in states[0]] == [
        (("B1", "张三丰", ID_A), "+8613800138000"),
        (("B1", "张三丰", ID_A), "+8613900139000"),
    ]


def _state(engine: sa.Engine, org: str) -> dict[str, list[tuple[Any, ...]]]:
    where = "WHERE o.name = :org"
    return {
        "debtors": rows_of(
            engine,
            f"SELECT d.reference, d.name, d.id_number, d.amount_owed FROM debtors d JOIN "
            f"organizations o ON o.id = d.organization_id {where} ORDER BY 1",
            org=org,
        ),
        "contacts": rows_of(
            engine,
            f"SELECT s.reference, c.value, c.first_seen, c.last_seen FROM contacts c JOIN "
            f"source_records s ON s.id = c.source_record_id JOIN organizations o ON "
            f"o.id = s.organization_id {where} ORDER BY 1, 2",
            ordered=True,
            org=org,
        ),
        "issues": rows_of(
            engine,
            f"SELECT i.row, i.field, i.reason, i.severity FROM submission_issues i JOIN "
            f"submissions s ON s.id = i.submission_id JOIN organizations o ON "
            f"o.id = s.organization_id {where} ORDER BY 1, 2, 3",
            org=org,
        ),
        "submissions": rows_of(
            engine,
            f"SELECT s.rows, s.accepted, s.rejected, s.warnings, s.status FROM "
            f"submissions s JOIN organizations o ON o.id = s.organization_id {where}",
            org=org,
        ),
    }


def _many_rows(n: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for i in range(n):
        number = resident_id("350103", f"19{60 + i % 40:02d}0{1 + i % 9}1{i % 9}", f"{i % 1000:03d}")
        rows.append(
            [f"R{i:04d}", f"客户{i}", number if i % 7 else bad_check(number), f"1380013{i:04d}", "", str(i)]
        )
    rows.append(["R0003", "客户3改", "", "13900000000", "", "5"])  # a duplicate reference across batches
    return rows


@pytest.mark.parametrize("workers", [0, 1])
def test_a_failure_late_in_a_file_keeps_earlier_batches_and_a_resubmission_finishes_it(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    path = bank_file(tmp_path, _many_rows(25))
    assert not workers or validation._can_fork()  # else the worker path would not be what runs
    submit_bank_batch(engine, path, "uninterrupted", batch_size=4, workers=0)

    real_write = store.RecordWriter.write
    calls = {"n": 0}

    def failing_write(self: store.RecordWriter, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("database went away")
        real_write(self, *args, **kwargs)

    monkeypatch.setattr(store.RecordWriter, "write", failing_write)
    with pytest.raises(RuntimeError, match="went away"):
        submit_bank_batch(engine, path, "interrupted", batch_size=4, workers=workers)
    halfway = _state(engine, "interrupted")
    assert halfway["submissions"] == [(8, 8, 0, 2, "failed")]  # two batches of four kept
    assert [d[0] for d in halfway["debtors"]] == [f"R{i:04d}" for i in range(8)]

    monkeypatch.setattr(store.RecordWriter, "write", real_write)
    receipt = submit_bank_batch(engine, path, "interrupted", batch_size=4, workers=workers)
    assert receipt.duplicate_of is None and (receipt.rows, receipt.rejected) == (26, 0)
    assert _state(engine, "interrupted") == _state(engine, "uninterrupted")
    assert rows_of(engine, "SELECT count(*) FROM submissions") == [(2,)]


def test_a_row_the_database_refuses_fails_the_submission_keeping_earlier_batches(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # A trigger stands in for any write the database refuses at row 6 (batch three of two rows).
    dialect = engine.dialect.name
    with engine.begin() as connection:
        if dialect == "sqlite":
            connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON source_records WHEN NEW.reference = 'R0004' "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            connection.execute(
                sa.text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.reference = 'R0004' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
                )
            )
            connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON source_records "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
    with pytest.raises(sa.exc.DBAPIError, match="refused"):
        submit_bank_batch(engine, bank_file(tmp_path, _many_rows(10)), "bank", batch_size=2)
    assert rows_of(engine, "SELECT status, rows FROM submissions") == [("failed", 4)]
    assert [r[0] for r in rows_of(engine, "SELECT reference FROM debtors ORDER BY 1")] == [
        "R0000",
        "R0001",
        "R0002",
        "R0003",
    ]


def test_gb18030_file_with_chinese_headers(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "gb.txt",
        [
            ["客户编号", "借款人姓名", "证件号码", "移动电话", "户籍地址", "贷款余额"],
            ["G1", "欧阳娜娜", ID_B, "13800138000", "福建省福州市", "3,000"],
        ],
        encoding="gb18030",
    )
    receipt = submit_bank_batch(engine, path, "bank")
    assert (receipt.accepted, receipt.warnings) == (1, [])
    assert rows_of(engine, "SELECT name, address FROM source_records") == [("欧阳娜娜", "福建省福州市")]


def test_xlsx_batch_with_typed_cells(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "batch.xlsx",
        [
            ["客户号", "姓名", "身份证号", "手机号", "出生日期", "欠款金额"],
            [1001, "张三", 3.50103199001021e17, 13800138000, dt.datetime(1990, 1, 2), 12345.6],
            ["1002", "李四", ID_B, "", "", ""],
        ],
    )
    receipt = submit_bank_batch(engine, path, "bank")
    assert (receipt.rows, receipt.accepted) == (2, 2)
    assert [(i.row, i.field) for i in receipt.warnings] == [(2, "id_number")] and "Excel" in receipt.warnings[
        0
    ].reason
    debtors = rows_of(engine, "SELECT reference, id_number, birth_date FROM debtors ORDER BY 1")
    assert [(d[0], d[1], str(d[2])) for d in debtors] == [
        ("1001", None, "1990-01-02"),
        ("1002", ID_B, "1985-12-31"),
    ]


def test_json_lines_batch(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "batch.jsonl",
        [
            {"reference": "J1", "name": "张三", "phone": ["13800138000", "13900139000"]},
            {"reference": "J2", "name": "李四", "id_number": ID_B, "shoe_size": 42},
        ],
    )
    receipt = submit_bank_batch(engine, path, "bank")
    assert (receipt.rows, receipt.accepted) == (2, 2)
    assert [(i.row, i.field, i.reason) for i in receipt.warnings] == [
        (2, "shoe_size", "unknown column, ignored")
    ]
    assert rows_of(engine, "SELECT count(*) FROM contacts") == [(2,)]


def test_header_only_file_is_an_empty_completed_receipt(engine: sa.Engine, tmp_path: Path) -> None:
    receipt = submit_bank_batch(engine, write_csv(tmp_path / "h.csv", [HEADER]), "bank")
    assert (receipt.rows, receipt.accepted, receipt.rejected, receipt.warnings) == (0, 0, 0, [])
    assert rows_of(engine, "SELECT status, rows FROM submissions") == [("completed", 0)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
        (b"%PDF-1.4\n", "PDF"),
        (b"<html><body>hi</body></html>", "HTML"),
        ("姓名,手机号\n张三,13800138000\n".encode(), "no reference"),
        ("客户号,电话\nB1,13800138000\n".encode(), "no name"),
        ("reference,name\nB1,Jos\xe9,\n".encode("latin-1"), "neither"),
    ],
)
def test_files_that_cannot_be_taken_in_touch_nothing(
    engine: sa.Engine, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "batch.csv"
    path.write_bytes(content)
    with pytest.raises(IntakeError, match=message) as caught:
        submit_bank_batch(engine, path, "bank")
    assert not UNMASKED.search(str(caught.value))
    assert rows_of(engine, "SELECT count(*) FROM submissions") == [(0,)]


def test_court_export_imported_twice_updates_instead_of_duplicating(
    engine: sa.Engine, tmp_path: Path
) -> None:
    header = ["案号", "当事人", "诉讼地位", "证件号码", "联系电话", "立案日期", "承办法官"]
    rows = [
        ["（2024）闽0103民初1234号", "张三", "被告", ID_A, "13800138000", "2024-03-05", "王法官"],
        ["（2024）闽0103民初1234号", "某某银行股份有限公司", "原告", "", "0591-87654321", "2024-03-05", ""],
        ["2024闽0103民初1235号", "李四", "第三人", "", "", "", ""],
    ]
    first = import_court_export(engine, write_csv(tmp_path / "a.csv", [header, *rows]))
    assert (first.rows, first.accepted, first.rejected) == (3, 2, 1)
    assert (first.warnings[0].row, first.warnings[0].field) == (1, "承办法官")
    rows[0][4] = "13800138000,13900139000"
    second = import_court_export(engine, write_csv(tmp_path / "b.csv", [header, *reversed(rows)]))
    assert second.duplicate_of is None and second.accepted == 2
    records = rows_of(
        engine, "SELECT reference, role, party_type, observed_on, source FROM source_records ORDER BY role"
    )
    assert [(r[0], r[1], r[2], str(r[3]), r[4]) for r in records] == [
        ("（2024）闽0103民初1234号", "defendant", "person", "2024-03-05", "court"),
        ("（2024）闽0103民初1234号", "plaintiff", "company", "2024-03-05", "court"),
    ]
    assert rows_of(engine, "SELECT count(*) FROM contacts") == [(3,)]
    assert rows_of(engine, "SELECT count(*) FROM debtors") == [(0,)]
    assert rows_of(engine, "SELECT kind FROM organizations") == [("court",)]


def test_court_export_without_case_numbers_is_taken_in_with_a_file_warning(
    engine: sa.Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", [["当事人", "证件号码"], ["张三", ID_A]])
    receipt = import_court_export(engine, path, "某法院")
    assert receipt.accepted == 1 and [(i.row, i.field) for i in receipt.warnings] == [(1, "case_number")]


def test_pii_is_masked_in_receipt_issues_table_and_csv(engine: sa.Engine, tmp_path: Path) -> None:
    path = bank_file(
        tmp_path,
        [
            ["B1", "张三", bad_check(ID_A), "1380013800, 13800138000", "", ""],
            ["B2", "李四", bad_check(ID_B), "", "", ""],
        ],
    )
    receipt = submit_bank_batch(engine, path, "bank")
    assert len(receipt.warnings) == 4
    assert not UNMASKED.search(receipt.to_json())
    stored = rows_of(engine, "SELECT reason FROM submission_issues")
    assert stored and not any(UNMASKED.search(r[0]) for r in stored)
    csv_path = tmp_path / "issues.csv"
    write_issues_csv(csv_path, iter_issues(engine, receipt.submission_id))
    assert not UNMASKED.search(csv_path.read_text(encoding="utf-8-sig"))
    assert json.loads(receipt.to_json())["warnings"][0] == {
        "row": 2,
        "field": "id_number",
        "reason": receipt.warnings[0].reason,
    }


def test_an_unmigrated_database_is_named(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with pytest.raises(DatabaseNotReady, match="db upgrade"):
        submit_bank_batch(engine, bank_file(tmp_path, [["B1", "张三", ID_A, "", "", ""]]), "bank")


def test_a_file_that_breaks_midway_keeps_the_batches_before_and_names_the_row(
    engine: sa.Engine, tmp_path: Path
) -> None:
    good = "".join(f"R{i},客户{i},,1380013{i:04d},,\n" for i in range(10))
    path = tmp_path / "broken.csv"
    path.write_text(",".join(HEADER) + "\n" + good + 'R10,"客户10,,13800130010,,\n' + good, encoding="utf-8")
    with pytest.raises(IntakeError, match=r"row 12: .*unbalanced quote"):
        submit_bank_batch(engine, path, "bank", batch_size=4)
    assert rows_of(engine, "SELECT status, rows, accepted FROM submissions") == [("failed", 8, 8)]
    assert rows_of(engine, "SELECT count(*) FROM debtors") == [(8,)]


def test_a_submission_still_being_written_elsewhere_is_not_redone(postgres_url: str, tmp_path: Path) -> None:
    upgrade_database(postgres_url)
    engine = make_engine(postgres_url)
    path = bank_file(tmp_path, [["B1", "张三", ID_A, "", "", ""]])
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO organizations (name, kind) VALUES ('bank', 'bank')"))
        ident = connection.execute(sa.text(
            "INSERT INTO submissions (organization_id, kind, filename, content_sha256, status) "
            "VALUES (1, 'bank_batch', 'batch.csv', :sha, 'processing') RETURNING id"),
            {"sha": __import__("hashlib").sha256(path.read_bytes()).hexdigest()}).scalar_one()  # fmt: skip
    other_process = make_engine(postgres_url)  # its own connection, as another intake run would have
    holder = other_process.connect()
    holder.execute(sa.text("SELECT pg_advisory_lock(:ns, :id)"), {"ns": 0x696E7461, "id": ident})
    try:
        with pytest.raises(IntakeError, match="being processed right now"):
            submit_bank_batch(engine, path, "bank")
    finally:
        holder.close()
        other_process.dispose()
    receipt = submit_bank_batch(engine, path, "bank")  # the other writer is gone: redone
    assert (receipt.submission_id, receipt.accepted) == (ident, 1)
    engine.dispose()


def test_a_records_contacts_get_ids_in_the_order_the_file_wrote_them(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # Ranking reads that order (a filer writes the party's own number first). On PostgreSQL the insert
    # took the join's order, not the file's, once a batch was large (a full batch of 5,000 rows here).
    rows = []
    for n in range(6000):
        phones = [f"1{d}{n:09d}" for d in (8, 3, 5)]  # written out of numeric order
        rows.append([f"K{n}", "张三", resident_id("350103", "19900102", f"{n % 500:03d}"), ";".join(phones),
                     "福州市", "100"])  # fmt: skip
    submit_bank_batch(engine, bank_file(tmp_path, rows), "某银行")
    found = rows_of(
        engine,
        "SELECT r.reference, c.value FROM contacts c JOIN source_records r ON r.id = c.source_record_id "
        "WHERE c.channel = 'phone' ORDER BY c.id",
    )
    written: dict[str, list[str]] = {}
    for reference, value in found:
        written.setdefault(reference, []).append(value.removeprefix("+86"))
    assert written == {row[0]: row[3].split(";") for row in rows}
    debtors = rows_of(engine, "SELECT reference FROM debtors ORDER BY id")
    assert [reference for (reference,) in debtors] == [row[0] for row in rows]  # and debtors, file order
