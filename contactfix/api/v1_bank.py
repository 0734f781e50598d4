"""Routes of a bank: submit a batch, follow it, look up a debtor, export the results, the funnel.

Each route asks :mod:`contactfix.access` whether the caller may (403) and which rows are theirs
(404 for the rest), and audits what it reads or changes.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from sqlalchemy import Connection, Select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from contactfix.access import Action, Caller, Resource, audit, audit_now, require, scope
from contactfix.api.deps import CallerDep, SessionDep, SettingsDep, TokenDep, as_caller, view_of
from contactfix.api.uploads import take_in_upload
from contactfix.db.models import DebtorStatus
from contactfix.errors import NotFound
from contactfix.queries.debtors import debtor_card, debtor_card_query
from contactfix.queries.exports import COLUMNS, export_rows
from contactfix.queries.submissions import submission_progress

__all__ = ["MAX_ID", "Reference", "audit_in_thread", "router"]

MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger one cannot exist (and must not overflow a query)
Reference = Annotated[
    str,
    PathParam(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
              description="The bank's reference of the debtor (account or loan number)."),
]  # fmt: skip
SubmissionId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


router = APIRouter(tags=["bank"])


@router.post("/submissions", status_code=201, responses={200: {"description": "Already taken in"}})
async def post_submission(
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
) -> JSONResponse:
    """Take in a batch of lost debtors (CSV, XLSX or JSON lines): the receipt, as ``submit --json``.

    201 for a new submission; 200 with ``duplicate_of`` when this exact file was taken in before.
    """
    require(caller, Action.SUBMIT)
    await run_in_threadpool(session.close)  # no connection held while the file is taken in
    receipt = await take_in_upload(file, caller.organization, "bank", settings, request.app.state.engine)
    await audit_in_thread(request, caller, "submission.create", "submission", receipt["submission_id"],
                       rows=receipt["rows"], duplicate=receipt.get("duplicate_of") is not None)  # fmt: skip
    return JSONResponse(receipt, status_code=200 if receipt.get("duplicate_of") is not None else 201)


async def audit_in_thread(
    request: Request, caller: Caller, action: str, subject: str, ident: int, **detail: Any
) -> None:
    """Write one audit entry from an async route, off the event loop."""

    def write() -> None:
        with Session(request.app.state.engine) as session, session.begin():
            audit(session, caller, action, subject, ident, **detail)

    await run_in_threadpool(write)


@router.get("/submissions/{submission_id}")
def get_submission(submission_id: SubmissionId, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """A submission's status, counts so far and first issues."""
    require(caller, Action.READ_SUBMISSION)
    found = submission_progress(session, submission_id, scope(caller, Resource.SUBMISSION))
    if found is None:
        raise NotFound(f"no submission {submission_id}")
    return found


@router.get(
    "/debtors/{reference}", response_class=JSONResponse, responses={200: {"description": "The debtor"}}
)
async def get_debtor(
    request: Request, reference: Reference, token: TokenDep, settings: SettingsDep
) -> JSONResponse:
    """One debtor: status, masked name and ID, ranked contacts (masked) with their sources."""

    def read(connection: Connection, caller: Caller) -> dict[str, Any]:
        require(caller, Action.READ_DEBTOR)
        card = debtor_card(connection, _card_query(caller), reference, lambda org: view_of(settings, org))
        if card is None:
            raise NotFound("no such debtor")
        audit_now(connection, caller, "debtor.read", "debtor", card["id"])  # before the answer leaves
        return card

    # The API's most frequent call: one trip to the threadpool, autocommit (see contactfix.api.deps).
    return JSONResponse(await as_caller(request, token, read))  # JSON-ready: no second encoder pass


@lru_cache(maxsize=1024)
def _card_query(caller: Caller) -> Select[Any]:
    """The debtor card's statement within ``caller``'s scope, built once per caller."""
    return debtor_card_query(scope(caller, Resource.DEBTOR))


@router.get("/exports/contacts", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument"
                                         ".spreadsheetml.sheet": {}}}})  # fmt: skip
def get_export(
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[DebtorStatus | None, Query()] = None,
    format: Annotated[ExportFormat, Query()] = ExportFormat.CSV,
) -> Any:
    """The bank's results, one row per debtor and contact, best first (the CLI export's columns)."""
    require(caller, Action.EXPORT)
    audit(session, caller, "export.contacts", "organization", caller.organization_id,
          status=status.value if status else None, format=format.value)  # fmt: skip
    session.commit()
    view = view_of(settings, caller.organization_id)
    wanted = status.value if status else None
    engine = session.get_bind()
    if format is ExportFormat.CSV:
        return StreamingResponse(
            _csv_lines(engine, view, wanted), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
        )  # fmt: skip
    path = _xlsx_file(engine, view, wanted)
    return FileResponse(
        path, filename="contacts.xlsx", background=BackgroundTask(os.unlink, path),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )  # fmt: skip


def _csv_lines(engine: Any, view: Any, status: str | None) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()  # the byte-order mark: how Excel knows the file is UTF-8
    writer.writerow(COLUMNS)
    with Session(engine) as session:
        for count, row in enumerate(export_rows(session, view, status=status), start=1):
            writer.writerow(["" if cell is None else cell for cell in row])
            if count % 500 == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx_file(engine: Any, view: Any, status: str | None) -> str:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("contacts")
    sheet.append(list(COLUMNS))
    with Session(engine) as session:
        for row in export_rows(session, view, status=status):
            sheet.append(list(row))
    handle, path = tempfile.mkstemp(prefix="contactfix-export-", suffix=".xlsx")
    os.close(handle)
    workbook.save(Path(path))
    return path


@router.get("/report")
def get_report(caller: CallerDep, session: SessionDep) -> dict[str, int]:
    """The funnel of the caller's bank: submitted → accepted → repaired → dispatched → reached…"""
    from contactfix.pipeline.report import funnel

    require(caller, Action.READ_REPORT)
    counts: dict[str, int] = funnel(session, organization_id=caller.organization_id)
    return counts
