"""Providers' pushes in.

- ``POST /webhooks/aliyun/sms-report``: Alibaba Cloud SmsReport batches; each report moves its
  dispatch forward (duplicates and reordering change nothing).
- ``POST /webhooks/aliyun/call-record``: AXB SecretReport call records, stored once per call; they are
  the call history the daily call cap counts.

Unreadable entries of a push are counted and logged by position, never echoed (they hold numbers).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connectors.calls.axb import parse_axb_call_records
from connectors.sms.aliyun import parse_aliyun_reports
from contactfix.db.dispatch_models import CallAttempt
from contactfix.dispatch.receipts import Receipt, apply_receipts, dispatch_of_binding, record_calls
from contactfix.settings import Settings

__all__ = ["router"]

log = logging.getLogger(__name__)
# What Alibaba Cloud expects back from a push endpoint that took the batch.
_ALIYUN_OK = {"code": 0, "msg": "成功"}


def router(settings: Settings, engine: Engine) -> APIRouter:
    """The providers' push endpoints on ``engine``."""
    api = APIRouter()

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
