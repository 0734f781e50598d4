"""The Typer application and its command groups. Command modules attach themselves to these."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
import typer.core


def _flags_show_no_value_type() -> None:
    """Typer's rich help labels every flag ``<bool>`` (and a count ``<int>``) as if it took a value;
    its plain help, like click's, shows none. Flags take no value: the help of every command of the app
    shows none (tests/test_cli.py runs every --help)."""
    typed = getattr(typer.core.TyperOption, "display_type_rich", None)
    if typed is None or getattr(typed, "_contactfix_flags", False):  # older Typer: click's help
        return

    def display_type_rich(self: typer.core.TyperOption, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        return typed(self, ctx)  # type: ignore[no-any-return]

    display_type_rich._contactfix_flags = True  # type: ignore[attr-defined]
    typer.core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_value_type()

app = typer.Typer(
    name="contactfix",
    help="Lost-contact repair (失联修复): take in bank and court records, link identities, "
    "repair contacts and push them lawfully to mediators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema: apply migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@contextmanager
def configured_session() -> Iterator[Session]:
    """A session on the configured database (``CONTACTFIX_DATABASE_URL``); its engine is disposed
    afterwards. The database layer is imported only when a command asks for it."""
    from sqlalchemy.orm import Session

    from contactfix.db.engine import make_engine
    from contactfix.settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def fail(exc: Exception, json_output: bool = False) -> typer.Exit:
    """Say what was wrong on stderr (and as ``{"error": …}`` on stdout with ``--json``, so a script
    reading stdout sees it too) and return the exit with code 2, to ``raise … from None``."""
    import json

    from rich.console import Console

    if json_output:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False))
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {exc}")
    return typer.Exit(2)
