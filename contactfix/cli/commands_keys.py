"""The data key on the command line: ``contactfix keys status`` and ``contactfix keys rotate``.

``keys rotate`` re-encrypts every sealed value under a new data key (see
:mod:`contactfix.privacy.rotation`): the new key goes into the key file first, rows move in committed
batches under the reconcile lock, and the new key becomes current at the end. Interrupted, it resumes
where it stopped when run again. Exit code 2 when the key comes from ``CONTACTFIX_DATA_KEY`` (rotation
needs a key file to record the new key), a reconciliation holds the lock, or (PostgreSQL) a file is
being taken in. Nothing printed holds a key or a value: key ids only.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from contactfix.cli.app import app
from contactfix.errors import ContactfixError

keys_app = typer.Typer(help="The data key: which key sealed what, and rotating it.")
app.add_typer(keys_app, name="keys")


def _engine_and_keyring() -> tuple[Any, Any, Any]:
    from contactfix.db.engine import make_engine
    from contactfix.privacy.keyring import current_keyring
    from contactfix.settings import get_settings

    settings = get_settings()
    return settings, make_engine(settings.database_url), current_keyring()


@keys_app.command("status")
def status_command(
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as one line of JSON.")
    ] = False,
) -> None:
    """Per table, how many values each key sealed; the current key and a rotation's target."""
    from contactfix.privacy.rotation import key_census

    _, engine, keyring = _engine_and_keyring()
    census = key_census(engine)
    summary = {
        "current": keyring.key_id,
        "next": keyring.pending.key_id if keyring.pending else None,
        "source": keyring.source,
        "tables": census,
    }
    if json_output:
        print(json.dumps(summary, sort_keys=True))
        return
    print(
        f"current key {summary['current']}" + (f", rotating to {summary['next']}" if summary["next"] else "")
    )
    for table, counts in census.items():
        listed = ", ".join(f"{kid}: {n}" for kid, n in sorted(counts.items())) or "empty"
        print(f"  {table}: {listed}")


@keys_app.command("rotate")
def rotate_command(
    batch: Annotated[int, typer.Option("--batch", min=1, help="Rows per committed batch.")] = 5000,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as one line of JSON.")
    ] = False,
) -> None:
    """Re-encrypt everything under a new data key (resumes an interrupted rotation)."""
    from contactfix.pipeline.lock import reconcile_lock, redis_lock_url
    from contactfix.privacy.rotation import rotate_keys

    settings, engine, keyring = _engine_and_keyring()
    try:
        report = rotate_keys(
            engine,
            keyring,
            batch=batch,
            lock=lambda: reconcile_lock(engine, redis_lock_url(settings.broker_url)),
        )
    except ContactfixError as exc:
        if json_output:
            print(json.dumps({"error": str(exc)}, ensure_ascii=False))
        Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    summary = {"key_id": report.key_id, "rewritten": report.rewritten, "passes": report.passes}
    if json_output:
        print(json.dumps(summary, sort_keys=True))
        return
    print(f"rotated to key {report.key_id}: {report.total} values re-encrypted in {report.passes} pass(es)")
    print("keyed hashes changed with the key: run `contactfix reconcile --full` to rewrite blocking keys")
