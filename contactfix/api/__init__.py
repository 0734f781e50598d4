"""The HTTP API (``contactfix serve``): one FastAPI app assembled from routers by audience.

- :mod:`contactfix.api.health` — ``GET /health`` and ``GET /dispatches/status``;
- :mod:`contactfix.api.webhooks` — the providers' pushes (delivery reports, call records);
- :mod:`contactfix.api.v1` — ``/api/v1``: banks, mediators and operators, with bearer tokens;
- :mod:`contactfix.web` — the web pages (``/login``, ``/cases``, ``/submissions``, ``/ops``), with
  session cookies, mounted last at ``/``.

Each router module has a ``router(settings, engine)`` function; :func:`create_app` mounts them. The
docs pages load their scripts from us, not from a CDN.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from contactfix.api import health, webhooks
from contactfix.api.docs import mount_docs
from contactfix.api.v1 import PREFIX, create_v1_app
from contactfix.db.engine import make_engine
from contactfix.settings import Settings, get_settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The API on ``settings``' database (or ``engine``)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    api = FastAPI(
        title="contactfix", summary="Lost-contact repair: provider callbacks, health, and API v1 at /api/v1.",
        docs_url=None, redoc_url=None,
    )  # fmt: skip
    api.include_router(health.router(settings, engine))
    api.include_router(webhooks.router(settings, engine))
    mount_docs(api, prefix="", title="contactfix")
    api.mount(PREFIX, create_v1_app(settings, engine))
    from contactfix.web import create_web_app

    api.mount("/", create_web_app(settings, engine))  # last: the routes above come first
    return api
