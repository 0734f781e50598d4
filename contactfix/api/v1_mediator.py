"""Routes of a mediator: my cases, one case, a call path to the debtor, and what the call found.

A mediator sees only the cases assigned to them (another case is 404). Numbers stay masked except
in the answer of ``POST /cases/{id}/call``: a privacy number when the call connector grants one,
else — no privacy-number provider configured — the debtor's own number, to this mediator, audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import Binding, BindRequest
from connectors.errors import ConnectorError, PermanentError
from contactfix.access import Action, Caller, Resource, audit, require, scope
from contactfix.api.deps import CallerDep, SessionDep, SettingsDep, view_of
from contactfix.api.errors import ServiceUnavailable
from contactfix.api.v1_bank import MAX_ID
from contactfix.db.dispatch_models import Mediator
from contactfix.db.outcome_models import OutcomeResult
from contactfix.errors import NotFound, SettingsError
from contactfix.queries.cases import case_detail, find_case, lawful_target, list_cases
from contactfix.queries.debtors import masked_contact, shown_contacts
from contactfix.settings import Settings

__all__ = ["CallRefused", "OutcomeReport", "place_call", "router"]

CaseId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The case (its debtor's id).")]
router = APIRouter(tags=["mediator"])


class OutcomeReport(BaseModel):
    """What a call found: the number dialled (E.164), the result, and a note."""

    model_config = ConfigDict(extra="forbid")

    contact: str = Field(min_length=3, max_length=32, description="The number dialled, E.164 (+86…).")
    result: OutcomeResult
    note: str | None = Field(default=None, max_length=500)


def _now(request: Request) -> dt.datetime:
    now: dt.datetime = request.app.state.clock()
    return now


def _case(session: Any, caller: Caller, case_id: int) -> Any:
    require(caller, Action.READ_CASE)
    row = find_case(session, case_id, scope(caller, Resource.CASE))
    if row is None:
        raise NotFound(f"no case {case_id}")
    return row


@router.get("/cases")
def get_cases(
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[dict[str, Any]]:
    """The cases assigned to me: case number, bank, status, best contact (masked) and confidence,
    and when the contact policy next allows calling it."""
    require(caller, Action.LIST_CASES)
    cases = list_cases(
        session, scope(caller, Resource.CASE), lambda org: view_of(settings, org), request.app.state.profile,
        _now(request), limit=limit, offset=offset,
    )  # fmt: skip
    audit(session, caller, "case.list", "mediator", caller.mediator_id, cases=len(cases), offset=offset)
    session.commit()
    return cases


@router.get("/cases/{case_id}")
def get_case(
    case_id: CaseId, request: Request, caller: CallerDep, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """One of my cases: its contacts (masked), when it may be called, and the outcomes so far."""
    row = _case(session, caller, case_id)
    profile = request.app.state.profile
    detail = case_detail(session, row, lambda org: view_of(settings, org), profile, _now(request))
    audit(session, caller, "case.read", "debtor", row.id)
    session.commit()
    return detail


@router.post("/cases/{case_id}/call", responses={409: {"description": "Not allowed now, or no lawful phone"}})
def call_case(
    case_id: CaseId, request: Request, caller: CallerDep, session: SessionDep, settings: SettingsDep
) -> Any:
    """A call path to the debtor's best lawful phone: the number to dial and until when it works.

    409 outside the hours the policy allows (with ``next_allowed_at``), or when no phone may be called.
    """
    require(caller, Action.CALL)
    row = _case(session, caller, case_id)
    try:
        return place_call(session, caller, row, settings, request.app.state, _now(request))
    except CallRefused as refused:
        until = refused.next_allowed_at
        body = {"detail": refused.detail, "next_allowed_at": until.isoformat() if until else None}
        return JSONResponse(body, 409)


class CallRefused(Exception):
    """The contact policy does not allow calling this case now (or no phone of it may be called)."""

    def __init__(self, detail: str, next_allowed_at: dt.datetime | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.next_allowed_at = next_allowed_at


def place_call(
    session: Any, caller: Caller, row: Any, settings: Settings, state: Any, now: dt.datetime
) -> dict[str, Any]:
    """A call path to case ``row``'s best lawful phone (the API's and the web pages' one logic).

    A privacy number from the call connector on ``state`` when one is configured, else the debtor's
    own number, revealed to this mediator and audited. :class:`CallRefused` outside the hours the
    policy allows, or when no phone may be called. Commits the audit entry.
    """
    contacts = shown_contacts(session, row, view_of(settings, row.organization_id))
    target = lawful_target(session, contacts, state.profile, now)
    if target.contact is None or target.decision is None:
        raise CallRefused("no phone of this debtor may be called", None)
    if not target.decision.allowed:
        raise CallRefused(target.decision.reason, target.decision.defer_until)
    mediator = session.get(Mediator, caller.mediator_id)
    if mediator is None:
        raise NotFound("this user is not tied to a mediator")
    phone = target.contact.value
    binding = _bind(state, settings, mediator.phone, phone, row.id, now)
    masked = masked_contact("phone", phone)
    if binding is not None and binding.virtual:
        audit(session, caller, "case.call", "debtor", row.id, contact=masked, privacy_number=True)
        session.commit()
        return {"number": binding.number, "privacy_number": True, "expires_at": binding.expires_at,
                "contact": masked, "confidence": round(target.contact.confidence, 4)}  # fmt: skip
    audit(session, caller, "number.reveal", "debtor", row.id, contact=masked, privacy_number=False)
    session.commit()
    return {"number": phone, "privacy_number": False, "expires_at": None, "contact": masked,
            "confidence": round(target.contact.confidence, 4)}  # fmt: skip


def _bind(
    state: Any, settings: Settings, caller_phone: str, callee: str, case_id: int, now: dt.datetime
) -> Binding | None:
    """A privacy-number binding from the configured call connector; None when there is none."""
    connector = _call_connector(state, settings)
    if connector is None:
        return None
    # One binding per case, number, mediator and day: asking twice gives the same number.
    key = hashlib.sha256(
        f"api-call\x1f{case_id}\x1f{callee}\x1f{caller_phone}\x1f{now.date()}".encode()
    ).hexdigest()
    expires = now + dt.timedelta(hours=settings.dispatch_binding_hours)
    try:
        binding: Binding = connector.bind(
            BindRequest(caller=caller_phone, callee=callee, idempotency_key=key, expires_at=expires)
        )
        return binding
    except PermanentError as exc:
        raise ServiceUnavailable(f"the call connector refused the binding: {type(exc).__name__}") from None
    except ConnectorError as exc:
        raise ServiceUnavailable(
            f"the call connector is unavailable, try again: {type(exc).__name__}"
        ) from None


def _call_connector(state: Any, settings: Settings) -> Any:
    if not hasattr(state, "call_connector"):
        from connectors.registry import load_call_connector
        from contactfix.dispatch.channels import load_channels_config

        try:
            config = load_channels_config(settings)
            state.call_connector = (
                load_call_connector(config.call, config.options.get(config.call, {})) if config.call else None
            )
        except (SettingsError, ConnectorError) as exc:
            raise ServiceUnavailable(f"the call connector cannot start: {exc}") from None
    return state.call_connector


@router.post("/cases/{case_id}/outcomes", status_code=201)
def post_outcome(
    case_id: CaseId, report: OutcomeReport, caller: CallerDep, session: SessionDep
) -> dict[str, Any]:
    """Report what a call found: reached, wrong_number, no_answer, objected, promised_to_pay,
    refused_to_pay or mediated. It changes the contact's standing at the next ranking."""
    from contactfix.pipeline.outcomes import record_outcome

    require(caller, Action.REPORT_OUTCOME)
    row = _case(session, caller, case_id)
    outcome = record_outcome(
        session, debtor_id=row.id, contact=report.contact, result=report.result.value, reporter=caller.login,
        note=report.note,
    )  # fmt: skip
    audit(session, caller, "case.outcome", "debtor", row.id, result=report.result.value,
          contact=masked_contact("phone", report.contact))  # fmt: skip
    session.commit()
    return {"outcome_id": outcome.id, "case_id": row.id, "result": outcome.result,
            "contact": masked_contact("phone", report.contact)}  # fmt: skip
