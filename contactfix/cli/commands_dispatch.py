"""``contactfix mediators …`` and ``contactfix dispatch …``: who receives repaired contacts, and how
the dispatches stand.

    contactfix mediators add NAME --phone P --center C [--hours 08:30-17:30]
    contactfix mediators list
    contactfix mediators assign REFERENCE --mediator NAME [--org BANK] [--center C]
    contactfix dispatch status [--json]
    contactfix dispatch retry-dead
    contactfix dispatch relay

Phones are printed masked.
"""

from __future__ import annotations

import json
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from contactfix.cli.app import app, configured_session

mediators_app = typer.Typer(
    help="Mediators: who receives repaired contacts, and their hours.", no_args_is_help=True
)
dispatch_app = typer.Typer(
    help="Dispatches: repaired contacts on their way to mediators.", no_args_is_help=True
)
app.add_typer(mediators_app, name="mediators")
app.add_typer(dispatch_app, name="dispatch")


@mediators_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="The mediator's name.")],
    phone: Annotated[str, typer.Option("--phone", help="Mobile number that receives the texts.")],
    center: Annotated[str, typer.Option("--center", help="The mediation center (调解中心) they belong to.")],
    hours: Annotated[
        str | None, typer.Option("--hours", help="Working hours HH:MM-HH:MM (default: the policy profile's).")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="IANA zone (default: the profile's).")
    ] = None,
) -> None:
    """Add a mediator. Repaired debtors without a mediator are assigned and dispatched at once."""
    from connectors.masking import mask_phone
    from contactfix.dispatch.mediators import MediatorInput, add_mediator
    from contactfix.dispatch.planning import plan_undispatched

    with configured_session() as session, session.begin():
        mediator = add_mediator(session, MediatorInput(name, phone, center, hours, timezone))
        planned = plan_undispatched(session)
        shown = (mediator.id, mediator.name, mediator.center, mask_phone(mediator.phone), mediator.hours)
    console = Console(highlight=False)
    hours_text = shown[4] or "the policy default"
    console.print(f"mediator {shown[0]}: {shown[1]} ({shown[2]}), {shown[3]}, hours {hours_text}")
    if planned.planned:
        console.print(f"{planned.planned} waiting repaired debtors assigned to mediators")
        console.print(f"{kick_relay()} dispatches relayed now (without a broker: sent in this process)")
        print_waiting(console)


@mediators_app.command("list")
def list_command() -> None:
    """List mediators with their center, masked phone, hours and number of cases."""
    from sqlalchemy import func, select

    from connectors.masking import mask_phone
    from contactfix.db.dispatch_models import CaseAssignment, Mediator

    table = Table("id", "name", "center", "phone", "hours", "active", "cases")
    with configured_session() as session:
        counted = select(CaseAssignment.mediator_id, func.count()).group_by(CaseAssignment.mediator_id)
        cases = {mediator_id: count for mediator_id, count in session.execute(counted).all()}
        for m in session.scalars(select(Mediator).order_by(Mediator.id)):
            active = "yes" if m.active else "no"
            row = (str(m.id), m.name, m.center, mask_phone(m.phone), m.hours or "default", active)
            table.add_row(*row, str(cases.get(m.id, 0)))
    Console(highlight=False).print(table)


@mediators_app.command("assign")
def assign_command(
    reference: Annotated[
        str, typer.Argument(help="The debtor's reference (the bank's account or loan number).")
    ],
    mediator: Annotated[str, typer.Option("--mediator", help="The mediator's name.")],
    org: Annotated[
        str | None, typer.Option("--org", help="The bank, when several share the reference.")
    ] = None,
    center: Annotated[
        str | None, typer.Option("--center", help="The mediator's center, when names repeat.")
    ] = None,
) -> None:
    """Give one debtor's case to a named mediator (instead of round-robin)."""
    from contactfix.cli.commands_show import find_debtor
    from contactfix.dispatch.mediators import assign_explicitly, find_mediator

    with configured_session() as session, session.begin():
        debtor, _ = find_debtor(session, reference, org)
        chosen = find_mediator(session, mediator, center)
        assign_explicitly(session, debtor.id, chosen)
        text = f"{reference}: assigned to {chosen.name} ({chosen.center})"
    Console(highlight=False).print(text)


@dispatch_app.command("status")
def status_command(
    json_output: Annotated[
        bool, typer.Option("--json", help="One line: an object of state → count.")
    ] = False,
) -> None:
    """Count dispatches per state."""
    from contactfix.dispatch.status import state_counts

    with configured_session() as session:
        counts = state_counts(session)
    if json_output:
        print(json.dumps(counts))
        return
    table = Table("state", "dispatches")
    for state, count in counts.items():
        table.add_row(state, f"{count:,}")
    Console(highlight=False).print(table)


@dispatch_app.command("retry-dead")
def retry_dead_command() -> None:
    """Requeue every dead dispatch (after fixing what killed them), attempts reset."""
    from contactfix.dispatch.status import retry_dead

    with configured_session() as session, session.begin():
        revived = retry_dead(session)
    Console(highlight=False).print(f"{revived} dead dispatches back to pending")
    if revived:
        kick_relay()


@dispatch_app.command("relay")
def relay_command() -> None:
    """Enqueue every due dispatch now (beat does this every few seconds; without a broker it sends).

    Then say how many the policy holds for later, and when the first of them is due.
    """
    console = Console(highlight=False)
    console.print(f"{kick_relay()} dispatches enqueued")
    print_waiting(console)


def print_waiting(console: Console) -> None:
    """The dispatches deferred to a later time (outside the hours, say), and when the first is due."""
    from contactfix.db.engine import make_engine
    from contactfix.dispatch.relay import waiting_dispatches
    from contactfix.dispatch.sender import utcnow
    from contactfix.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        waiting = waiting_dispatches(engine, utcnow())
    finally:
        engine.dispose()
    if waiting.earliest is None:
        return
    zone = ZoneInfo(settings.timezone)
    when = f"{waiting.earliest.astimezone(zone):%Y-%m-%d %H:%M} {settings.timezone}"
    # One line each, never wrapped: operators grep them.
    text = f"{waiting.count:,} dispatches deferred to their allowed hours; the first is due {when}"
    console.print(text, soft_wrap=True)
    if settings.eager:  # no beat runs the relay: nobody sends them unless asked
        text = "without a broker nothing sends them by itself: run `contactfix dispatch relay` then"
        console.print(text, soft_wrap=True)


def kick_relay() -> int:
    """Run the relay now: in process without a broker (so the sends happen here), else through it."""
    from contactfix.settings import get_settings
    from contactfix.tasks import relay_dispatches

    if get_settings().eager:
        return int(relay_dispatches())
    relay_dispatches.delay()
    return 0
