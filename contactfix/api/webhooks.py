"""Providers' pushes in.

- ``POST /webhooks/aliyun/sms-report``: Alibaba Cloud SmsReport batches; each report moves the
  dispatch whose provider message id (``BizId``) it names forward (duplicates and reordering change
  nothing).
- ``POST /webhooks/aliyun/call-record``: AXB SecretReport call records, stored once per call and
  only for bindings we made (see :func:`contactfix.dispatch.receipts.record_pushed_calls`); they are
  the call history the daily call cap counts.

Who may push: Alibaba Cloud signs neither push (the SmsReport page documents the body and the answer,
no signature), so each provider has a shared secret (setting ``webhook_secret_aliyun``), presented in
the header ``X-Contactfix-Webhook-Secret`` or as the password of HTTP Basic authentication (a push URL
``https://aliyun:SECRET@host/webhooks/aliyun/...`` sends it so, and never in an access log's query
string). It is compared in constant time; a wrong or missing one is 401 before the body is read, and
an unset one makes the webhook answer 503: it is never open.

What is taken: a body of at most ``webhook_max_body_bytes`` (413 as soon as more arrives, while it
streams in), a JSON array of at most ``webhook_max_entries`` flat objects (422 above). Malformed JSON,
deep nesting, NaN or numbers out of range are 400 with a message; an unreadable entry is set aside
and counted, the others are taken. Parsing and database work run in the thread pool, so a large push
never holds up the event loop (``/health`` answers meanwhile). Unreadable entries are logged by
position, never echoed (they hold numbers).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectors.aliyun_rpc import PushTooLarge, national_number
from connectors.base import InvalidMessage
from connectors.calls.axb import CallRecord, parse_axb_call_records
from connectors.sms.aliyun import parse_aliyun_reports
from contactfix.dispatch.receipts import PushedCall, Receipt, apply_receipts, record_pushed_calls
from contactfix.settings import Settings

__all__ = ["SECRET_HEADER", "router"]

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Contactfix-Webhook-Secret"
# What Alibaba Cloud expects back from a push endpoint that took the batch.
_ALIYUN_OK = {"code": 0, "msg": "成功"}


def authenticate(request: Request, secret: SecretStr | None, provider: str) -> None:
    """Return when the request presents ``secret``; 503 when none is configured, 401 otherwise."""
    if secret is None or not secret.get_secret_value():
        raise HTTPException(503, f"the {provider} webhook is not configured (set webhook_secret_{provider})")
    expected = secret.get_secret_value().encode("utf-8")
    presented = request.headers.get(SECRET_HEADER)
    if presented is None:
        presented = _basic_password(request.headers.get("authorization", ""))
    if presented is None or not hmac.compare_digest(presented.encode("utf-8"), expected):
        raise HTTPException(401, "webhook secret missing or wrong", headers={"WWW-Authenticate": "Basic"})


def _basic_password(header: str) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[2] or None


async def read_capped_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes: from its
    Content-Length before reading, or while it streams in (chunked bodies have none)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise HTTPException(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise HTTPException(413, f"push body larger than {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"push body larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _binding_ids(record: CallRecord) -> tuple[str, ...]:
    """How an AXB binding we made is stored (``SubsId:SecretNo``), most specific first."""
    try:
        return (f"{record.subs_id}:{national_number(record.virtual_number, 'secret_no')}", record.subs_id)
    except InvalidMessage:
        return (record.subs_id,)


def router(settings: Settings, engine: Engine) -> APIRouter:
    """The providers' push endpoints on ``engine``."""
    api = APIRouter()
    if settings.webhook_secret_aliyun is None:
        log.warning("webhook_secret_aliyun is not set: the Alibaba Cloud webhooks answer 503")
    skew = dt.timedelta(seconds=settings.webhook_clock_skew_s)
    binding_life = dt.timedelta(hours=settings.dispatch_binding_hours)

    def apply_sms_reports(body: bytes) -> dict[str, Any]:
        try:
            batch = parse_aliyun_reports(body, max_entries=settings.webhook_max_entries)
        except PushTooLarge as exc:
            raise HTTPException(422, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        receipts = [Receipt(r.status, r.at, provider_message_id=r.provider_message_id) for r in batch]
        with Session(engine) as session, session.begin():
            moved = apply_receipts(session, receipts)
        log.info("sms reports: %d read, %d applied, %d unreadable", len(batch), moved, len(batch.rejected))
        return _ALIYUN_OK

    def store_call_records(body: bytes) -> dict[str, Any]:
        try:
            batch = parse_axb_call_records(
                body, timezone=settings.timezone, max_entries=settings.webhook_max_entries
            )
        except PushTooLarge as exc:
            raise HTTPException(422, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        calls = [
            PushedCall(_binding_ids(r), r.call_id, r.caller, r.called, r.call_time, r.answered) for r in batch
        ]
        with Session(engine) as session, session.begin():
            counts = record_pushed_calls(
                session, calls, now=dt.datetime.now(dt.UTC), binding_life=binding_life, skew=skew
            )
        log.info(
            "call records: %d read, %d new, %d repeated, %d unreadable; dropped: %d unknown binding, "
            "%d numbers not the binding's, %d outside its life, %d from the debtor",
            len(batch), counts.stored, counts.repeated, len(batch.rejected), counts.unknown_binding,
            counts.wrong_numbers, counts.out_of_window, counts.inbound,
        )  # fmt: skip
        return _ALIYUN_OK

    @api.post("/webhooks/aliyun/sms-report")
    async def aliyun_sms_report(request: Request) -> dict[str, Any]:
        """Apply a batch of SMS delivery reports."""
        authenticate(request, settings.webhook_secret_aliyun, "aliyun")
        body = await read_capped_body(request, settings.webhook_max_body_bytes)
        return await run_in_threadpool(apply_sms_reports, body)

    @api.post("/webhooks/aliyun/call-record")
    async def aliyun_call_record(request: Request) -> dict[str, Any]:
        """Store a batch of privacy-number call records."""
        authenticate(request, settings.webhook_secret_aliyun, "aliyun")
        body = await read_capped_body(request, settings.webhook_max_body_bytes)
        return await run_in_threadpool(store_call_records, body)

    return api
