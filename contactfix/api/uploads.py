"""Uploads taken in exactly as ``contactfix submit`` / ``import-court`` take a file in.

The multipart body streams to a spooled temporary file (python-multipart, through Starlette), then
into a file of its own name in a private temporary folder (the submission keeps the file's name).
A small file is taken in on a threadpool thread; a large one by ``contactfix submit --json`` in a
child process, so that its validation (in worker processes of its own, as on the command line)
never holds this process's GIL while other requests are answered, and at a lower CPU priority
(``api_upload_nice``), so that interactive reads keep their latency while it runs and it gets every
cycle they leave. Either way the receipt is the same JSON the CLI prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import UploadFile
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from contactfix.errors import IntakeError
from contactfix.settings import Settings

__all__ = ["IN_PROCESS_BELOW", "take_in_upload"]

Kind = Literal["bank", "court"]
IN_PROCESS_BELOW = 1 << 20  # bytes: below, a child process costs more than it spares
_COPY_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^\w.\-]+")


def _safe_name(filename: str | None) -> str:
    name = Path(filename or "upload.csv").name.strip() or "upload.csv"
    return _UNSAFE.sub("_", name)[-200:] or "upload.csv"


async def take_in_upload(
    upload: UploadFile, organization: str, kind: Kind, settings: Settings, engine: Engine
) -> dict[str, Any]:
    """The receipt (as ``submit --json`` prints it) of taking in ``upload`` for ``organization``."""
    folder = await run_in_threadpool(tempfile.mkdtemp, prefix="contactfix-upload-")
    try:
        path = Path(folder) / _safe_name(upload.filename)
        size = await run_in_threadpool(_save, upload, path)
        if size < IN_PROCESS_BELOW:
            return await run_in_threadpool(_in_process, path, organization, kind, settings, engine)
        return await _in_child(path, organization, kind, settings)
    finally:
        await run_in_threadpool(shutil.rmtree, folder, True)


def _save(upload: UploadFile, path: Path) -> int:
    upload.file.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, _COPY_CHUNK)
        return out.tell()


def _in_process(
    path: Path, organization: str, kind: Kind, settings: Settings, engine: Engine
) -> dict[str, Any]:
    from contactfix.intake.service import import_court_export, submit_bank_batch

    service = submit_bank_batch if kind == "bank" else import_court_export
    receipt = service(
        engine, path, organization, batch_size=settings.intake_batch_size,
        max_field_length=settings.intake_max_field_length, max_file_bytes=settings.intake_max_file_bytes,
        timezone=settings.timezone, workers=0,
    )  # fmt: skip
    body: dict[str, Any] = json.loads(receipt.to_json())
    return body


async def _in_child(path: Path, organization: str, kind: Kind, settings: Settings) -> dict[str, Any]:
    command = "submit" if kind == "bank" else "import-court"
    env = {**os.environ, **_settings_env(settings)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "contactfix", command, str(path), "--org", organization, "--json",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=path.parent,
    )  # fmt: skip
    _lower_priority(child.pid, settings.api_upload_nice)
    out, _ = await child.communicate()
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        body: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        body = {}
    if child.returncode != 0 or "submission_id" not in body:
        raise IntakeError(str(body.get("error") or "the file could not be taken in"))
    return body


def _lower_priority(pid: int, niceness: int) -> None:
    """Make the child ``pid`` nicer by ``niceness`` (0: as this process). Done as soon as it starts,
    long before it starts its validation workers (which inherit it): it is still importing Python."""
    if niceness <= 0:
        return
    # OSError: it has already ended (its answer says how), or the system refuses: it runs as it is.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + niceness))


def _settings_env(settings: Settings) -> dict[str, str]:
    """The settings intake reads, as the child's environment (the app may have been given its own)."""
    keys = (
        "database_url",
        "timezone",
        "intake_batch_size",
        "intake_max_field_length",
        "intake_max_file_bytes",
    )
    return {f"CONTACTFIX_{key.upper()}": str(getattr(settings, key)) for key in keys}
