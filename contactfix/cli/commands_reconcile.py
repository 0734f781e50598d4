"""``contactfix reconcile [--full] [--json]``: resolve what changed into identities, repair, and
relay the dispatches of the newly repaired (sent at once without a broker, within the policy's hours).

Exit code 0 when the run completed, 2 when it could not run (another reconciliation holds the lock,
no schema) or failed. ``--json`` prints exactly one line: the run's counts with ``run_id`` and
``full`` (or ``{"error": …}`` with exit code 2). Nothing printed holds an ID number or a phone.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from contactfix.cli.app import app, fail
from contactfix.errors import ContactfixError

# What the summary shows first, in this order, with its label; the other counts follow.
_HEADLINE = (
    ("new_identities", "new identities"),
    ("changed_identities", "identities changed"),
    ("newly_repaired", "debtors newly repaired"),
    ("dispatches_planned", "dispatches to mediators"),
    ("carrier_repaired", "repaired by the carrier"),
    ("demoted_contacts", "contacts demoted"),
    ("records_compared", "records compared"),
    ("links", "links written"),
)


@app.command("reconcile")
def reconcile_command(
    full: Annotated[bool, typer.Option("--full", help="Recompute everything, refitting the model.")] = False,
    keep_model: Annotated[
        bool, typer.Option("--keep-model", help="With --full: score with the stored model, do not refit.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the counts as one line of JSON.")
    ] = False,
) -> None:
    """Link new and changed records with court and other banks' records, then repair contacts."""
    from contactfix.db.engine import make_engine
    from contactfix.pipeline.carrier import service_carrier_step
    from contactfix.pipeline.lock import redis_lock_url
    from contactfix.pipeline.reconcile import reconcile, service_repair_step
    from contactfix.pipeline.resolve import ResolveSettings
    from contactfix.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        report = reconcile(
            engine,
            full=full,
            refit=not keep_model,
            settings=ResolveSettings.from_service(settings),
            repair=service_repair_step(settings),
            redis_url=redis_lock_url(settings.broker_url),
            carrier=service_carrier_step(settings),
        )
    except ContactfixError as exc:
        raise fail(exc, json_output) from None
    finally:
        engine.dispose()
    counts: dict[str, Any] = {"run_id": report.run_id, "full": report.full, **report.counts}
    if report.counts.get("dispatches_planned") or report.counts.get("carrier_dispatches_planned"):
        # What is new goes out now: sent here without a broker, else enqueued for the workers.
        from contactfix.cli.commands_dispatch import kick_relay

        counts["dispatches_relayed"] = kick_relay()
    if json_output:
        print(json.dumps(counts, ensure_ascii=False, sort_keys=True))
        return
    _print_summary(Console(highlight=False), report.run_id, report.full, report.reason, report.counts)


def _print_summary(console: Console, run_id: int, full: bool, reason: str, counts: dict[str, Any]) -> None:
    kind = "full" if full else "incremental"
    console.print(f"[bold]Reconciliation {run_id}[/] ({kind}: {reason}) completed")
    for key, label in _HEADLINE:
        if key in counts:
            console.print(f"  {label:<24} {counts[key]:>10,}")
    shown = {key for key, _ in _HEADLINE} | {"seconds"}
    rest = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k not in shown)
    if rest:
        console.print(f"  [dim]{rest}[/]")
    seconds = counts.get("seconds", {})
    if seconds:
        console.print("  [dim]seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()) + "[/]")
