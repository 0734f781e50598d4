"""Routes of an operator: reconciliation runs, dispatch status and retries, mediators, court records,
and the audit log. Operators run the service; they see its state, not a bank's debtors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from contactfix.access import Action, audit, require
from contactfix.api.deps import CallerDep, SessionDep, SettingsDep
from contactfix.api.uploads import take_in_upload
from contactfix.api.v1_bank import MAX_ID, audit_in_thread
from contactfix.db.models import OrganizationKind
from contactfix.dispatch.status import retry_dead, state_counts
from contactfix.queries.audit import AuditFilter, audit_entries
from contactfix.queries.operations import mediator_rows, recent_runs

__all__ = ["router"]

router = APIRouter(tags=["operator"])
Text = Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


@router.get("/runs")
def get_runs(caller: CallerDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> Any:
    """The newest reconciliation runs."""
    require(caller, Action.OPERATE)
    return recent_runs(session, limit)


@router.get("/dispatches")
def get_dispatches(caller: CallerDep, session: SessionDep) -> dict[str, int]:
    """Dispatches per state."""
    require(caller, Action.OPERATE)
    return state_counts(session)


@router.post("/dispatches/retry-dead")
def post_retry_dead(caller: CallerDep, session: SessionDep) -> dict[str, int]:
    """Put every dead dispatch back to pending (after fixing what killed them)."""
    require(caller, Action.OPERATE)
    revived = retry_dead(session)
    audit(session, caller, "dispatch.retry_dead", "dispatch", None, count=revived)
    session.commit()
    return {"revived": revived}


@router.get("/mediators")
def get_mediators(caller: CallerDep, session: SessionDep) -> Any:
    """Mediators with their center, masked phone, hours and number of cases."""
    require(caller, Action.OPERATE)
    return mediator_rows(session)


@router.post("/court-records", status_code=201, responses={200: {"description": "Already taken in"}})
async def post_court_records(
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
) -> JSONResponse:
    """Take in a court records export: the receipt, as ``import-court --json``."""
    require(caller, Action.UPLOAD_COURT_RECORDS)
    await run_in_threadpool(session.close)  # no connection held while the file is taken in
    source = caller.organization if caller.organization_kind == OrganizationKind.COURT else "court-export"
    receipt = await take_in_upload(file, source, "court", settings, request.app.state.engine)
    await audit_in_thread(request, caller, "court_records.create", "submission", receipt["submission_id"],
                          rows=receipt["rows"])  # fmt: skip
    return JSONResponse(receipt, status_code=200 if receipt.get("duplicate_of") is not None else 201)


@router.get("/audit")
def get_audit(
    caller: CallerDep,
    session: SessionDep,
    actor: Text = None,
    org: Text = None,
    action: Text = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The audit log, newest first: who, for which organisation, did what, when."""
    require(caller, Action.READ_AUDIT)
    wanted = AuditFilter(actor=actor, organization=org, action=action, before_id=before_id, limit=limit)
    return audit_entries(session, wanted)
