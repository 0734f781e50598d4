"""The HTTP API (``contactfix serve``): one FastAPI app assembled from routers by audience.

- :mod:`contactfix.api.health` — ``GET /health`` and ``GET /dispatches/status``;
- :mod:`contactfix.api.webhooks` — the providers' pushes (delivery reports, call records);
- :mod:`contactfix.api.v1` — ``/api/v1``: banks, mediators and operators, with bearer tokens;
- :mod:`contactfix.web` — the web pages (``/login``, ``/cases``, ``/submissions``, ``/ops``), with
  session cookies, mounted last at ``/``.

Each router module has a ``router(settings, engine)`` function; :func:`create_app` mounts them. The
docs pages load their scripts from us, not from a CDN.

Blocking work runs on ``api_threads`` threads per process (anyio's default is 40, which only makes
threads contend for the GIL under load), and the engine's pool holds as many connections, so that a
busy process neither opens and closes connections beyond its pool nor waits for one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy import Engine

from contactfix.api import health, webhooks
from contactfix.api.docs import mount_docs
from contactfix.api.v1 import PREFIX, create_v1_app
from contactfix.db.engine import make_engine, normalise_url
from contactfix.settings import Settings, get_settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The API on ``settings``' database (or ``engine``)."""
    settings = settings or get_settings()
    engine = engine or _engine(settings)
    threads = settings.api_threads

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        _warm_up()
        yield

    api = FastAPI(
        title="contactfix", summary="Lost-contact repair: provider callbacks, health, and API v1 at /api/v1.",
        docs_url=None, redoc_url=None, lifespan=lifespan,
    )  # fmt: skip
    api.include_router(health.router(settings, engine))
    api.include_router(webhooks.router(settings, engine))
    mount_docs(api, prefix="", title="contactfix")
    api.mount(PREFIX, create_v1_app(settings, engine))
    from contactfix.web import create_web_app

    api.mount("/", create_web_app(settings, engine))  # last: the routes above come first
    return api


def _engine(settings: Settings) -> Engine:
    url = settings.database_url
    if normalise_url(url).get_backend_name() != "postgresql":
        return make_engine(url)  # SQLite: one writer at a time whatever the pool
    # The threads' connections, and as many again for streamed answers that hold one between chunks.
    return make_engine(url, pool_size=settings.api_threads, max_overflow=settings.api_threads)


def _warm_up() -> None:
    """Build once, before the first request, the lookup tables every masked phone needs (about 0.15 s),
    so that the first requests of a process do not wait for them."""
    from matchers.identifiers import mask_phone

    mask_phone("+8613800138000")
