"""Outcomes: what mediators and dialers report, its effects, the next candidate, and the funnel."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from repair_support import AS_OF, World
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from contactfix.cli import app, load_commands
from contactfix.db.dispatch_models import Dispatch, DoNotContact
from contactfix.db.engine import make_engine, session_factory
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import AuditEntry, Debtor
from contactfix.db.outcome_models import Outcome
from contactfix.dispatch.mediators import MediatorInput, add_mediator
from contactfix.pipeline.outcomes import InvalidOutcome, parse_result, record_outcome
from contactfix.pipeline.repair import repair_contacts
from contactfix.pipeline.report import FUNNEL_KEYS, funnel
from contactfix.settings import get_settings

load_commands(["outcome", "report"])

LOST, FIRST, SECOND = "+8613800000001", "+8613900000002", "+8613700000003"


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def _world(session: Session) -> tuple[World, Debtor]:
    """A debtor the bank lost on LOST, with two newer candidates in court filings and a mediator."""
    world = World(session)
    add_mediator(session, MediatorInput(name="陈静", phone="13800000009", center="示范调解中心"))
    run = world.run()
    debtor = world.debtor("CF001", "张伟", LOST)
    newer = world.record("court", "张伟", reference="A", observed_on=dt.date(2026, 1, 1), phones=[FIRST])
    older = world.record("court", "张伟", reference="B", observed_on=dt.date(2024, 1, 1), phones=[SECOND])
    world.identity(run, (world.bank_records[debtor.id], 1.0), (newer, 0.99), (older, 0.99))
    repair_contacts(session, run, as_of=AS_OF)
    session.expire_all()  # repair moves statuses with set-wise UPDATEs
    return world, debtor


def _dispatched(session: Session, debtor_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Dispatch.contact_value, Dispatch.state)
        .where(Dispatch.debtor_id == debtor_id)
        .order_by(Dispatch.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_wrong_number_dispatches_the_next_candidate_once(session: Session) -> None:
    world, debtor = _world(session)
    assert debtor.status == "repaired" and _dispatched(session, debtor.id) == [(FIRST, "pending")]
    record_outcome(session, debtor_id=debtor.id, contact=FIRST, result="号码错误", reporter="m1")
    # The unsent dispatch of the wrong number is stopped at once.
    assert _dispatched(session, debtor.id) == [(FIRST, "blocked")]
    counts = repair_contacts(session, world.run(), as_of=AS_OF)
    assert counts.redispatched == 1 and _dispatched(session, debtor.id) == [
        (FIRST, "blocked"),
        (SECOND, "pending"),
    ]
    again = repair_contacts(session, world.run(), as_of=AS_OF)  # nothing sent twice
    assert again.redispatched == 0 and len(_dispatched(session, debtor.id)) == 2
    # The last candidate wrong too: the debtor is lost again, never dispatched on the bank's number.
    record_outcome(session, debtor_id=debtor.id, contact=SECOND, result="wrong_number", reporter="m1")
    last = repair_contacts(session, world.run(), as_of=AS_OF)
    session.expire_all()
    assert last.lost_again == 1 and debtor.status == "lost"
    assert LOST not in {value for value, _ in _dispatched(session, debtor.id)}


def test_reached_and_mediated_move_the_debtor_forward(session: Session) -> None:
    _, debtor = _world(session)
    record_outcome(session, debtor_id=debtor.id, contact=FIRST, result="promised_to_pay", reporter="m1")
    assert debtor.status == "reached"
    record_outcome(session, debtor_id=debtor.id, contact=FIRST, result="mediated", reporter="m1", note="和解")
    assert debtor.status == "closed"
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "outcome.recorded")).all()
    assert [e.detail["result"] for e in entries] == ["promised_to_pay", "mediated"]
    assert all(e.detail["contact"] == "+86 139****0002" for e in entries)


def test_an_objection_stops_all_contact_with_the_debtor(session: Session) -> None:
    _, debtor = _world(session)
    record_outcome(session, debtor_id=debtor.id, contact=FIRST, result="objected", reporter="m1")
    listed = set(session.scalars(select(DoNotContact.value)))
    assert listed == {LOST, FIRST, SECOND}
    assert {state for _, state in _dispatched(session, debtor.id)} == {"blocked"}
    record_outcome(
        session, debtor_id=debtor.id, contact=SECOND, result="objected", reporter="m2"
    )  # no duplicates
    assert session.query(DoNotContact).count() == 3


def test_bad_reports_are_refused_with_a_masked_message(session: Session) -> None:
    _, debtor = _world(session)
    with pytest.raises(InvalidOutcome, match="unknown result 'answered'"):
        record_outcome(session, debtor_id=debtor.id, contact=FIRST, result="answered", reporter="m")
    with pytest.raises(InvalidOutcome, match=r"has no contact \+86 136\*\*\*\*9999") as refused:
        record_outcome(session, debtor_id=debtor.id, contact="13612349999", result="reached", reporter="m")
    assert "13612349999" not in str(refused.value)
    with pytest.raises(InvalidOutcome, match="not a valid phone"):
        record_outcome(session, debtor_id=debtor.id, contact="12", result="reached", reporter="m")
    with pytest.raises(InvalidOutcome, match="no debtor"):
        record_outcome(session, debtor_id=10**6, contact=FIRST, result="reached", reporter="m")
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    with pytest.raises(InvalidOutcome, match="future"):
        record_outcome(
            session, debtor_id=debtor.id, contact=FIRST, result="reached", reporter="m", reported_at=future
        )
    assert session.query(Outcome).count() == 0
    assert parse_result(" Reached ") == parse_result("接通本人") == parse_result("reached")


def test_the_funnel_counts_each_stage(session: Session) -> None:
    _, debtor = _world(session)
    record_outcome(session, debtor_id=debtor.id, contact=FIRST, result="wrong_number", reporter="m")
    record_outcome(session, debtor_id=debtor.id, contact=SECOND, result="mediated", reporter="m")
    counts = funnel(session)
    assert tuple(counts) == FUNNEL_KEYS
    assert counts["repaired_records"] == 1 and counts["repaired_carrier"] == 0
    assert (counts["wrong_number"], counts["reached"], counts["mediated"], counts["objected"]) == (1, 1, 1, 0)
    assert counts["dispatched"] == 0  # planned, not sent yet
    other = funnel(session, organization_id=debtor.organization_id + 100)
    assert set(other.values()) == {0}


@pytest.fixture
def cli_database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        _world(session)
        session.commit()
    engine.dispose()
    monkeypatch.setenv("CONTACTFIX_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


def test_outcome_command_records_one_report_and_refuses_unknowns(cli_database: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app, ["outcome", "CF001", "--org", "bank-a", "--contact", FIRST, "--result", "reached", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["result"] == "reached"
    for arguments, message in (
        (["CF999", "--org", "bank-a", "--contact", FIRST, "--result", "reached"], "no debtor"),
        (["CF001", "--org", "nobody", "--contact", FIRST, "--result", "reached"], "no organisation"),
        (["CF001", "--org", "bank-a", "--contact", "13612349999", "--result", "reached"], "has no contact"),
        (["CF001", "--org", "bank-a", "--contact", FIRST, "--result", "maybe"], "unknown result"),
    ):
        refused = runner.invoke(app, ["outcome", *arguments])
        assert refused.exit_code == 2 and message in refused.output, arguments
        assert "13612349999" not in refused.output


def test_outcome_file_keeps_good_rows_and_names_bad_ones(cli_database: str, tmp_path: Path) -> None:
    export = tmp_path / "dialer.csv"
    export.write_text(
        "reference,contact,result,reported_at,note\n"
        f"CF001,{FIRST},无人接听,2026-06-01 10:00,\n"
        "CF404,13900000002,reached,,\n"
        f"CF001,{SECOND},wrongish,,\n"
        f"CF001,{SECOND},reached,2026-06-02T09:30:00+08:00,本人接听\n",
        encoding="gb18030",
    )
    result = CliRunner().invoke(app, ["outcome", "--file", str(export), "--org", "bank-a", "--json"])
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert summary["recorded"] == 2 and [p["row"] for p in summary["refused"]] == [3, 4]
    report = CliRunner().invoke(app, ["report", "--org", "bank-a", "--json"])
    counts = json.loads(report.stdout)
    assert list(counts) == list(FUNNEL_KEYS) and counts["reached"] == 1
