"""A bank's pages: upload a batch, follow it to its receipt (every rejected row and warning, the
issues CSV), download the results (CSV or XLSX), and the funnel as a bar chart drawn on the server.

The same policy and queries as API v1's bank routes: ``scope(caller, SUBMISSION)`` for submissions
(another bank's is 404), :func:`~contactfix.api.uploads.take_in_upload` for the file (the CLI's
intake and receipt), :func:`~contactfix.queries.exports.export_rows` within the bank's
:class:`~contactfix.access.ContactView` for the results, and
:func:`~contactfix.pipeline.report.funnel` for the chart.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from contactfix.access import Action, Resource, audit, require, scope
from contactfix.api.deps import view_of
from contactfix.api.uploads import take_in_upload
from contactfix.api.v1_bank import MAX_ID, _csv_lines, _xlsx_file, audit_in_thread
from contactfix.db.models import Submission, SubmissionIssue, SubmissionKind
from contactfix.errors import ContactfixError, NotFound
from contactfix.intake.receipt import Issue, write_issues_csv
from contactfix.pipeline.report import funnel
from contactfix.queries.submissions import submission_progress
from contactfix.web.common import PageDep, WebPage, render, require_csrf

__all__ = ["FUNNEL_STAGES", "funnel_bars", "router"]

router = APIRouter()
SubmissionId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
_LISTED = 20
_ISSUES_SHOWN = 1000
_DONE = ("completed", "failed")
# The funnel as the chart shows it: label, and the funnel keys summed into the bar.
FUNNEL_STAGES = (
    ("提交", ("submitted",)),
    ("修复", ("repaired_records", "repaired_carrier")),
    ("派送", ("dispatched",)),
    ("联系上", ("reached",)),
    ("调解成功", ("mediated",)),
)
_BAR_WIDTH = 200.0  # of a 320-unit-wide drawing: label on the left, count on the right


def funnel_bars(counts: dict[str, int]) -> list[dict[str, Any]]:
    """The chart's bars: label, count, and the bar's width and y in the drawing's units."""
    values = [(label, sum(counts.get(key, 0) for key in keys)) for label, keys in FUNNEL_STAGES]
    top = max((value for _, value in values), default=0) or 1
    return [
        {"label": label, "count": value, "width": round(_BAR_WIDTH * value / top, 1), "y": 10 + 34 * i}
        for i, (label, value) in enumerate(values)
    ]


def _bank_page(page: WebPage, *, error: str | None = None, status_code: int = 200) -> Response:
    require(page.caller, Action.SUBMIT)
    submissions = page.session.scalars(
        select(Submission)
        .where(scope(page.caller, Resource.SUBMISSION), Submission.kind == SubmissionKind.BANK_BATCH.value)
        .order_by(Submission.id.desc())
        .limit(_LISTED)
    ).all()
    counts = funnel(page.session, organization_id=page.caller.organization_id)
    return render(page, page.request, "submissions.html", status_code=status_code, submissions=submissions,
                  bars=funnel_bars(counts), counts=counts, error=error)  # fmt: skip


@router.get("/submissions")
def submissions_page(page: PageDep) -> Response:
    """提交批次: upload, recent submissions, results, the funnel."""
    return _bank_page(page)


@router.post("/submissions", dependencies=[Depends(require_csrf)])
async def upload(page: PageDep, file: Annotated[UploadFile, File()]) -> Response:
    """上传: take the file in as ``contactfix submit`` does; then its receipt."""
    require(page.caller, Action.SUBMIT)
    await run_in_threadpool(page.session.close)  # no connection held while the file is taken in
    if not file.filename:
        return await run_in_threadpool(lambda: _bank_page(page, error="请选择要上传的文件", status_code=400))
    try:
        receipt = await take_in_upload(
            file, page.caller.organization, "bank", page.settings, page.request.app.state.engine
        )
    except ContactfixError as exc:
        message = f"文件无法接收：{exc}"
        return await run_in_threadpool(lambda: _bank_page(page, error=message, status_code=400))
    await audit_in_thread(
        page.request,
        page.caller,
        "submission.create",
        "submission",
        receipt["submission_id"],
        rows=receipt["rows"],
        duplicate=receipt.get("duplicate_of") is not None,
        web=True,
    )
    if receipt.get("duplicate_of") is not None:
        page.request.session["flash"] = "这个文件之前已经上传过，下面是当时的回执。"
    return RedirectResponse(f"/submissions/{receipt['submission_id']}", status_code=303)


def _submission(page: WebPage, submission_id: int) -> dict[str, Any]:
    require(page.caller, Action.READ_SUBMISSION)
    found = submission_progress(page.session, submission_id, scope(page.caller, Resource.SUBMISSION))
    if found is None:
        raise NotFound(f"no submission {submission_id}")
    return found


@router.get("/submissions/{submission_id}")
def submission_page(submission_id: SubmissionId, page: PageDep) -> Response:
    """回执: status (the page refreshes itself until done), counts, every rejected row and warning."""
    found = _submission(page, submission_id)
    issues = page.session.execute(
        select(SubmissionIssue.row, SubmissionIssue.field, SubmissionIssue.reason, SubmissionIssue.severity)
        .where(SubmissionIssue.submission_id == submission_id)
        .order_by(SubmissionIssue.row, SubmissionIssue.id)
        .limit(_ISSUES_SHOWN)
    ).all()
    done = found["status"] in _DONE
    total = found["rejected"] + found["warnings"]
    return render(page, page.request, "submission.html", submission=found, issues=issues, done=done,
                  more=max(0, total - len(issues)))  # fmt: skip


@router.get("/submissions/{submission_id}/issues.csv")
def issues_csv(submission_id: SubmissionId, page: PageDep) -> Response:
    """Every issue of the submission: row, field, severity, reason (UTF-8 with BOM, for Excel)."""
    _submission(page, submission_id)
    rows = page.session.execute(
        select(SubmissionIssue.row, SubmissionIssue.field, SubmissionIssue.reason, SubmissionIssue.severity)
        .where(SubmissionIssue.submission_id == submission_id)
        .order_by(SubmissionIssue.row, SubmissionIssue.id)
    )
    handle, name = tempfile.mkstemp(prefix="contactfix-issues-", suffix=".csv")
    os.close(handle)
    write_issues_csv(Path(name), (Issue(r.row, r.field, r.reason, r.severity) for r in rows))
    return FileResponse(
        name, filename=f"submission-{submission_id}.issues.csv", media_type="text/csv; charset=utf-8",
        background=BackgroundTask(os.unlink, name),
    )  # fmt: skip


@router.get("/results.{extension}")
def results(extension: str, page: PageDep) -> Response:
    """下载结果: the bank's results, as the API's export (CSV or XLSX)."""
    if extension not in ("csv", "xlsx"):
        raise NotFound("no such format")
    require(page.caller, Action.EXPORT)
    audit(page.session, page.caller, "export.contacts", "organization", page.caller.organization_id,
          status=None, format=extension, web=True)  # fmt: skip
    page.session.commit()
    view = view_of(page.settings, page.caller.organization_id)
    engine = page.request.app.state.engine
    if extension == "csv":
        return StreamingResponse(
            _csv_lines(engine, view, None), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
        )  # fmt: skip
    path = _xlsx_file(engine, view, None)
    return FileResponse(
        path, filename="contacts.xlsx", background=BackgroundTask(os.unlink, path),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )  # fmt: skip
