"""An operator's page: reconciliation runs (when, how long, counts), dispatches per state with the dead
ones and a retry, mediators and their hours, and the audit log.

The same policy and queries as API v1's operator routes (``Action.OPERATE``, ``Action.READ_AUDIT``):
:func:`~contactfix.queries.operations.recent_runs`, :func:`~contactfix.dispatch.status.state_counts`,
:func:`~contactfix.dispatch.status.retry_dead`, :func:`~contactfix.queries.operations.mediator_rows`,
:func:`~contactfix.queries.audit.audit_entries`. No debtor's data: dead dispatches show their masked
error and rule, not the number.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from contactfix.access import Action, audit, require
from contactfix.db.dispatch_models import Dispatch, DispatchState
from contactfix.dispatch.status import retry_dead, state_counts
from contactfix.queries.audit import AuditFilter, audit_entries
from contactfix.queries.operations import mediator_rows, recent_runs
from contactfix.web.common import PageDep, render, require_csrf

__all__ = ["router"]

router = APIRouter()
_RUNS = 20
_DEAD = 50
Text = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


def _duration(run: dict[str, Any]) -> str:
    if run["started_at"] is None or run["finished_at"] is None:
        return "–"
    seconds = (run["finished_at"] - run["started_at"]).total_seconds()
    return f"{seconds:.1f} 秒" if seconds < 120 else f"{seconds / 60:.1f} 分钟"


@router.get("/ops")
def ops_page(page: PageDep, actor: Text = None, action: Text = None) -> Response:
    """运行状态: runs, dispatches, mediators, the audit log (filtered by 操作人 / 操作)."""
    require(page.caller, Action.OPERATE)
    session = page.session
    runs = recent_runs(session, _RUNS)
    for run in runs:
        run["duration"] = _duration(run)
    dead = session.execute(
        select(Dispatch.id, Dispatch.debtor_id, Dispatch.channel, Dispatch.attempts, Dispatch.last_error,
               Dispatch.rule, Dispatch.updated_at)
        .where(Dispatch.state == DispatchState.DEAD.value).order_by(Dispatch.id.desc()).limit(_DEAD)
    ).all()  # fmt: skip
    require(page.caller, Action.READ_AUDIT)
    entries = audit_entries(session, AuditFilter(actor=actor or None, action=action or None, limit=100))
    return render(page, page.request, "ops.html", runs=runs, states=state_counts(session), dead=dead,
                  mediators=mediator_rows(session), entries=entries, actor=actor or "",
                  action=action or "")  # fmt: skip


@router.post("/ops/dispatches/retry-dead", dependencies=[Depends(require_csrf)])
def retry(page: PageDep) -> Response:
    """重试失败的派送: every dead dispatch back to pending."""
    require(page.caller, Action.OPERATE)
    revived = retry_dead(page.session)
    audit(page.session, page.caller, "dispatch.retry_dead", "dispatch", None, count=revived, web=True)
    page.session.commit()
    page.request.session["flash"] = f"已重新排队 {revived} 条派送"
    return RedirectResponse("/ops", status_code=303)
