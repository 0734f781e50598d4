"""The HTTP API (``contactfix serve``): providers' pushes in, health out.

- ``POST /webhooks/aliyun/sms-report``: Alibaba Cloud SmsReport batches; each report moves its
  dispatch forward (duplicates and reordering change nothing).
- ``POST /webhooks/aliyun/call-record``: AXB SecretReport call records, stored once per call; they are
  the call history the daily call cap counts.
- ``GET /health``: the database answers and is at the newest schema.
- ``GET /dispatches/status``: dispatches per state.

Unreadable entries of a push are counted and logged by position, never echoed (they hold numbers).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connectors.calls.axb import parse_axb_call_records
from connectors.sms.aliyun import parse_aliyun_reports
from contactfix.db.dispatch_models import CallAttempt
from contactfix.db.engine import make_engine
from contactfix.db.migrate import current_revision, head_revision
from contactfix.dispatch.receipts import Receipt, apply_receipts, dispatch_of_binding, record_calls
from contactfix.dispatch.status import state_counts
from contactfix.settings import Settings, get_settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)
# What Alibaba Cloud expects back from a push endpoint that took the batch.
_ALIYUN_OK = {"code": 0, "msg": "成功"}


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The API on ``settings``' database (or ``engine``)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    api = FastAPI(title="contactfix", summary="Lost-contact repair: provider callbacks and health.")

    @api.get("/health")
    def health() -> dict[str, Any]:
        """200 when the database answers at the newest schema; 503 otherwise."""
        try:
            revision = current_revision(settings.database_url)
        except Exception as exc:
            raise HTTPException(503, f"database unavailable: {type(exc).__name__}") from None
        if revision != head_revision():
            raise HTTPException(503, f"database schema at {revision}, expected {head_revision()}")
        return {"status": "ok", "schema": revision}

    @api.get("/dispatches/status")
    def dispatch_status() -> dict[str, int]:
        """Dispatches per state."""
        with Session(engine) as session:
            return state_counts(session)

    @api.post("/webhooks/aliyun/sms-report")
    async def aliyun_sms_report(request: Request) -> dict[str, Any]:
        """Apply a batch of SMS delivery reports."""
        try:
            batch = parse_aliyun_reports(await request.body())
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        receipts = [
            Receipt(
                r.status, r.at, provider_message_id=r.provider_message_id, idempotency_key=r.idempotency_key
            )
            for r in batch
        ]
        with Session(engine) as session, session.begin():
            moved = apply_receipts(session, receipts)
        log.info("sms reports: %d read, %d applied, %d unreadable", len(batch), moved, len(batch.rejected))
        return _ALIYUN_OK

    @api.post("/webhooks/aliyun/call-record")
    async def aliyun_call_record(request: Request) -> dict[str, Any]:
        """Store a batch of privacy-number call records."""
        try:
            batch = parse_axb_call_records(await request.body(), timezone=settings.timezone)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        with Session(engine) as session, session.begin():
            calls = [
                CallAttempt(
                    provider_call_id=record.call_id,
                    value=record.called,
                    at=record.call_time,
                    answered=record.answered,
                    dispatch_id=dispatch_of_binding(session, record.subs_id),
                )
                for record in batch
            ]
            stored = record_calls(session, calls)
        log.info("call records: %d read, %d new, %d unreadable", len(batch), stored, len(batch.rejected))
        return _ALIYUN_OK

    return api
