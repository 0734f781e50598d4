"""``contactfix orgs …``, ``contactfix users …`` and ``contactfix audit``: who may use the API.

    contactfix orgs add NAME --kind bank|mediation_center|court     (re-adding is a no-op)
    contactfix orgs list
    contactfix users add LOGIN --org NAME --role bank|mediator|operator [--mediator NAME]
                         [--password-stdin] [--json]
    contactfix users revoke LOGIN
    contactfix users list
    contactfix audit [--actor LOGIN] [--org NAME] [--action A] [--limit N] [--json]

``users add`` prints the user's API token once; only its hash is kept.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contactfix.cli.app import app, configured_session

orgs_app = typer.Typer(help="Organisations: banks, mediation centers, courts.", no_args_is_help=True)
users_app = typer.Typer(help="Users of the API and their tokens.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(users_app, name="users")


@orgs_app.command("add")
def orgs_add(
    name: Annotated[str, typer.Argument(help="The organisation's name (e.g. 甲银行).")],
    kind: Annotated[str, typer.Option("--kind", help="bank, mediation_center or court.")],
) -> None:
    """Add an organisation; adding one that exists (same kind) changes nothing."""
    from contactfix.access import add_organization

    with configured_session() as session, session.begin():
        organization, created = add_organization(session, name, kind)
        text = f"organisation {organization.id}: {organization.name} ({organization.kind})"
    Console(highlight=False).print(text if created else f"{text} already exists")


@orgs_app.command("list")
def orgs_list() -> None:
    """List the organisations."""
    from sqlalchemy import select

    from contactfix.db.models import Organization

    table = Table("id", "name", "kind")
    with configured_session() as session:
        for org in session.scalars(select(Organization).order_by(Organization.id)):
            table.add_row(str(org.id), org.name, org.kind)
    Console(highlight=False).print(table)


@users_app.command("add")
def users_add(
    login: Annotated[str, typer.Argument(help="The user's login.")],
    org: Annotated[str, typer.Option("--org", help="The organisation the user belongs to.")],
    role: Annotated[str, typer.Option("--role", help="bank, mediator or operator.")],
    mediator: Annotated[
        str | None, typer.Option("--mediator", help="For a mediator: their name in the organisation.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a password for the web pages from stdin.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="One line: login, org, role, token.")] = False,
) -> None:
    """Create a user and print its API token once (only a hash of it is kept)."""
    from contactfix.access import add_user

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    with configured_session() as session, session.begin():
        user = add_user(session, login, org, role, mediator=mediator, password=password)
    if json_output:
        body = {"login": user.login, "org": user.organization, "role": user.role.value, "token": user.token}
        print(json.dumps(body, ensure_ascii=False))
        return
    console = Console(highlight=False)
    console.print(f"user {user.login} ({user.role.value}) of {user.organization}")
    console.print("API token (shown once, keep it safe):")
    print(user.token)


@users_app.command("revoke")
def users_revoke(login: Annotated[str, typer.Argument(help="The user's login.")]) -> None:
    """Revoke every API token of a user."""
    from contactfix.access import revoke_user

    with configured_session() as session, session.begin():
        count = revoke_user(session, login)
    Console(highlight=False).print(f"{login}: {count} token{'' if count == 1 else 's'} revoked")


@users_app.command("list")
def users_list() -> None:
    """List users with their organisation, role and live tokens."""
    from sqlalchemy import func, select

    from contactfix.db.access_models import ApiToken, User
    from contactfix.db.models import Organization

    live = (
        select(func.count())
        .where(ApiToken.user_id == User.id, ApiToken.revoked_at.is_(None))
        .scalar_subquery()
    )
    query = (
        select(User.login, Organization.name, User.role, User.mediator_id, live)
        .join(Organization, Organization.id == User.organization_id)
        .order_by(User.id)
    )
    table = Table("login", "org", "role", "mediator", "tokens")
    with configured_session() as session:
        for login, org, role, mediator_id, tokens in session.execute(query):
            table.add_row(login, org, role, str(mediator_id or "–"), str(tokens))
    Console(highlight=False).print(table)


@app.command("audit")
def audit_command(
    actor: Annotated[str | None, typer.Option("--actor", help="Only this login (or cli, intake…).")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Only calls made for this organisation.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action, e.g. debtor.read.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Newest entries shown.")] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The audit log, newest first: who, for which organisation, did what, when (no unmasked PII)."""
    from contactfix.queries.audit import AuditFilter, audit_entries

    with configured_session() as session:
        entries = audit_entries(
            session, AuditFilter(actor=actor, organization=org, action=action, limit=limit)
        )
    if json_output:
        for entry in entries:
            print(json.dumps(entry, ensure_ascii=False, default=str))
        return
    table = Table("id", "at", "actor", "org", "action", "subject", "detail")
    for e in entries:
        subject = (
            f"{e['subject_type']} {e['subject_id']}" if e["subject_id"] is not None else e["subject_type"]
        )
        detail = json.dumps(e["detail"], ensure_ascii=False)
        table.add_row(
            str(e["id"]), e["at"][:19], e["actor"], e["organization"] or "–", e["action"], subject, detail
        )
    Console(highlight=False).print(table)
