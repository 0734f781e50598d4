"""``contactfix carrier run [--json]``: one pass of carrier repair on its own, outside the nightly run.

It asks the repair connector of ``connectors.toml`` (``[repair]``) about the debtors still lost with an
ID number and an authorisation, settles what earlier passes left, renews the numbers about to expire,
and relays the dispatches of the newly repaired. It holds the reconciliation lock, so it never runs
beside a reconciliation (which runs the same pass). Exit code 0 when the pass ran, 2 when it could not
(the lock is taken, a setting is wrong, no schema). ``--json`` prints exactly one line of counts (or
``{"error": …}``). Nothing printed holds an ID number or a phone.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from contactfix.cli.app import app, fail
from contactfix.errors import ContactfixError

carrier_app = typer.Typer(
    help="Carrier repair (失联修复): ask a carrier about debtors still lost.", no_args_is_help=True
)
app.add_typer(carrier_app, name="carrier")

_LABELS = (
    ("carrier_requested", "requests accepted by the carrier"),
    ("carrier_answered", "answered: repaired"),
    ("carrier_no_match", "answered: not repaired"),
    ("carrier_pending", "not settled yet"),
    ("carrier_retrying", "to send again (carrier unavailable)"),
    ("carrier_failed", "failed (see carrier_requests)"),
    ("carrier_repaired", "debtors newly repaired"),
    ("carrier_renewed", "numbers renewed"),
    ("carrier_dispatches_planned", "dispatches to mediators"),
    ("carrier_unauthorised", "lost, no authorisation: not asked"),
    ("carrier_no_full_id", "lost, no full ID number: not asked"),
)


@carrier_app.command("run")
def carrier_run(
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the counts as one line of JSON.")
    ] = False,
) -> None:
    """Ask the carrier about the debtors still lost, settle earlier batches, renew expiring numbers."""
    try:
        counts = _run()
    except ContactfixError as exc:
        raise fail(exc, json_output) from None
    if counts.get("carrier_dispatches_planned"):
        from contactfix.cli.commands_dispatch import kick_relay

        counts["dispatches_relayed"] = kick_relay()
    if json_output:
        print(json.dumps(counts, ensure_ascii=False, sort_keys=True))
        return
    console = Console(highlight=False)
    console.print(f"[bold]Carrier repair[/] through {counts.pop('connector')}")
    for key, label in _LABELS:
        console.print(f"  {label:<38} {counts.get(key, 0):>8,}")


def _run() -> dict[str, Any]:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from contactfix.db.engine import make_engine
    from contactfix.pipeline.carrier import CarrierOptions, carrier_repair
    from contactfix.pipeline.carrier_connector import load_repair_config, open_repair_connector
    from contactfix.pipeline.lock import reconcile_lock, redis_lock_url
    from contactfix.settings import get_settings

    settings = get_settings()
    config = load_repair_config(settings)
    connector = open_repair_connector(config)
    options = CarrierOptions.from_service(settings, config.connector)
    engine = make_engine(settings.database_url)
    try:
        with reconcile_lock(engine, redis_lock_url(settings.broker_url)):
            counts = carrier_repair(engine, connector, options).as_dict()
    except (OperationalError, ProgrammingError) as exc:
        raise CarrierRunError(
            "the database is not reachable or has no schema (run `contactfix db upgrade`)"
        ) from exc
    finally:
        engine.dispose()
    return {"connector": config.connector, **counts}


class CarrierRunError(ContactfixError):
    """The pass could not run; the message says why, without personal data."""
