"""Health and queue state: what a load balancer and an operator's monitoring ask."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from contactfix.db.migrate import head_revision, revision_of
from contactfix.dispatch.status import state_counts
from contactfix.settings import Settings

__all__ = ["router"]


def router(settings: Settings, engine: Engine) -> APIRouter:
    """``GET /health`` and ``GET /dispatches/status`` on ``engine``."""
    api = APIRouter()
    # The installed code's newest revision does not change while it runs: read once (parsing the
    # migration scripts costs ~25 ms of CPU, which under a busy worker's GIL became hundreds).
    head = head_revision()

    @api.get("/health")
    def health() -> dict[str, Any]:
        """200 when the database answers at the newest schema; 503 otherwise."""
        try:
            # On the app's pooled engine: no engine, connection and pragmas made per probe.
            with engine.connect() as connection:
                revision = revision_of(connection)
        except Exception as exc:
            raise HTTPException(503, f"database unavailable: {type(exc).__name__}") from None
        if revision != head:
            raise HTTPException(503, f"database schema at {revision}, expected {head}")
        return {"status": "ok", "schema": revision}

    @api.get("/dispatches/status")
    def dispatch_status() -> dict[str, int]:
        """Dispatches per state."""
        with Session(engine) as session:
            return state_counts(session)

    return api
