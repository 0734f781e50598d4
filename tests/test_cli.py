"""The command table: every command is found by name, and a command loads only what it needs."""

from __future__ import annotations

import subprocess
import sys

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
