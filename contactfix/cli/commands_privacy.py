"""Erasure and retention on the command line (PIPL art. 47; JR/T 0171-2020).

``contactfix erase REFERENCE --org ORG [--wait SECONDS] [--json]`` erases one debtor everywhere
(:mod:`contactfix.privacy.erasure` says what happens to each table); erasing again prints that nothing
was left. ``contactfix retention run [--days N] [--json]`` erases the closed cases unchanged for
``retention_days`` (the setting, or N). Exit code 2 for an unknown organisation or reference, while a
reconciliation holds the lock (unless ``--wait`` outlasts it), or when Redis does not answer. Nothing
printed holds a name, an ID number or a phone.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from contactfix.cli.app import app, fail
from contactfix.errors import ContactfixError

retention_app = typer.Typer(help="Retention: erase closed cases' personal data after retention_days.")
app.add_typer(retention_app, name="retention")

_WAIT_HELP = "Seconds to wait for a running reconciliation to finish (default: refuse at once)."


def _services() -> tuple[Any, Any, str | None]:
    """The engine, a Redis client for the broker's Redis (or None), and the lock's Redis URL."""
    from contactfix.db.engine import make_engine
    from contactfix.pipeline.lock import redis_lock_url
    from contactfix.settings import get_settings

    settings = get_settings()
    url = redis_lock_url(settings.broker_url)
    client = None
    if url is not None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    return make_engine(settings.database_url), client, url


@app.command("erase")
def erase_command(
    reference: Annotated[str, typer.Argument(help="The debtor's reference in the bank's batch.")],
    org: Annotated[str, typer.Option("--org", help="The bank whose debtor it is.")] = "",
    actor: Annotated[str, typer.Option("--actor", help="Who asks (for the audit tombstone).")] = "cli",
    wait: Annotated[float, typer.Option("--wait", min=0, help=_WAIT_HELP)] = 0.0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as one line of JSON.")
    ] = False,
) -> None:
    """Erase a debtor's personal data everywhere (records, contacts, rankings, dispatches, outcomes,
    carrier numbers, blocking keys, links, Redis), keeping a tombstone in the audit log."""
    from contactfix.privacy.erasure import erase_debtor

    if not org.strip():
        raise typer.BadParameter("say whose debtor it is", param_hint="--org")
    engine, client, lock_url = _services()
    try:
        report = erase_debtor(
            engine, org, reference, actor=actor, redis_client=client, redis_lock_url=lock_url, wait_s=wait
        )
    except ContactfixError as exc:
        raise fail(exc, json_output) from None
    finally:
        engine.dispose()
        if client is not None:
            client.close()
    summary: dict[str, Any] = {
        "organization": report.organization,
        "reference": report.reference,
        "erased": report.erased,
        "counts": report.counts,
    }
    if report.erased_at is not None:
        summary["erased_at"] = report.erased_at.isoformat()
    if json_output:
        print(json.dumps(summary, ensure_ascii=False, sort_keys=True))
        return
    console = Console(highlight=False)
    if not report.erased:
        when = f" (erased {report.erased_at:%Y-%m-%d %H:%M} UTC)" if report.erased_at else ""
        console.print(f"{report.reference}: nothing left to erase{when}")
        return
    rows = ", ".join(f"{name} {n}" for name, n in report.counts.items() if n)
    console.print(f"{report.reference}: erased — {rows or 'nothing but the debtor'}", soft_wrap=True)


@retention_app.command("run")
def retention_run_command(
    days: Annotated[
        int | None, typer.Option("--days", min=0, help="Override retention_days for this run (0: nothing).")
    ] = None,
    wait: Annotated[float, typer.Option("--wait", min=0, help=_WAIT_HELP)] = 0.0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as one line of JSON.")
    ] = False,
) -> None:
    """Erase every closed case whose last change is older than retention_days (what the nightly task does)."""
    from contactfix.privacy.retention import run_retention
    from contactfix.settings import get_settings

    retention_days = get_settings().retention_days if days is None else days
    engine, client, lock_url = _services()
    try:
        report = run_retention(
            engine, retention_days, redis_client=client, redis_lock_url=lock_url, wait_s=wait
        )
    except ContactfixError as exc:
        raise fail(exc, json_output) from None
    finally:
        engine.dispose()
        if client is not None:
            client.close()
    summary: dict[str, Any] = {
        "retention_days": report.retention_days,
        "cutoff": report.cutoff.isoformat() if report.cutoff else None,
        "erased": report.erased,
        "counts": report.counts,
    }
    if report.skipped:
        summary["skipped"] = report.skipped
    if json_output:
        print(json.dumps(summary, ensure_ascii=False, sort_keys=True))
        return
    console = Console(highlight=False)
    if report.skipped:
        console.print(f"retention: {report.skipped}")
        return
    console.print(
        f"retention: {report.erased:,} closed case(s) unchanged since {report.cutoff:%Y-%m-%d} erased",
        soft_wrap=True,
    )
