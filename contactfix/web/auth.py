"""Signing in and out, and the home page that sends each role to its own pages.

A failed sign-in counts against the login and against the client's address; after five within 15
minutes either one is refused (429) until the oldest ages out — before the password is even checked.
A successful one starts a new session (new CSRF token: a token planted before sign-in is worthless).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from contactfix.access import Unauthenticated, audit, sign_in
from contactfix.db.access_models import UserRole
from contactfix.web.common import PageDep, csrf_token, render, require_csrf

__all__ = ["HOME", "router"]

router = APIRouter()
HOME = {UserRole.MEDIATOR: "/cases", UserRole.BANK: "/submissions", UserRole.OPERATOR: "/ops"}
_FIELD_LENGTH = 200


def _safe_next(target: str | None) -> str | None:
    """A path on this site to go back to after signing in; anything else (another site) is dropped."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target[:500]
    return None


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form: 用户名, 密码, 登录."""
    csrf_token(request)
    return render(None, request, "login.html", next=_safe_next(next), login="", error=None)


@router.post("/login", dependencies=[Depends(require_csrf)])
def login(
    request: Request,
    login: Annotated[str, Form(max_length=_FIELD_LENGTH)] = "",
    password: Annotated[str, Form(max_length=_FIELD_LENGTH)] = "",
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    """Check the password; on success a fresh session and the caller's home page."""
    limiter = request.app.state.login_limiter
    address = request.client.host if request.client else "unknown"
    limiter.check(login, address)
    try:
        with Session(request.app.state.engine) as session:
            caller = sign_in(session.connection(), login, password)
            audit(session, caller, "web.login", "user", caller.user_id)
            session.commit()
    except Unauthenticated:
        limiter.failed(login, address)
        page = render(None, request, "login.html", status_code=401, next=_safe_next(next),
                      login=login, error="用户名或密码错误")  # fmt: skip
        return page
    limiter.succeeded(login)
    request.session.clear()
    request.session.update({"uid": caller.user_id, "at": time.time()})
    csrf_token(request)
    return RedirectResponse(_safe_next(next) or HOME[caller.role], status_code=303)


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> Response:
    """End the session (the cookie is dropped)."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(page: PageDep) -> Response:
    """The caller's own pages."""
    return RedirectResponse(HOME[page.caller.role], status_code=303)
