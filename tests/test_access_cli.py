"""The CLI side of access: orgs and users (token once, hashed, revocable), the audit log, and show
and export seeing one bank's data, another bank's only as "another bank" when sharing is on."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from api_support import B_OWN_PHONE, NEW, OTHER_BANK_PHONE, build_world
from sqlalchemy import select
from sqlalchemy.orm import Session

from contactfix.access import InvalidAccount, add_organization, add_user, password_matches, token_hash
from contactfix.cli.commands_export import export_contacts
from contactfix.cli.commands_show import debtor_view
from contactfix.db.access_models import ApiToken, User
from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.errors import NotFound

CONTACTFIX = str(Path(sys.executable).with_name("contactfix"))


def run(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTACTFIX_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [CONTACTFIX, *args], capture_output=True, text=True, env=env, input=stdin, check=False
    )


def test_orgs_users_tokens_and_audit_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade_database(url)
    assert run(url, "orgs", "add", "甲银行", "--kind", "bank").returncode == 0
    again = run(url, "orgs", "add", "甲银行", "--kind", "bank")
    assert again.returncode == 0 and "already exists" in again.stdout
    assert run(url, "orgs", "add", "甲银行", "--kind", "court").returncode == 2
    alice = ("users", "add", "alice", "--org", "甲银行", "--role", "bank", "--password-stdin", "--json")
    added = run(url, *alice, stdin="correct horse\n")
    assert added.returncode == 0, added.stderr
    (line,) = added.stdout.splitlines()
    body = json.loads(line)
    assert set(body) == {"login", "org", "role", "token"} and (body["org"], body["role"]) == (
        "甲银行",
        "bank",
    )
    engine = make_engine(url)
    with Session(engine) as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
        assert stored == [token_hash(body["token"])] and body["token"] not in stored
        user = session.scalars(select(User)).one()
        assert password_matches(user.password_hash, "correct horse")
        assert not password_matches(user.password_hash, "wrong horse")
    for refused in (
        ("users", "add", "alice", "--org", "甲银行", "--role", "bank"),  # taken
        ("users", "add", "bob", "--org", "乙银行", "--role", "bank"),  # no such org
        ("users", "add", "bob", "--org", "甲银行", "--role", "mediator", "--mediator", "x"),  # a bank
        ("users", "add", "bob", "--org", "甲银行", "--role", "admin"),
        ("users", "add", "13812345678", "--org", "甲银行", "--role", "bank"),  # looks like a phone
    ):
        answer = run(url, *refused)
        assert answer.returncode == 2 and "error" in answer.stderr and "Traceback" not in answer.stderr, (
            refused
        )
    assert "1 token revoked" in run(url, "users", "revoke", "alice").stdout
    with Session(engine) as session:
        assert session.scalars(select(ApiToken.revoked_at)).one() is not None
    audit = [json.loads(line) for line in run(url, "audit", "--json").stdout.splitlines()]
    assert [e["action"] for e in audit] == ["user.revoke", "user.add", "organization.add"]
    engine.dispose()


def test_a_mediator_user_is_one_mediator_of_its_center(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as session:
        add_organization(session, "示范调解中心", "mediation_center")
        with pytest.raises(InvalidAccount, match="--mediator"):
            add_user(session, "chen", "示范调解中心", "mediator")
        with pytest.raises(NotFound, match="no mediator called 陈静"):
            add_user(session, "chen", "示范调解中心", "mediator", mediator="陈静")
    engine.dispose()


@pytest.fixture
def world_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tenancy.sqlite3'}"
    build_world(url).engine.dispose()
    return url


def test_show_and_export_are_one_banks_view(world_url: str, tmp_path: Path) -> None:
    engine = make_engine(world_url)
    with Session(engine) as session:
        view = debtor_view(session, "CF001", "bank-a")
        assert [r.organization for r in view.records] == ["bank-a", "court-export"]  # not bank-b's
        assert "CF777" not in str(view) and "bank-b" not in str(view)
        assert [c.shown for c in view.contacts if c.channel == "phone"] == [
            "+86 139****0002",
            "+86 138****0001",
        ]
        shared = debtor_view(session, "CF001", "bank-a", share=True)
        others = [r for r in shared.records if r.source == "another bank"]
        assert len(others) == 1 and others[0].organization is None and others[0].reference is None
        assert "CF777" not in str(shared) and "bank-b" not in str(shared)
        assert {c.shown for c in shared.contacts} >= {"+86 136****0006"}
        with pytest.raises(NotFound):
            debtor_view(session, "CF001", "bank-b")
        out = tmp_path / "a.csv"
        export_contacts(session, out, org="bank-a")
        text = out.read_text(encoding="utf-8-sig")
        assert (
            NEW in text and OTHER_BANK_PHONE not in text and B_OWN_PHONE not in text and "CF777" not in text
        )
        export_contacts(session, out, org="bank-a", share=True)
        rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
        # Shown as "another bank", but not exported: bank-b's batch lists it, so it is known to have
        # failed (main's known_failed), and the export leaves out what the bank gets nothing from.
        other = [c for c in shared.contacts if c.shown == "+86 136****0006"]
        assert other[0].sources == "another bank 2026-06-01" and "known_failed" in other[0].flags
        assert OTHER_BANK_PHONE not in str(rows) and "CF777" not in str(rows) and NEW in str(rows)
    engine.dispose()
    assert run(world_url, "show", "CF001").returncode == 2  # --org is required
    assert run(world_url, "export", "contacts", "--out", str(tmp_path / "x.csv")).returncode == 2
    shown = run(world_url, "show", "CF001", "--org", "bank-a")
    assert shown.returncode == 0 and "CF777" not in shown.stdout and "bank-b" not in shown.stdout
