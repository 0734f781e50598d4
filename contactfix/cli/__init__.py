"""Command line: ``contactfix``. Errors raised on purpose are printed without a traceback.

Each command lives in its own module, which registers it on :data:`app` when imported. ``main`` imports
only the module of the command being run: ``contactfix link`` must not pay for the database, intake
and phone-geocoding imports of the other commands (start-up is most of a 5,000 × 5,000 link).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Sequence

from rich.console import Console

from contactfix.cli.app import app
from contactfix.errors import ContactfixError

__all__ = ["COMMAND_MODULES", "app", "load_commands", "main"]

# Top-level command name → the module under contactfix.cli that defines it.
COMMAND_MODULES: dict[str, str] = {
    "db": "commands_db",
    "demo": "commands_demo",
    "sample": "commands_sample",
    "submit": "commands_intake",
    "import-court": "commands_intake",
    "link": "commands_link",
    "reconcile": "commands_reconcile",
    "carrier": "commands_carrier",
    "show": "commands_show",
    "export": "commands_export",
    "mediators": "commands_dispatch",
    "dispatch": "commands_dispatch",
    "worker": "commands_service",
    "beat": "commands_service",
    "serve": "commands_service",
    "outcome": "commands_outcome",
    "calibrate": "commands_outcome",
    "report": "commands_outcome",
    "orgs": "commands_access",
    "users": "commands_access",
    "audit": "commands_access",
    "erase": "commands_privacy",
    "retention": "commands_privacy",
    "keys": "commands_keys",
}


def load_commands(names: Iterable[str] | None = None) -> None:
    """Register the commands called ``names`` on :data:`app`; every command when ``names`` is None."""
    wanted = COMMAND_MODULES.values() if names is None else (COMMAND_MODULES[n] for n in names)
    for module in sorted(set(wanted)):
        importlib.import_module(f"contactfix.cli.{module}")


def _command_name(argv: Sequence[str]) -> str | None:
    """The command the arguments name, or None (``--help``, nothing, or a name we do not know)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMAND_MODULES else None


def main() -> None:
    """Entry point of the ``contactfix`` script."""
    name = _command_name(sys.argv[1:])
    load_commands(None if name is None else [name])
    try:
        app()
    except ContactfixError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
