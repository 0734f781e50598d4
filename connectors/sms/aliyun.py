"""``aliyun-sms``: text messages through Alibaba Cloud 短信服务 (dysmsapi, RPC API version 2017-05-25).

Modelled on the provider's documentation:

* SendSms (help.aliyun.com/document_detail/55284): ``PhoneNumbers`` (a Chinese mobile without prefix;
  other countries as country code + number), ``SignName``, ``TemplateCode``, ``TemplateParam`` (a JSON
  object of the template's variables), ``OutId`` (外部流水扩展字段, echoed in the delivery report). The
  answer ``{"Code": "OK", "BizId", "RequestId", "Message"}`` means the platform took the message; we
  report it as SENT with the ``BizId`` as the provider's message id. Signing and the common error
  mapping are in :mod:`connectors.aliyun_rpc`.
* API错误码 (help.aliyun.com/document_detail/101346): per-number rate limits (isv.BUSINESS_LIMIT_CONTROL),
  the account's daily/monthly quota and credit (isv.DAY_LIMIT_CONTROL, isv.MONTH_LIMIT_CONTROL,
  isv.AMOUNT_NOT_ENOUGH) are retryable — the same message is taken later; an illegal number, template,
  signature or content is permanent.
* SmsReport (help.aliyun.com/document_detail/101867): the delivery-report push, a JSON array of
  ``{phone_number, send_time, report_time, success, err_code, err_msg, sms_size, biz_id, out_id}``,
  possibly several per request, resent when the receiver does not answer 200 — read by
  :func:`parse_aliyun_reports`.

The core's message maps onto a template: ``SmsMessage.metadata`` holds the template's variables and,
when the ``text_variable`` option names one, ``SmsMessage.text`` fills it (a template such as
``${content}``). ``sender``, when given, is ignored: the signature is the ``sign_name`` option.

SendSms is not idempotent (the documentation says so): a key already sent by this connector returns
the first result without a second request. Across processes the core's dispatch record is the guard;
after an unknown outcome (timeout, unreadable answer) the report's ``out_id`` — our key — tells whether
the first attempt went out.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from connectors.aliyun_rpc import (
    BEIJING,
    AliyunRpcConnector,
    Clock,
    PushBatch,
    RejectedEntry,
    flat_entry,
    local_time,
    log_rejected,
    new_nonce,
    read_push,
    require_settings,
    system_clock,
)
from connectors.base import DeliveryReceipt, DeliveryStatus, SendResult, SmsMessage
from connectors.http import HttpRequest, HttpResponse, HttpSmsConnectorBase
from connectors.masking import mask_text

log = logging.getLogger(__name__)

PROVIDER = "aliyun-sms"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"
API_VERSION = "2017-05-25"
MAX_ID_CHARS = 128  # a provider's id longer than this is no id of theirs
REMEMBERED_SENDS = 10_000  # keys whose result a repeated send returns without a second request

# A failed report's err_code; carriers pass SMPP's words through. Anything else failed is FAILED.
_FAILED_CODES = {"EXPIRED": DeliveryStatus.EXPIRED, "REJECTD": DeliveryStatus.REJECTED}


@dataclass(frozen=True)
class AliyunSmsReport(DeliveryReceipt):
    """A delivery receipt from the SmsReport push, with what it adds to the common receipt.

    ``provider_message_id`` is the ``BizId`` SendSms returned; ``idempotency_key`` the ``OutId`` we sent
    (our key), so a report matches its message even when the send's answer was lost. Every report is
    final (delivered or not): applied with :func:`~connectors.base.can_move`, repeats and late
    arrivals change nothing.
    """

    idempotency_key: str | None = None
    parts: int | None = None
    error_message: str | None = None


class AliyunSmsConnector(AliyunRpcConnector, HttpSmsConnectorBase):
    """The :class:`~connectors.base.SmsConnector` for Alibaba Cloud SendSms."""

    provider: ClassVar[str] = PROVIDER
    api_version: ClassVar[str] = API_VERSION
    required_options: ClassVar[tuple[str, ...]] = (
        "access_key_id",
        "access_key_secret",
        "sign_name",
        "template_code",
    )
    product_retryable_codes: ClassVar[frozenset[str]] = frozenset(
        {
            "isv.BUSINESS_LIMIT_CONTROL",
            "isv.DAY_LIMIT_CONTROL",
            "isv.MONTH_LIMIT_CONTROL",
            "isv.AMOUNT_NOT_ENOUGH",
        }
    )

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        *,
        text_variable: str | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        region_id: str = "cn-hangzhou",
        timeout: float = 10.0,
        retryable_codes: Iterable[str] = (),
        proxy: str | None = None,
        clock: Clock = system_clock,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        # Every missing setting at once, before the base checks the keys alone.
        require_settings(
            PROVIDER,
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            sign_name=sign_name,
            template_code=template_code,
        )
        super().__init__(
            access_key_id,
            access_key_secret,
            endpoint=endpoint,
            region_id=region_id,
            timeout=timeout,
            retryable_codes=retryable_codes,
            proxy=proxy,
            clock=clock,
            nonce=nonce,
        )
        self.sign_name = sign_name.strip()
        self.template_code = template_code.strip()
        self.text_variable = text_variable
        self._sent: OrderedDict[str, SendResult] = OrderedDict()
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> SendResult:
        """Send ``message`` once per idempotency key (within this connector); SENT with the BizId."""
        with self._lock:
            earlier = self._sent.get(message.idempotency_key)
        if earlier is not None:
            log.info("%s: %s already sent, not repeated", PROVIDER, message.idempotency_key)
            return earlier
        result = super().send(message)
        with self._lock:
            self._sent[message.idempotency_key] = result
            while len(self._sent) > REMEMBERED_SENDS:
                self._sent.popitem(last=False)
        log.info("%s: %s taken as %s", PROVIDER, message.idempotency_key, result.provider_message_ids[0])
        return result

    def build_payload(self, message: SmsMessage) -> HttpRequest:
        """The signed SendSms request for ``message``."""
        params = {
            "PhoneNumbers": sms_recipient(message.to),
            "SignName": self.sign_name,
            "TemplateCode": self.template_code,
            "OutId": message.idempotency_key,
        }
        variables = dict(message.metadata)
        if self.text_variable:
            variables[self.text_variable] = message.text
        if variables:
            params["TemplateParam"] = json.dumps(variables, ensure_ascii=False, separators=(",", ":"))
        return self.rpc_request("SendSms", params)

    def parse_status(self, response: HttpResponse, message: SmsMessage) -> SendResult:
        """``Code`` OK → SENT with the ``BizId``; any other code → the mapped error."""
        answer = self.accepted(response)
        biz_id = str(answer["BizId"])
        if not biz_id:
            raise ValueError("BizId is empty")
        return SendResult((biz_id,), DeliveryStatus.SENT, PROVIDER)


def sms_recipient(e164: str) -> str:
    """``PhoneNumbers`` for one E.164 number: Chinese numbers without prefix, others without ``+``."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


