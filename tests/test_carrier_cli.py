"""``contactfix carrier run``, the ``[repair]`` table of connectors.toml, and carrier repair in the
nightly reconciliation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from carrier_support import CarrierWorld, id_number, write_answers
from dispatch_support import add_mediators
from sqlalchemy import Engine
from typer.testing import CliRunner

from connectors.repair.sandbox import SandboxRepairConnector
from contactfix.cli import app, load_commands
from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.errors import SettingsError
from contactfix.pipeline.carrier import service_carrier_step
from contactfix.pipeline.carrier_connector import load_repair_config, open_repair_connector
from contactfix.pipeline.reconcile import reconcile
from contactfix.settings import get_settings, load_settings

load_commands(["carrier"])
SHIPPED = Path(__file__).resolve().parents[1] / "config" / "connectors.toml"
CONNECTORS = """
[dispatch]
sms = "outbox"
call = ""

[repair]
connector = "sandbox-repair"

[connectors.outbox]
rate_per_s = 1000.0
burst = 1000.0

[connectors.sandbox-repair]
answers_path = "answers.csv"
"""


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def configured(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI's settings: the database, an outbox, and a connectors file whose sandbox knows debtors
    0 and 1 (answers.csv beside it)."""
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "connectors.toml").write_text(CONNECTORS, encoding="utf-8")
    write_answers(folder / "answers.csv", [0, 1])
    monkeypatch.setenv("CONTACTFIX_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CONTACTFIX_CONNECTORS_FILE", str(folder / "connectors.toml"))
    monkeypatch.setenv("CONTACTFIX_OUTBOX_PATH", str(tmp_path / "outbox.jsonl"))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def test_the_shipped_file_names_the_sandbox_with_no_answers() -> None:
    config = load_repair_config(load_settings(environ={}), SHIPPED, {})
    assert (config.connector, dict(config.options)) == ("sandbox-repair", {})
    assert isinstance(open_repair_connector(config), SandboxRepairConnector)


def test_the_answers_path_is_read_relative_to_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "connectors.toml").write_text(CONNECTORS, encoding="utf-8")
    write_answers(tmp_path / "answers.csv", [0])
    config = load_repair_config(load_settings(environ={}), tmp_path / "connectors.toml", {})
    assert config.options == {"answers_path": str((tmp_path / "answers.csv").resolve())}


def test_mistakes_in_the_repair_table_are_named(tmp_path: Path) -> None:
    path = tmp_path / "connectors.toml"
    path.write_text('[repair]\nconnector = "nope"\ncolour = "blue"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_repair_config(load_settings(environ={}), path, {})
    assert "repair.connector: unknown connector 'nope'" in str(caught.value)
    assert "repair.colour: unknown key" in str(caught.value)


def test_a_bad_answers_file_names_its_line_never_the_value(tmp_path: Path) -> None:
    (tmp_path / "connectors.toml").write_text(CONNECTORS, encoding="utf-8")
    (tmp_path / "answers.csv").write_text(
        f"id_number,phone\n{id_number(0)},+8613700000000\n{id_number(1)},13712345678\n", encoding="utf-8"
    )
    config = load_repair_config(load_settings(environ={}), tmp_path / "connectors.toml", {})
    with pytest.raises(SettingsError) as caught:
        open_repair_connector(config)
    assert "line 3" in str(caught.value) and "E.164" in str(caught.value)
    assert "13712345678" not in str(caught.value) and id_number(1) not in str(caught.value)


def test_carrier_run_repairs_once_and_prints_one_line(engine: Engine, configured: Path) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-0")
    world.debtor(1, court_case=True)
    world.debtor(2)  # no authorisation
    add_mediators(engine, 1)

    first = CliRunner().invoke(app, ["carrier", "run", "--json"])
    assert first.exit_code == 0, first.output
    [line] = first.stdout.splitlines()
    counts = json.loads(line)
    assert counts["connector"] == "sandbox-repair"
    assert (counts["carrier_requested"], counts["carrier_repaired"], counts["carrier_unauthorised"]) == (
        2,
        2,
        1,
    )
    assert counts["carrier_dispatches_planned"] == 2
    again = json.loads(CliRunner().invoke(app, ["carrier", "run", "--json"]).stdout)
    assert (again["carrier_requested"], again["carrier_repaired"]) == (0, 0)
    text = CliRunner().invoke(app, ["carrier", "run"])
    assert text.exit_code == 0 and "debtors newly repaired" in text.stdout


def test_carrier_run_with_a_broken_answers_file_exits_2_with_the_reason(
    engine: Engine, configured: Path
) -> None:
    (configured / "answers.csv").write_text("id_number\n350103199001011234\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["carrier", "run", "--json"])
    assert result.exit_code == 2
    [line] = result.stdout.splitlines()
    assert "header id_number,phone" in json.loads(line)["error"]
    assert "350103199001011234" not in result.output


def test_the_nightly_reconciliation_runs_carrier_repair_after_repair(
    engine: Engine, configured: Path
) -> None:
    world = CarrierWorld(engine)
    world.debtor(0, contract="HT-0")
    world.debtor(1, contract="HT-1")
    step = service_carrier_step(get_settings())
    assert step is not None
    report = reconcile(engine, repair=False, carrier=step)
    assert (report.counts["carrier_requested"], report.counts["carrier_repaired"]) == (2, 2)
    assert "carrier" in report.counts["seconds"]
    assert world.status(0) == world.status(1) == "repaired"
    assert service_carrier_step(load_settings(environ={}, carrier_repair_enabled=False)) is None
