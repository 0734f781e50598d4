"""``contactfix worker`` / ``beat`` / ``serve``: the service processes.

``worker`` runs Celery workers on ``CONTACTFIX_BROKER_URL`` (the dispatch sends, the relay, the nightly
reconciliation); ``beat`` sends the relay every few seconds and the reconciliation nightly; ``serve``
runs the HTTP API (``/api/v1``, providers' callbacks, ``/health``) in ``api_workers`` processes.
Without a broker there is nothing to serve a worker: tasks run in process, and these commands say so.
"""

from __future__ import annotations

from typing import Annotated

import typer

from contactfix.cli.app import app
from contactfix.errors import SettingsError


def _require_broker() -> None:
    from contactfix.settings import get_settings

    if get_settings().eager:
        raise SettingsError(
            "broker_url: no broker is set, so tasks run in process and need no worker; "
            "set CONTACTFIX_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run the service"
        )


@app.command("worker")
def worker_command(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Worker processes.")] = 2,
    loglevel: Annotated[str, typer.Option("--loglevel", help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    hostname: Annotated[
        str | None, typer.Option("--hostname", "-n", help="Node name (default: celery@host).")
    ] = None,
) -> None:
    """Run a Celery worker for dispatch and reconciliation on the configured broker."""
    _require_broker()
    from contactfix.tasks import app as celery

    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    celery.worker_main(argv)


@app.command("beat")
def beat_command(
    loglevel: Annotated[str, typer.Option("--loglevel", help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    schedule: Annotated[
        str, typer.Option("--schedule", help="File where beat keeps its last run times.")
    ] = "celerybeat-schedule",
) -> None:
    """Run the scheduler: the dispatch relay every few seconds, the reconciliation nightly."""
    _require_broker()
    from contactfix.tasks import app as celery

    celery.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule}"])


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, max=64, help="Processes (default: api_workers).")
    ] = None,
) -> None:
    """Serve the HTTP API: /api/v1 for banks, mediators and operators, providers' callbacks, /health."""
    import uvicorn

    from contactfix.settings import get_settings

    count = workers or get_settings().api_workers
    # An import string and a factory: each worker process builds its own app, engine and pool.
    uvicorn.run(
        "contactfix.api:create_app", factory=True, host=host, port=port, workers=count, log_level="info",
        access_log=False,
    )  # fmt: skip
