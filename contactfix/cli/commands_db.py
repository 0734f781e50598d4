"""``contactfix db``: schema migrations."""

from __future__ import annotations

from contactfix.cli.app import db_app


@db_app.command("upgrade")
def upgrade(revision: str = "head") -> None:
    """Apply the migrations to CONTACTFIX_DATABASE_URL (a SQLite file by default)."""
    from contactfix.db.migrate import upgrade_database
    from contactfix.settings import get_settings

    upgrade_database(get_settings().database_url, revision)
