"""``contactfix db``: schema migrations."""

from __future__ import annotations

from contactfix.cli.app import db_app


@db_app.command("upgrade")
def upgrade(revision: str = "head") -> None:
    """Apply the migrations to CONTACTFIX_DATABASE_URL (a SQLite file by default)."""
    from contactfix.db.migrate import upgrade_database
    from contactfix.settings import get_settings

    upgrade_database(get_settings().database_url, revision)


@db_app.command("current")
def current() -> None:
    """Print the schema revision of CONTACTFIX_DATABASE_URL; fail if the database does not answer.

    The Docker health check runs this: exit 0 means the database is reachable and at head.
    """
    from contactfix.db.migrate import current_revision, head_revision
    from contactfix.errors import ContactfixError
    from contactfix.settings import get_settings

    revision = current_revision(get_settings().database_url)
    head = head_revision()
    print(f"{revision or 'empty'} (head {head})")
    if revision != head:
        raise ContactfixError("the database schema is not at head: run `contactfix db upgrade`")
