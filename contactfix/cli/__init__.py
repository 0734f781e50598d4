"""Command line: ``contactfix``. Errors raised on purpose are printed without a traceback."""

from __future__ import annotations

import sys

from rich.console import Console

from contactfix.cli.app import app
from contactfix.errors import ContactfixError

# Importing a command module registers its commands on ``app``.
from contactfix.cli import commands_db  # noqa: F401  isort: skip
from contactfix.cli import commands_demo  # noqa: F401  isort: skip
from contactfix.cli import commands_intake  # noqa: F401  isort: skip
from contactfix.cli import commands_sample  # noqa: F401  isort: skip

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``contactfix`` script."""
    try:
        app()
    except ContactfixError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