def parse_aliyun_reports(body: bytes, *, max_entries: int | None = None) -> PushBatch[AliyunSmsReport]:
    """The receipts of one SmsReport push, in arrival order, exact repeats dropped.

    An entry that cannot be read (no ``biz_id`` or one over 128 characters, an unreadable
    ``report_time``, ``success`` not a boolean, not a flat object) is listed in ``rejected`` with its
    position and logged; the others are kept. Raises ``ValueError`` when the body is not a JSON array
    of at most ``max_entries`` entries (:class:`~connectors.aliyun_rpc.PushTooLarge` for too many).
    """
    entries = read_push(body, PROVIDER, max_entries)
    reports: PushBatch[AliyunSmsReport] = PushBatch()
    seen: set[AliyunSmsReport] = set()  # a set: a list's ``in`` made a push of n reports cost n²
    for index, entry in enumerate(entries):
        try:
            report = _report(entry)
        except (KeyError, TypeError, ValueError) as exc:
            reports.rejected.append(RejectedEntry(index, _reason(exc)))
            continue
        if report not in seen:
            seen.add(report)
            reports.append(report)
    log_rejected(PROVIDER, reports.rejected, len(entries))
    return reports


def _report(entry: Any) -> AliyunSmsReport:
    entry = flat_entry(entry)
    biz_id = str(entry["biz_id"] or "").strip()
    if not biz_id:
        raise ValueError("biz_id is empty")
    if len(biz_id) > MAX_ID_CHARS:
        raise ValueError(f"biz_id is longer than {MAX_ID_CHARS} characters")
    delivered = _flag(entry["success"])
    code = str(entry.get("err_code") or "") or None
    if delivered:
        status = DeliveryStatus.DELIVERED
    else:
        status = _FAILED_CODES.get((code or "").upper(), DeliveryStatus.FAILED)
    size = str(entry.get("sms_size") or "")
    message = str(entry.get("err_msg") or "")
    return AliyunSmsReport(
        provider_message_id=biz_id,
        status=status,
        at=local_time(entry["report_time"], BEIJING),
        error_code=None if delivered else code,
        idempotency_key=str(entry.get("out_id") or "")[:MAX_ID_CHARS] or None,
        parts=int(size) if size.isdigit() and len(size) < 6 else None,
        error_message=mask_text(message) if message and not delivered else None,
    )


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("success is not a boolean")


def _reason(exc: Exception) -> str:
    # Our own messages name a field, never its value; a KeyError names the missing field.
    return f"{exc.args[0]} missing" if isinstance(exc, KeyError) else str(exc)
