"""The command table: every command is found by name, and a command loads only what it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.core
import typer.main
from typer.testing import CliRunner

from contactfix.cli import COMMAND_MODULES, app, load_commands


def _registered_names() -> set[str]:
    commands = {
        c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands if c.callback
    }
    groups = {g.name for g in app.registered_groups if g.name}
    return commands | groups


def test_every_registered_command_is_in_the_table_and_back() -> None:
    load_commands()
    assert _registered_names() == set(COMMAND_MODULES)


def test_link_does_not_import_the_database_or_phone_geocoding() -> None:
    code = (
        "import sys; sys.argv = ['contactfix', 'link', '--help'];"
        "from contactfix.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'phonenumbers.geocoder', 'contactfix.intake')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contactfix", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for name in COMMAND_MODULES:
        assert name in result.stdout, name


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under ``command``, as the words that name it on the command line."""
    found = [path]
    if isinstance(command, typer.core.TyperGroup):
        for name, sub in command.commands.items():
            found += _command_paths(sub, (*path, name))
    return found


def test_no_help_labels_a_flag_with_a_value_type() -> None:
    load_commands()
    root = typer.main.get_command(app)
    paths = _command_paths(root)
    assert ("dispatch", "status") in paths and ("demo",) in paths  # commands with flags are walked
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        assert "--help" in result.output, path
        assert "<bool>" not in result.output, (path, result.output)
    result = runner.invoke(app, ["link", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert "<float" in result.output  # an option that takes a value still says which


def test_the_installed_command_shows_flags_without_a_type() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contactfix", "dispatch", "status", "--help"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    assert result.returncode == 0 and "--json" in result.stdout
    assert "<bool>" not in result.stdout, result.stdout


def test_the_readme_command_table_is_one_table() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("| `contactfix ")]
    header = rows[0] - 2
    assert lines[header].startswith("| command |") and set(lines[header + 1]) <= set("|- ")
    # A blank or any other line inside the block would end the table there (Markdown).
    assert rows == list(range(rows[0], rows[0] + len(rows))), "the command table is split"
    listed = " ".join(lines[i].split("|")[1] for i in rows)
    for name in ("demo", "show", "export", "mediators", "dispatch", "serve"):  # both sides of the old gap
        assert f"`contactfix {name}" in listed or f"`{name}`" in listed, name
