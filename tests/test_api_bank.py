"""A bank over API v1: its debtors masked and its own, other banks' contacts only when shared (and
then as "another bank"), uploads with the CLI's receipt, its export and funnel. Every read audited."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import (
    B_OWN_PHONE,
    CASE,
    NEW,
    OTHER_BANK_PHONE,
    ApiWorld,
    auth,
    build_world,
    client_for,
    settings_for,
)
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from contactfix.db import throwaway_database

BATCH = "reference,name,id_number,phone\nN001,王芳,11010519491231002X,13812345678\n,李雷,,13800000000\n"


@pytest.fixture
def world(postgres_server: str) -> Iterator[ApiWorld]:
    with throwaway_database(postgres_server, "contactfix_api_bank") as url:
        built = build_world(url)
        yield built
        built.engine.dispose()


@pytest.fixture
def client(world: ApiWorld, tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(world, settings_for(world, tmp_path))


def test_a_debtor_is_masked_and_shows_no_other_bank(client: TestClient, world: ApiWorld) -> None:
    answer = client.get("/api/v1/debtors/CF001", headers=auth(world.tokens["alice"]))
    assert answer.status_code == 200, answer.text
    card = answer.json()
    assert (card["reference"], card["status"], card["name"], card["id_number"]) == (
        "CF001", "repaired", "张*", "350103********1234"
    )  # fmt: skip
    phones = [c["value"] for c in card["contacts"] if c["channel"] == "phone"]
    assert phones == ["+86 139****0002", "+86 138****0001"]  # bank-b's numbers are not there
    assert card["contacts"][0]["sources"] == [
        {"source": "court", "reference": CASE, "observed_on": "2026-05-01"}
    ]
    text = answer.text
    assert "CF777" not in text and "bank-b" not in text and not re.search(r"\d{11}", text)
    # bank-b asking for bank-a's reference: it does not exist for bank-b.
    assert client.get("/api/v1/debtors/CF001", headers=auth(world.tokens["bob"])).status_code == 404
    audit = client.get("/api/v1/audit?action=debtor.read", headers=auth(world.tokens["op"])).json()
    assert [(e["actor"], e["organization"], e["subject_id"]) for e in audit] == [
        ("alice", "bank-a", world.case_a)
    ]


def test_shared_contacts_read_another_bank(world: ApiWorld, tmp_path: Path) -> None:
    for client in client_for(world, settings_for(world, tmp_path, share_contacts_across_banks=True)):
        card = client.get("/api/v1/debtors/CF001", headers=auth(world.tokens["alice"])).json()
        shown = {c["value"]: c["sources"] for c in card["contacts"] if c["channel"] == "phone"}
        assert set(shown) == {"+86 139****0002", "+86 138****0001", "+86 136****0006", "+86 135****0005"}
        assert shown["+86 136****0006"] == [
            {"source": "another bank", "reference": None, "observed_on": "2026-06-01"}
        ]
        assert "CF777" not in json.dumps(card, ensure_ascii=False) and "bank-b" not in json.dumps(card)


def test_upload_gives_the_cli_receipt_then_a_duplicate(client: TestClient, world: ApiWorld) -> None:
    token = auth(world.tokens["alice"])
    first = client.post("/api/v1/submissions", headers=token, files={"file": ("lost.csv", BATCH.encode())})
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert (receipt["rows"], receipt["accepted"], receipt["rejected"], receipt["duplicate_of"]) == (
        2,
        1,
        1,
        None,
    )
    assert set(receipt) >= {"submission_id", "rows", "accepted", "rejected", "warnings", "duplicate_of"}
    again = client.post("/api/v1/submissions", headers=token, files={"file": ("again.csv", BATCH.encode())})
    assert again.status_code == 200 and again.json()["duplicate_of"] == receipt["submission_id"]
    progress = client.get(f"/api/v1/submissions/{receipt['submission_id']}", headers=token).json()
    assert (progress["status"], progress["rows"], progress["filename"]) == ("completed", 2, "lost.csv")
    assert progress["issues"] and progress["issues"][0]["row"] == 3
    assert (
        client.get(
            f"/api/v1/submissions/{receipt['submission_id']}", headers=auth(world.tokens["bob"])
        ).status_code
        == 404
    )
    assert client.get("/api/v1/debtors/N001", headers=token).json()["status"] == "lost"
    assert client.get("/api/v1/debtors/N001", headers=auth(world.tokens["bob"])).status_code == 404


def test_an_unreadable_upload_is_422_with_the_reason(client: TestClient, world: ApiWorld) -> None:
    answer = client.post(
        "/api/v1/submissions", headers=auth(world.tokens["alice"]), files={"file": ("x.csv", b"")}
    )
    assert answer.status_code == 422 and answer.json()["detail"]
    missing = client.post("/api/v1/submissions", headers=auth(world.tokens["alice"]), data={"other": "x"})
    assert missing.status_code == 422 and "file" in missing.json()["detail"]


def test_export_csv_and_xlsx_are_the_banks_own(client: TestClient, world: ApiWorld) -> None:
    answer = client.get("/api/v1/exports/contacts", headers=auth(world.tokens["alice"]))
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "reference",
        "status",
        "rank",
        "channel",
        "value",
        "confidence",
        "sources",
        "last_seen",
    ]
    # Not the number the bank lost (known_failed): the bank knows that one.
    assert [r[:5] for r in rows[1:]] == [["CF001", "repaired", "1", "phone", NEW]]
    assert (
        OTHER_BANK_PHONE not in answer.text and B_OWN_PHONE not in answer.text and "CF777" not in answer.text
    )
    xlsx = client.get("/api/v1/exports/contacts?format=xlsx", headers=auth(world.tokens["bob"]))
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert [v[:2] for v in values[1:]] == [("CF777", values[1][1])] * (len(values) - 1) and len(values) > 1
    assert "CF001" not in str(values) and "+8613800000001" not in str(values)
    bad = client.get("/api/v1/exports/contacts?status=found", headers=auth(world.tokens["alice"]))
    assert bad.status_code == 422


def test_report_is_the_callers_funnel(client: TestClient, world: ApiWorld) -> None:
    funnel = client.get("/api/v1/report", headers=auth(world.tokens["alice"])).json()
    assert set(funnel) >= {"submitted", "accepted", "repaired_records", "reached", "mediated"}
    assert all(isinstance(v, int) for v in funnel.values())


def test_a_read_that_cannot_be_audited_is_not_answered(client: TestClient, world: ApiWorld) -> None:
    from sqlalchemy import text

    with world.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    try:
        answer = client.get("/api/v1/debtors/CF001", headers=auth(world.tokens["alice"]))
    finally:
        with world.engine.begin() as connection:
            connection.execute(text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    assert answer.status_code == 500
    assert "CF001" not in answer.text and "139" not in answer.text


def test_each_read_is_audited_with_who_which_org_what_and_when(client: TestClient, world: ApiWorld) -> None:
    for _ in range(3):
        assert client.get("/api/v1/debtors/CF001", headers=auth(world.tokens["alice"])).status_code == 200
    assert client.get("/api/v1/debtors/NOPE", headers=auth(world.tokens["alice"])).status_code == 404
    audit = client.get("/api/v1/audit?action=debtor.read", headers=auth(world.tokens["op"])).json()
    assert [(e["actor"], e["organization"], e["action"], e["subject_id"]) for e in audit] == [
        ("alice", "bank-a", "debtor.read", world.case_a)
    ] * 3
    assert all(e["at"] and e["detail"] == {"role": "bank"} for e in audit)
