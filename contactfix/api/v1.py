"""API v1 (``/api/v1``): banks, mediators and operators, authenticated by bearer tokens.

A sub-application with its own OpenAPI (``/api/v1/openapi.json``) and docs page (``/api/v1/docs``,
scripts served by us). Bodies are limited as they stream in (uploads: the intake's file limit;
anything else: :data:`JSON_BODY_LIMIT`), and every error is JSON (:mod:`contactfix.api.errors`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from contactfix.api import v1_bank, v1_mediator, v1_operator
from contactfix.api.docs import mount_docs
from contactfix.api.errors import install_error_handlers
from contactfix.api.limits import BodyLimit
from contactfix.policy import load_profile
from contactfix.settings import Settings

__all__ = ["JSON_BODY_LIMIT", "PREFIX", "create_v1_app"]

PREFIX = "/api/v1"
JSON_BODY_LIMIT = 64 * 1024
_UPLOADS = ("/submissions", "/court-records")
_MULTIPART_OVERHEAD = 1 << 20

DESCRIPTION = """\
contactfix for banks, mediators and operators. Send `Authorization: Bearer <token>` (the token
`contactfix users add` printed). A missing or revoked token is 401, a route of another role 403,
another organisation's object 404. Errors are JSON: `{"detail": "…"}`.
"""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_v1_app(settings: Settings, engine: Engine) -> FastAPI:
    """The v1 application on ``engine``, to be mounted at :data:`PREFIX`."""
    app = FastAPI(
        title="contactfix API", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None,
        openapi_url="/openapi.json", servers=[{"url": PREFIX}],
    )  # fmt: skip
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = _utcnow  # tests set their own: the contact policy depends on the hour
    app.state.profile = load_profile(
        settings.policy_profile, Path(settings.policy_file) if settings.policy_file else None
    )
    install_error_handlers(app)
    app.include_router(v1_bank.router)
    app.include_router(v1_mediator.router)
    app.include_router(v1_operator.router)
    mount_docs(app, prefix=PREFIX, title="contactfix API v1")
    upload_limit = settings.intake_max_file_bytes + _MULTIPART_OVERHEAD

    def limit_of(path: str) -> int:
        return upload_limit if path.endswith(_UPLOADS) else JSON_BODY_LIMIT

    app.add_middleware(BodyLimit, limit_of=limit_of)
    return app
