"""Errors mapped once, for every route: JSON ``{"detail": message}``, never a traceback, never PII.

- missing or bad token 401, wrong role 403, another organisation's object (or none) 404;
- a body that is not what the route takes: 422 with where and why, never the value sent (it may be
  a phone or ID number); a body that cannot be parsed 400; too large 413;
- an error contactfix raises on purpose about the input (``ContactfixError`` and ``ValueError``): 422;
- anything else: 500 with a generic message, logged with its traceback (tests make sure none occurs).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contactfix.access.errors import Forbidden, Unauthenticated
from contactfix.errors import ContactfixError, NotFound

__all__ = ["ServiceUnavailable", "install_error_handlers", "validation_message"]

log = logging.getLogger(__name__)
_SHOWN_ERRORS = 10


class ServiceUnavailable(ContactfixError):
    """Something the route needs (a provider, a connector) does not answer now: 503, try again."""


def _json(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """One sentence and a list of ``{loc, msg}``, built without the input values."""
    shown = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "invalid"))}
        for error in errors[:_SHOWN_ERRORS]
    ]
    sentence = "; ".join(f"{'.'.join(e['loc']) or 'body'}: {e['msg']}" for e in shown)
    return sentence or "the request is not valid", shown


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to a JSON answer on ``app``."""

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return _json(401, str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return _json(403, str(exc))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return _json(404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(error.get("type") == "json_invalid" for error in errors):
            return _json(400, "the body is not valid JSON")
        sentence, shown = validation_message(errors)
        return _json(422, sentence, errors=shown)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _json(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> JSONResponse:
        return _json(503, str(exc))

    @app.exception_handler(ContactfixError)
    async def refused(request: Request, exc: ContactfixError) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _json(500, f"internal error ({type(exc).__name__}); it was logged")
