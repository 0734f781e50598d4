"""A mediator's pages: my cases, most urgent first; one case with why each record is linked, the
ranked contacts and their sources, what was sent and what calls found; dial; report an outcome.

The same policy and queries as API v1's mediator routes: :func:`~contactfix.queries.cases.list_cases`
and :func:`~contactfix.queries.cases.case_detail` within ``scope(caller, CASE)`` (another mediator's
case is 404), :func:`~contactfix.api.v1_mediator.place_call` to dial (a privacy number, or the
number revealed to this mediator and audited), and
:func:`~contactfix.pipeline.outcomes.record_outcome` for what the call found.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from contactfix.access import Action, Resource, audit, require, scope
from contactfix.api.deps import view_of
from contactfix.api.v1_bank import MAX_ID
from contactfix.api.v1_mediator import CallRefused, place_call
from contactfix.db.dispatch_models import Dispatch
from contactfix.db.outcome_models import Outcome
from contactfix.errors import NotFound
from contactfix.pipeline.outcomes import InvalidOutcome, record_outcome
from contactfix.queries.cases import case_detail, find_case, list_cases, usable_phones
from contactfix.queries.debtors import debtor_view, masked_contact, shown_contacts
from contactfix.web.common import RESULT_LABELS, PageDep, WebPage, render, require_csrf

__all__ = ["router"]

router = APIRouter()
CaseId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
_CASES_SHOWN = 200
_HISTORY_SHOWN = 30


def _urgency(case: dict[str, Any]) -> tuple[int, float, float]:
    """Callable cases first, soonest first; then the likelier contact; cases with no phone last."""
    when = case["next_allowed_at"]
    if when is None:
        return (1, 0.0, -case["case_id"])
    return (0, when.timestamp(), -(case["confidence"] or 0.0))


@router.get("/cases")
def cases_page(page: PageDep) -> Response:
    """我的案件: the cases assigned to me, most urgent first."""
    require(page.caller, Action.LIST_CASES)
    cases = list_cases(
        page.session, scope(page.caller, Resource.CASE), lambda org: view_of(page.settings, org),
        page.request.app.state.profile, page.now(), limit=_CASES_SHOWN, offset=0,
    )  # fmt: skip
    cases.sort(key=_urgency)
    audit(
        page.session,
        page.caller,
        "case.list",
        "mediator",
        page.caller.mediator_id,
        cases=len(cases),
        web=True,
    )
    page.session.commit()
    return render(page, page.request, "cases.html", cases=cases, now=page.now())


def _row(page: WebPage, case_id: int) -> Any:
    require(page.caller, Action.READ_CASE)
    row = find_case(page.session, case_id, scope(page.caller, Resource.CASE))
    if row is None:
        raise NotFound(f"no case {case_id}")
    return row


def _case_page(page: WebPage, case_id: int, *, call: dict[str, Any] | None = None,
               refused: CallRefused | None = None, status_code: int = 200) -> Response:  # fmt: skip
    row = _row(page, case_id)
    session, settings, now = page.session, page.settings, page.now()
    detail = case_detail(
        session, row, lambda org: view_of(settings, org), page.request.app.state.profile, now
    )
    view = debtor_view(session, row.reference, row.bank, share=settings.share_contacts_across_banks)
    phones = usable_phones(shown_contacts(session, row, view_of(settings, row.organization_id)))
    dispatches = session.execute(
        select(Dispatch.created_at, Dispatch.channel, Dispatch.purpose, Dispatch.contact_channel,
               Dispatch.contact_value, Dispatch.state, Dispatch.sent_at, Dispatch.rule)
        .where(Dispatch.debtor_id == row.id).order_by(Dispatch.id.desc()).limit(_HISTORY_SHOWN)
    ).all()  # fmt: skip
    outcomes = session.execute(
        select(Outcome.reported_at, Outcome.value, Outcome.result, Outcome.reporter, Outcome.note)
        .where(Outcome.debtor_id == row.id).order_by(Outcome.reported_at.desc(), Outcome.id.desc())
        .limit(_HISTORY_SHOWN)
    ).all()  # fmt: skip
    audit(session, page.caller, "case.read", "debtor", row.id, web=True)
    session.commit()
    next_allowed = detail["next_allowed_at"]
    context = {
        "case": detail,
        "view": view,
        "phones": [(p.rank, masked_contact("phone", p.value)) for p in phones],
        "target_rank": phones[0].rank if phones else None,
        "dispatches": [
            {
                "at": d.created_at,
                "purpose": d.purpose,
                "channel": d.channel,
                "state": d.state,
                "contact": masked_contact(d.contact_channel, d.contact_value),
                "sent_at": d.sent_at,
                "rule": d.rule,
            }
            for d in dispatches
        ],
        "outcomes": [
            {
                "at": o.reported_at,
                "contact": masked_contact("phone", o.value),
                "result": o.result,
                "reporter": o.reporter,
                "note": o.note,
            }
            for o in outcomes
        ],
        "callable_now": next_allowed is not None and next_allowed <= now,
        "next_allowed": next_allowed,
        "call": call,
        "refused": refused,
        "results": RESULT_LABELS,
    }
    return render(page, page.request, "case.html", status_code=status_code, **context)


@router.get("/cases/{case_id}")
def case_page(case_id: CaseId, page: PageDep) -> Response:
    """One of my cases (another mediator's: 404)."""
    return _case_page(page, case_id)


@router.post("/cases/{case_id}/call", dependencies=[Depends(require_csrf)])
def dial(case_id: CaseId, page: PageDep) -> Response:
    """拨打: a privacy number (or the number itself, audited) as a tel: link, within the hours."""
    require(page.caller, Action.CALL)
    row = _row(page, case_id)
    try:
        call = place_call(page.session, page.caller, row, page.settings, page.request.app.state, page.now())
    except CallRefused as refused:
        return _case_page(page, case_id, refused=refused, status_code=409)
    return _case_page(page, case_id, call=call)


@router.post("/cases/{case_id}/outcome", dependencies=[Depends(require_csrf)])
def report_outcome(
    case_id: CaseId,
    page: PageDep,
    result: Annotated[str, Form(max_length=40)],
    rank: Annotated[int, Form(ge=1, le=1000)],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """What the call found, about the phone of ``rank`` (as shown on the page)."""
    require(page.caller, Action.REPORT_OUTCOME)
    row = _row(page, case_id)
    if result not in RESULT_LABELS:
        raise InvalidOutcome("未知的结果")
    shown = shown_contacts(page.session, row, view_of(page.settings, row.organization_id))
    phones = {p.rank: p for p in shown if p.channel == "phone"}
    phone = phones.get(rank)
    if phone is None:
        raise InvalidOutcome("这个号码已不在本案的号码中，请刷新页面")
    record_outcome(
        page.session, debtor_id=row.id, contact=phone.value, result=result, reporter=page.caller.login,
        note=note.strip() or None,
    )  # fmt: skip
    masked = masked_contact("phone", phone.value)
    audit(
        page.session, page.caller, "case.outcome", "debtor", row.id, result=result, contact=masked, web=True
    )
    page.session.commit()
    page.request.session["flash"] = f"已记录：{masked} {RESULT_LABELS[result]}"
    return RedirectResponse(f"/cases/{row.id}", status_code=303)
