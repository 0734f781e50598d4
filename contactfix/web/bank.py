"""A bank's pages: upload a batch, follow it to its receipt (every rejected row and warning, the
issues CSV, the batch's funnel), download the results (CSV or XLSX), and the funnel drawn on the
server: the bank's as a whole, each batch's, and by week or month of upload (also as CSV).

The same policy and queries as API v1's bank routes: ``scope(caller, SUBMISSION)`` for submissions
(another bank's is 404), :func:`~contactfix.api.uploads.take_in_upload` for the file (the CLI's
intake and receipt), :func:`~contactfix.queries.exports.export_rows` within the bank's
:class:`~contactfix.access.ContactView` for the results, and
:func:`~contactfix.pipeline.report.funnel`, :func:`~contactfix.pipeline.report.funnel_by_submission`
(grouped in SQL, within ``scope(caller, SUBMISSION)``) and
:func:`~contactfix.pipeline.report.funnel_by_period` for the charts (:mod:`contactfix.web.charts`).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

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
from contactfix.pipeline.report import (
    FUNNEL_KEYS,
    BatchFunnel,
    PeriodFunnel,
    funnel,
    funnel_by_period,
    funnel_by_submission,
    local_day,
)
from contactfix.queries.submissions import submission_progress
from contactfix.web.charts import FUNNEL_STAGES, funnel_bars, mini_bars, stage_values, trend_chart
from contactfix.web.common import PageDep, WebPage, render, require_csrf

__all__ = ["FUNNEL_STAGES", "funnel_bars", "router"]

router = APIRouter()
SubmissionId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
_LISTED = 20
_ISSUES_SHOWN = 1000
_DONE = ("completed", "failed")
_BATCHES_CHARTED = 20  # the newest batches in the page's table; the CSV has all of them
_UNITS = {"week": "周", "month": "月"}


def _funnel_views(page: WebPage) -> dict[str, Any]:
    """The per-batch table and the trend chart of the caller's batches (one grouped read)."""
    batches = funnel_by_submission(page.session, scope(page.caller, Resource.SUBMISSION))
    unit, periods = funnel_by_period(batches, tz=page.settings.timezone)
    short = [p.label[5:] if unit == "week" else p.label for p in periods]  # 11-30 / 2026-11
    series = [[stage_values(p.counts)[k] for p in periods] for k in range(len(FUNNEL_STAGES))]
    rows = [
        {"batch": b, "values": stage_values(b.counts), "bars": mini_bars(b.counts)}
        for b in batches[:_BATCHES_CHARTED]
    ]
    return {
        "batch_rows": rows, "batch_count": len(batches), "unit": unit, "unit_label": _UNITS[unit],
        "periods": [{"period": p, "values": stage_values(p.counts)} for p in periods],
        "trend": trend_chart(short, series) if periods else None,
        "stages": [label for label, _ in FUNNEL_STAGES],
    }  # fmt: skip


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
                  bars=funnel_bars(counts), counts=counts, error=error, **_funnel_views(page))  # fmt: skip


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


_CSV_HEADER = {
    "submitted": "提交行数", "accepted": "接收行数", "repaired_records": "修复（记录）",
    "repaired_carrier": "修复（运营商）", "dispatched": "派送", "delivered": "送达", "reached": "联系上",
    "wrong_number": "号码错误", "objected": "拒绝联系", "mediated": "调解成功",
}  # fmt: skip


def _csv_response(header: list[str], rows: list[list[Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        "\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )  # fmt: skip


@router.get("/submissions/funnel.csv")
def funnel_csv(page: PageDep, by: str = "batch") -> Response:
    """下载漏斗: every batch's funnel (``by=batch``), or the batches' by ``week``/``month`` of upload."""
    require(page.caller, Action.READ_SUBMISSION)
    if by not in ("batch", "week", "month"):
        raise NotFound("no such breakdown")
    batches = funnel_by_submission(page.session, scope(page.caller, Resource.SUBMISSION))
    counts_header = [_CSV_HEADER[key] for key in FUNNEL_KEYS]
    if by == "batch":
        rows = [_batch_row(b, page.settings.timezone) for b in batches]
        return _csv_response(["批次", "文件", "上传日期", *counts_header], rows, "funnel-batches.csv")
    _, periods = funnel_by_period(batches, tz=page.settings.timezone, unit=by)
    return _csv_response(
        ["周期起始" if by == "week" else "月份", "批次数", *counts_header],
        [_period_row(p) for p in periods], f"funnel-{by}s.csv",
    )  # fmt: skip


def _batch_row(batch: BatchFunnel, tz: str) -> list[Any]:
    day = local_day(batch.created_at, ZoneInfo(tz)).isoformat()
    return [batch.submission_id, batch.filename, day, *(batch.counts[key] for key in FUNNEL_KEYS)]


def _period_row(period: PeriodFunnel) -> list[Any]:
    return [period.label, period.batches, *(period.counts[key] for key in FUNNEL_KEYS)]


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
    counts = funnel(page.session, submission_id=submission_id)  # visible: _submission asked the scope
    return render(page, page.request, "submission.html", submission=found, issues=issues, done=done,
                  more=max(0, total - len(issues)), bars=funnel_bars(counts), counts=counts)  # fmt: skip


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
