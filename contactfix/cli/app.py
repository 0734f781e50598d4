"""The Typer application and its command groups. Command modules attach themselves to these."""

from __future__ import annotations

import typer

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
