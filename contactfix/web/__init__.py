"""The web pages, in Chinese, for the three audiences of API v1 — on the same policy and queries.

- :mod:`contactfix.web.auth` — ``/login``, ``/logout``, ``/`` (to the caller's home page);
- :mod:`contactfix.web.mediator` — ``/cases`` (my cases, most urgent first), ``/cases/{case_id}``
  (``case_id`` is the debtor's id, as in the API and the text sent to the mediator): dial, outcomes;
- :mod:`contactfix.web.bank` — ``/submissions``: upload, receipt, issues CSV, results, the funnel;
- :mod:`contactfix.web.operator` — ``/ops``: runs, dispatches (retry the dead), mediators, audit log;
- :mod:`contactfix.web.review` — ``/review``: uncertain links side by side, 是同一人 / 不是同一人.

:func:`create_web_app` builds a sub-application that :func:`contactfix.api.create_app` mounts at the
root, after the API's own routes. Plain forms (no JavaScript needed); styles in ``static/``, served by
us. A page shows only what the API would show the same caller: the routes ask the same
:mod:`contactfix.access` policy and call the same :mod:`contactfix.queries`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactfix.access.errors import Forbidden
from contactfix.access.login_limits import LoginLimiter, TooManyAttempts
from contactfix.api.limits import BodyLimit
from contactfix.errors import ContactfixError, NotFound
from contactfix.policy import load_profile
from contactfix.privacy.keyring import KeyringError, keyring_for
from contactfix.settings import Settings
from contactfix.web import auth, bank, mediator, operator, review
from contactfix.web.common import (
    CsrfRefused,
    NotSignedIn,
    _local,
    render,
    templates,
)

__all__ = ["SESSION_COOKIE", "create_web_app"]

SESSION_COOKIE = "cf_session"
_MULTIPART_OVERHEAD = 1 << 20
_log = logging.getLogger(__name__)
_FORM_LIMIT = 64 * 1024


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_web_app(settings: Settings, engine: Engine) -> FastAPI:
    """The web pages on ``engine``, to be mounted at ``/``."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = _utcnow  # tests set their own: whether a case may be called depends on the hour
    app.state.profile = load_profile(
        settings.policy_profile, Path(settings.policy_file) if settings.policy_file else None
    )
    app.state.login_limiter = LoginLimiter(engine)
    templates.env.filters["local"] = functools.partial(_local, request_tz=settings.timezone)
    app.include_router(auth.router)
    app.include_router(mediator.router)
    app.include_router(bank.router)
    app.include_router(operator.router)
    app.include_router(review.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    _install_error_pages(app)
    upload_limit = settings.intake_max_file_bytes + _MULTIPART_OVERHEAD
    app.add_middleware(
        BodyLimit,
        limit_of=lambda path: upload_limit if path.rstrip("/").endswith("/submissions") else _FORM_LIMIT,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        SessionMiddleware, secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE, max_age=settings.web_session_hours * 3600, same_site="lax",
        https_only=settings.web_secure_cookies,
    )  # fmt: skip
    return app


# Pages hold personal data: not cached, not framed, no script or style from anywhere but here.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """Add :data:`_HEADERS` to every answer of the web pages (static files may be cached)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    if not (static and name == "Cache-Control"):
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: ``web_session_secret``, else one derived from the data key
    (the same in every worker and across restarts), else — no data key — a random one per process."""
    if settings.web_session_secret is not None and settings.web_session_secret.get_secret_value():
        return settings.web_session_secret.get_secret_value()
    try:
        keyring = keyring_for(settings.database_url, settings.data_key_value, settings.data_key_file or None)
    except KeyringError:
        _log.warning("web: no data key and no web_session_secret; sessions last until this process ends")
        return secrets.token_urlsafe(32)
    return keyring.derive("web-session").hex()


def _install_error_pages(app: FastAPI) -> None:
    def page(request: Request, status: int, title: str, message: str) -> Response:
        response = render(None, request, "error.html", status_code=status, title=title, message=message)
        return response

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if request.method == "GET":
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return page(request, 401, "请先登录", "登录已失效，请重新登录。")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return page(request, 403, "请求被拒绝", "表单已过期或来源不明，请刷新页面后重试。")

    @app.exception_handler(TooManyAttempts)
    async def too_many(request: Request, exc: TooManyAttempts) -> Response:
        minutes = max(1, (exc.retry_after + 59) // 60)
        response = page(request, 429, "尝试次数过多", f"登录失败次数过多，请 {minutes} 分钟后再试。")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return page(request, 403, "无权访问", "您的账号无权访问此页面。")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return page(request, 404, "未找到", "没有这个页面，或它不属于您。")

    @app.exception_handler(ContactfixError)
    async def refused(request: Request, exc: ContactfixError) -> Response:
        return page(request, 400, "无法完成", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return page(request, 404, "未找到", "没有这个页面，或它不属于您。")
        return page(request, exc.status_code, "请求有误", str(exc.detail))

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return page(request, 422, "输入有误", f"请检查这些字段：{fields}")
