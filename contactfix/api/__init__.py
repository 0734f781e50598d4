"""The HTTP API (``contactfix serve``): one FastAPI app assembled from routers by audience.

- :mod:`contactfix.api.health` — ``GET /health`` and ``GET /dispatches/status``;
- :mod:`contactfix.api.webhooks` — the providers' pushes (delivery reports, call records).

Each router module has a ``router(settings, engine)`` function; :func:`create_app` mounts them.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from contactfix.api import health, webhooks
from contactfix.db.engine import make_engine
from contactfix.settings import Settings, get_settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The API on ``settings``' database (or ``engine``)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    api = FastAPI(title="contactfix", summary="Lost-contact repair: provider callbacks and health.")
    api.include_router(health.router(settings, engine))
    api.include_router(webhooks.router(settings, engine))
    return api
