"""``contactfix reconcile``, the repair step it runs, and the nightly Celery task with its schedule."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pytest
import sqlalchemy as sa
from celery.schedules import crontab
from intake_support import UNMASKED
from reconcile_support import World, load_world, world  # noqa: F401  (the fixture)
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from contactfix.cli import app, load_commands
from contactfix.db import make_engine
from contactfix.db.models import Debtor
from contactfix.errors import SettingsError
from contactfix.intake import import_court_export
from contactfix.pipeline.lock import database_lock
from contactfix.pipeline.reconcile import reconcile
from contactfix.settings import get_settings, load_settings
from contactfix.tasks import beat_schedule, make_celery, reconcile_nightly

load_commands(["reconcile"])


@pytest.fixture
def database(sqlite_url: str, world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: F811
    load_world(sqlite_url, world).dispose()
    monkeypatch.setenv("CONTACTFIX_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


def test_reconcile_json_prints_one_line_of_counts(database: str) -> None:
    first = CliRunner().invoke(app, ["reconcile", "--json"])
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert len(lines) == 1
    counts = json.loads(lines[0])
    assert counts["full"] is True and counts["new_identities"] > 0 and counts["run_id"] == 1
    assert {"newly_repaired", "demoted_contacts", "records_compared", "links"} <= set(counts)
    second = json.loads(CliRunner().invoke(app, ["reconcile", "--json"]).stdout)
    assert (second["full"], second["records_compared"], second["run_id"]) == (False, 0, 2)


def test_reconcile_prints_what_changed_without_personal_data(database: str) -> None:
    result = CliRunner().invoke(app, ["reconcile", "--full"])
    assert result.exit_code == 0, result.output
    assert "new identities" in result.stdout and "debtors newly repaired" in result.stdout
    assert not UNMASKED.search(result.stdout)


def test_reconcile_refuses_while_another_runs(database: str) -> None:
    with database_lock(make_engine(database)):
        result = CliRunner().invoke(app, ["reconcile", "--json"])
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and set(json.loads(lines[0])) == {"error"}
    assert "another reconciliation is running" in result.stdout


def test_repair_runs_for_the_debtors_of_regrouped_identities(sqlite_url: str, world: World) -> None:  # noqa: F811
    engine = load_world(sqlite_url, world)
    calls: list[tuple[int, Sequence[int] | None]] = []

    def step(session: Session, run_id: int, debtor_ids: Sequence[int] | None) -> dict[str, int]:
        calls.append((run_id, debtor_ids))
        return {"newly_repaired": 0, "demoted_contacts": 0}

    first = reconcile(engine, repair=step)
    assert calls == [(first.run_id, None)]  # a full run repairs every debtor
    import_court_export(engine, world.court_new)
    second = reconcile(engine, repair=step)
    run_id, debtors = calls[-1]
    assert run_id == second.run_id and debtors
    with engine.connect() as connection:
        everyone = connection.execute(sa.select(sa.func.count()).select_from(Debtor)).scalar_one()
    assert len(debtors) < everyone  # only those whose identities the new records touched
    reconcile(engine, repair=step)
    assert len(calls) == 2  # nothing changed, nothing to repair


def test_beat_schedule_runs_nightly_at_the_configured_time() -> None:
    schedule = beat_schedule("02:30")["reconcile-nightly"]
    assert schedule["task"] == "contactfix.reconcile_nightly"
    assert schedule["schedule"] == crontab(hour=2, minute=30)
    with pytest.raises(SettingsError, match="reconcile_at"):
        beat_schedule("2am")


def test_celery_app_uses_the_settings_time_zone_and_runs_eagerly_without_a_broker() -> None:
    celery = make_celery(load_settings(environ={}, timezone="Asia/Shanghai"))
    assert celery.conf.timezone == "Asia/Shanghai" and celery.conf.task_always_eager
    assert celery.conf.beat_schedule["reconcile-nightly"]["schedule"] == crontab(hour=2, minute=0)
    brokered = make_celery(load_settings(environ={}, broker_url="redis://127.0.0.1:6379/0"))
    assert not brokered.conf.task_always_eager


def test_nightly_task_reconciles_and_skips_while_locked(database: str) -> None:
    counts = reconcile_nightly.apply().get()
    assert counts["full"] is True and counts["new_identities"] > 0
    with database_lock(make_engine(database)):
        skipped = reconcile_nightly.apply().get()
    assert "another reconciliation is running" in skipped["skipped"]


def test_resolve_settings_come_from_the_service_settings() -> None:
    from types import SimpleNamespace

    from contactfix.pipeline.resolve import ResolveSettings

    plain = ResolveSettings.from_service(load_settings(environ={}, match_threshold=0.7))
    assert (plain.threshold, plain.max_block_size, plain.merge_probability) == (0.7, 50, 0.99)
    assert plain.lookback.total_seconds() == 3600
    tuned = ResolveSettings.from_service(
        SimpleNamespace(
            match_threshold=0.6,
            reconcile_max_block_size=20,
            reconcile_merge_probability=0.95,
            reconcile_lookback_minutes=10,
        )
    )
    assert (tuned.threshold, tuned.max_block_size, tuned.merge_probability) == (0.6, 20, 0.95)
    assert tuned.lookback.total_seconds() == 600


def test_reconcile_relays_the_dispatches_of_the_newly_repaired(
    database: str, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contactfix.db.dispatch_models import Dispatch
    from contactfix.dispatch.mediators import MediatorInput, add_mediator

    monkeypatch.setenv("CONTACTFIX_OUTBOX_PATH", str(tmp_path / "outbox.jsonl"))  # type: ignore[operator]
    # The small world is measured to today, so its phones are older: a low bar repairs some.
    monkeypatch.setenv("CONTACTFIX_REPAIR_CONFIDENCE_THRESHOLD", "0.3")
    get_settings.cache_clear()
    engine = make_engine(database)
    with Session(engine) as session, session.begin():
        add_mediator(session, MediatorInput("陈静", "+8613800000001", "示范调解中心"))
    result = CliRunner().invoke(app, ["reconcile", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout.splitlines()[0])
    assert counts["newly_repaired"] > 0
    assert counts["dispatches_planned"] == counts["newly_repaired"] == counts["dispatches_relayed"]
    with Session(engine) as session:
        states = set(session.scalars(sa.select(Dispatch.state)))
    engine.dispose()
    # Sent at once without a broker: delivered within the hours, deferred outside them.
    assert states and states <= {"delivered", "deferred"}
