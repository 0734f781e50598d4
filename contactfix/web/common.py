"""What every web page shares: templates, the signed-in caller, CSRF, and the login rate limit.

Identity is decided in one place, :mod:`contactfix.access.caller`: a session cookie names a user id,
which :func:`~contactfix.access.session_caller` looks up again on every request (an API token goes
through :func:`~contactfix.access.authenticate`); either way the routes get the same
:class:`~contactfix.access.Caller` and ask the same policy (:func:`~contactfix.access.require`,
:func:`~contactfix.access.scope`) as the API routes do.

The session is Starlette's signed cookie (HTTP-only, SameSite=Lax, Secure unless
``web_secure_cookies`` is off): it holds the user id, the sign-in time and the CSRF token, nothing
personal. Every form carries the session's CSRF token and every POST is refused (403) without it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from contactfix.access import Caller, Unauthenticated, session_caller
from contactfix.dispatch.message import mask_name
from contactfix.intake.headers import field_label
from contactfix.intake.reasons_zh import reason_zh
from contactfix.intake.receipt import mask_digit_runs
from contactfix.settings import Settings

__all__ = [
    "CSRF_FIELD",
    "RESULT_LABELS",
    "NotSignedIn",
    "PageDep",
    "WebPage",
    "csrf_token",
    "render",
    "require_csrf",
    "templates",
]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
CSRF_FIELD = "csrf_token"
# The outcome buttons of a case page, in the order shown: result → label (record_outcome takes both).
RESULT_LABELS = {
    "reached": "接通本人",
    "wrong_number": "号码错误",
    "no_answer": "无人接听",
    "objected": "拒绝联系",
    "promised_to_pay": "承诺还款",
    "mediated": "调解成功",
}
_MORE_LABELS = {"refused_to_pay": "拒绝还款"}
STATUS_LABELS = {
    "lost": "失联",
    "repaired": "已修复",
    "dispatched": "已派送",
    "reached": "已联系",
    "closed": "已结案",
    "pending": "等待中",
    "processing": "处理中",
    "completed": "已完成",
    "failed": "失败",
    "deferred": "延后",
    "sending": "发送中",
    "sent": "已发送",
    "delivered": "已送达",
    "dead": "失败（已放弃）",
    "blocked": "已拦截",
    "running": "运行中",
}


FLAG_LABELS = {
    "bank_had": "银行原有",
    "known_failed": "已知失效",
    "slip": "疑似笔误",
    "shared": "多人共用",
    "invalid": "无效号码",
    "wrong_number": "号码错误",
    "do_not_contact": "拒绝联系",
    "objected": "拒绝联系",
    "carrier": "运营商提供",
    "third_party": "他人号码（紧急联系人）",
    "reached": "曾接通",
    "no_answer": "无人接听",
    "repairs": "修复所用号码",
}
SOURCE_LABELS = {
    "bank": "银行",
    "court": "法院",
    "carrier": "运营商",
    "mediator": "调解员",
    "another bank": "其他银行",
}


def _flags(flags: Any) -> str:
    return "、".join(FLAG_LABELS.get(str(flag), str(flag)) for flag in flags or ())


def _sources(text: str) -> str:
    """Provenance text ("court （2026）… 2026-05-01; another bank …") with the kinds in Chinese."""
    parts = []
    for part in (text or "").split("; "):
        for key, label in sorted(SOURCE_LABELS.items(), key=lambda kv: -len(kv[0])):
            if part.startswith(key + " ") or part == key:
                part = label + part[len(key) :]
                break
        parts.append(part)
    return "；".join(parts)


def _why(explanation: str) -> str:
    """Why a record is linked, from :func:`contactfix.queries.debtors.debtor_view`, in Chinese."""
    if explanation == "the debtor's own record":
        return "本人在该银行的记录"
    if explanation.startswith("no stored link"):
        return "没有存储的直接关联（由之前的运行或经其他记录归入）"
    text = explanation.replace("linked to the debtor's record", "与本人记录关联")
    text = text.replace("linked to record", "与记录关联").replace(" (bits)", "（比特）")
    return text.replace(": ", "：", 1)


class NotSignedIn(Exception):
    """The request has no valid session: pages redirect to /login, other requests get 401."""


class CsrfRefused(Exception):
    """A form came without the session's CSRF token (403)."""


def _local(value: Any, request_tz: str = "Asia/Shanghai") -> str:
    """A time as people here read it: the service's time zone, to the minute."""
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(ZoneInfo(request_tz)).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


templates.env.filters["local"] = _local
templates.env.filters["flags"] = _flags
templates.env.filters["field_label"] = field_label  # phone → 手机号: the receipt's column names
templates.env.filters["reason_zh"] = reason_zh  # the receipt's reasons, phrase by phrase
templates.env.filters["sources"] = _sources
templates.env.filters["why"] = _why
templates.env.globals["SOURCE_LABELS"] = SOURCE_LABELS
templates.env.filters["name"] = mask_name  # 张伟 → 张*: names are shown as the API shows them
templates.env.filters["masked"] = mask_digit_runs  # free text (notes): an ID or phone in it, masked
templates.env.globals["STATUS_LABELS"] = STATUS_LABELS
templates.env.globals["RESULT_LABELS"] = {**RESULT_LABELS, **_MORE_LABELS}


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def require_csrf(request: Request) -> None:
    """Refuse (403) a POST whose form lacks the session's CSRF token."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not secrets.compare_digest(sent, expected)
    ):
        raise CsrfRefused()


CsrfDep = Depends(require_csrf)


@dataclass(frozen=True, slots=True)
class WebPage:
    """A signed-in request: its database session, its caller, the app's settings."""

    request: Request
    session: Session
    caller: Caller
    settings: Settings

    def now(self) -> dt.datetime:
        now: dt.datetime = self.request.app.state.clock()
        return now


def _page(request: Request) -> Iterator[WebPage]:
    user_id = request.session.get("uid")
    signed_at = request.session.get("at")
    settings: Settings = request.app.state.settings
    if not isinstance(user_id, int) or not isinstance(signed_at, (int, float)):
        raise NotSignedIn()
    if time.time() - signed_at > settings.web_session_hours * 3600:
        request.session.clear()
        raise NotSignedIn()
    with Session(request.app.state.engine) as session:
        try:
            caller = session_caller(session.connection(), user_id)
        except Unauthenticated:
            request.session.clear()
            raise NotSignedIn() from None
        yield WebPage(request, session, caller, settings)


PageDep = Annotated[WebPage, Depends(_page)]


def render(
    page: WebPage | None, request: Request, name: str, status_code: int = 200, **context: Any
) -> Response:
    """Template ``name`` with the caller, the CSRF token and a one-time notice in its context."""
    flash = request.session.pop("flash", None)
    context.update(
        request=request, caller=page.caller if page else None, csrf=csrf_token(request), flash=flash,
        csrf_field=CSRF_FIELD,
    )  # fmt: skip
    response: HTMLResponse = templates.TemplateResponse(request, name, context, status_code=status_code)
    return response
