"""An operator's review queue: links the model is unsure of, two records side by side (masked), and
是同一人 / 不是同一人. The decision is kept (:mod:`contactfix.pipeline.reviews`) and every later run
puts it back over the model's probability.

Operators do not see a bank's debtors (:mod:`contactfix.access.policy`): the records are shown
masked — the name's first character, the ID's region and last digits, the birth year, the address's
first characters — with the comparison weights that made the model unsure.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response

from contactfix.access import Action, audit, require
from contactfix.api.v1_bank import MAX_ID
from contactfix.dispatch.message import mask_name
from contactfix.intake.receipt import mask_digit_runs
from contactfix.pipeline.reviews import REVIEW_BAND, ReviewPair, decide, review_queue
from contactfix.queries.sources import mask_address
from contactfix.web.common import PageDep, render, require_csrf
from matchers.identifiers import mask_id

__all__ = ["router"]

router = APIRouter()
_SHOWN = 20
_WEIGHTS_SHOWN = 8


def _side(record: Any, organization: str | None) -> dict[str, Any]:
    if record.id_number:
        id_shown = mask_id(record.id_number)
    elif record.id_prefix or record.id_suffix:
        id_shown = f"{record.id_prefix or ''}********{record.id_suffix or ''}"
    else:
        id_shown = None
    return {
        "record_id": record.id,
        "source": record.source,
        "organization": organization,
        "reference": mask_digit_runs(record.reference) if record.reference else None,
        "observed_on": record.observed_on,
        "name": mask_name(record.name_original),
        "id": id_shown,
        "birth_year": record.birth_date.year if record.birth_date else None,
        "gender": {"M": "男", "F": "女"}.get(record.gender or ""),
        "address": mask_address(record.address) if record.address else None,
    }


# What each comparison of the model compares, as the page names it.
_COMPARED = {
    "family_name": "姓",
    "given_name": "名",
    "birth_date": "出生日期",
    "id_number": "证件号码",
    "phone": "电话",
    "location": "地址",
    "gender": "性别",
}


def _evidence(weights: dict[str, float]) -> list[tuple[str, str, float]]:
    """(field, 相符 / 不符 / 无从比较, bits) per comparison, strongest first: which fields agree and
    which differ, computed by the model on the full values the page does not show (no weight: one
    side has no value)."""
    found = sorted(((k, v) for k, v in weights.items() if k != "prior"), key=lambda kv: -abs(kv[1]))
    return [
        (_COMPARED.get(k, k), "相符" if v > 0 else "不符" if v < 0 else "无从比较", v)
        for k, v in found[:_WEIGHTS_SHOWN]
    ]


def _pair(pair: ReviewPair) -> dict[str, Any]:
    return {
        "a": _side(pair.record_a, pair.organization_a),
        "b": _side(pair.record_b, pair.organization_b),
        "probability": pair.probability,
        "evidence": _evidence(pair.weights),
    }


@router.get("/review")
def review_page(page: PageDep) -> Response:
    """待审核的关联: the most doubtful undecided links first."""
    require(page.caller, Action.REVIEW_LINKS)
    pairs = [_pair(p) for p in review_queue(page.session, limit=_SHOWN)]
    return render(page, page.request, "review.html", pairs=pairs, band=REVIEW_BAND)


@router.post("/review", dependencies=[Depends(require_csrf)])
def review_decide(
    page: PageDep,
    record_a: Annotated[int, Form(ge=1, le=MAX_ID)],
    record_b: Annotated[int, Form(ge=1, le=MAX_ID)],
    same: Annotated[bool, Form()],
) -> Response:
    """是同一人 / 不是同一人: kept across runs."""
    require(page.caller, Action.REVIEW_LINKS)
    review = decide(page.session, record_a, record_b, same=same, reviewer=page.caller.login)
    audit(page.session, page.caller, "link.review", "record_link", review.id, same=same, web=True)
    page.session.commit()
    page.request.session["flash"] = f"已记录：记录 {review.record_a_id} 与 {review.record_b_id} " + (
        "是同一人" if same else "不是同一人"
    )
    return RedirectResponse("/review", status_code=303)
