"""``caih-repair``: carrier lost-contact repair through CAIH's 验真平台 (api.caih.com), over HTTP.

Modelled on the provider's published API documentation (验真平台API文档, showdoc.com.cn/CaihVerify):

* 认证信息参数和统一响应参数 (/4812644724694594): every request is ``POST`` JSON
  ``{"authinfo": {...}, "param": {...}}``; ``authinfo`` = ``userkey``, ``appid``, ``timestamp``
  (``yyyyMMddHHmmss``, Beijing time) and ``sign`` = MD5(secretkey + userkey + appid + timestamp), 32 hex.
  Answers are ``{"code", "message", "msgid", "billing", "data"}``; ``code`` ``"000"`` is success.
* 请求返回码字典 (/4812835348284779): 1xx (a field empty) and 2xx (a field malformed) refusals.
* 失联修复上传数据 lost_repair_upload_data (/6045298128613478): ``param.toRepairDataArray`` of
  ``{name (≤30 chars), idcode (SHA-256 of the upper-cased ID), usedPhone, authCode}``, at most 1,000,
  no requests from the 27th of a month; the answer's ``msgid`` is the batch id (uploadDataMsgid).
* 失联修复匹配结果-客户请求平台 lost_repair_matching_result (/6229738835115026): ``param.uploadDataMsgid``
  → ``data`` with ``state``, ``desc``, ``toRepairCount``, ``successCount``, ``successTime``, ``dueDate``.
* 失联修复绑定中间号 lost_repair_bind_virtual_number (/6230087512905164): ``uploadDataMsgid``,
  ``callNumber`` (a caller registered with the operator), ``authCode``; only 08:00:00–21:30:00 and not
  after the batch's ``dueDate``; the answer's ``msgid`` identifies the binding (for call records).

The authorisation reference is sent as the ``authCode`` (授权码): the provider's overview describes it as
the contract number that indexes the debtor's authorisation, and results come back per authCode.

Not in the pages we could read, so assumed here and to confirm with the provider's operations staff:
the name of the list of repaired authCodes (:data:`SUCCESS_CODES_FIELD`), the virtual number's field
(:data:`VIRTUAL_NUMBER_FIELD`), that a batch counts as settled once ``successCount`` is present, and
``dueDate`` as ``yyyy-MM-dd``. Return codes beyond the documented 1xx/2xx are treated as permanent
unless listed in the ``retryable_codes`` option.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from connectors.base import InvalidMessage
from connectors.errors import RetryableError
from connectors.http import HttpConnectorBase, HttpRequest, HttpResponse
from connectors.repair.base import (
    Clock,
    OutsideProviderWindow,
    RepairPending,
    RepairRequest,
    RepairResult,
    RepairStatus,
    VirtualBinding,
    VirtualBindRequest,
    check_binding_time,
    decode_token,
    encode_token,
    end_of_day,
    prepare_batch,
    reference_of,
    system_clock,
)

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://api.caih.com/verify/api"
SUCCESS_CODE = "000"
SUCCESS_CODES_FIELD = "successAuthCodes"
VIRTUAL_NUMBER_FIELD = "virtualNumber"
MAX_NAME_LENGTH = 30
UPLOAD_CLOSED_FROM_DAY = 27


class CaihRepairConnector(HttpConnectorBase):
    """The :class:`~connectors.repair.RepairConnector` for CAIH's 失联修复 API."""

    provider: ClassVar[str] = "caih"
    required_options: ClassVar[tuple[str, ...]] = ("userkey", "appid", "secretkey")

    def __init__(
        self,
        userkey: str,
        appid: str,
        secretkey: str,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        timeout: float = 10.0,
        retryable_codes: Iterable[str] = (),
        proxy: str | None = None,
        clock: Clock = system_clock,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        super().__init__(endpoint, timeout=timeout, retryable_codes=retryable_codes, proxy=proxy)
        self._userkey, self._appid, self._secretkey = userkey, appid, secretkey
        self._clock = clock
        self._zone = ZoneInfo(timezone)

    def submit(self, requests: Sequence[RepairRequest]) -> str:
        """Upload one batch (lost_repair_upload_data); return the platform's batch id (msgid)."""
        prepared = prepare_batch(requests)
        too_long = [
            str(i) for i, request in enumerate(prepared.requests) if len(request.name) > MAX_NAME_LENGTH
        ]
        if too_long:
            raise InvalidMessage(
                f"names longer than {MAX_NAME_LENGTH} characters at positions {', '.join(too_long)}"
            )
        self._check_upload_window()
        items = [_upload_item(request) for request in prepared.requests]
        answer = self._call("lost_repair_upload_data", {"toRepairDataArray": items})
        batch_id = str(answer["msgid"])
        log.info("caih: batch %s uploaded with %d debtors", batch_id, len(items))
        return batch_id

    def query(self, batch_id: str) -> list[RepairResult]:
        """The repaired debtors of a settled batch (lost_repair_matching_result); RepairPending before."""
        data = self._call("lost_repair_matching_result", {"uploadDataMsgid": batch_id})["data"]
        if "successCount" not in data:
            raise RepairPending(f"caih: batch {batch_id} not settled yet ({data.get('desc', '')})")
        codes = [str(code) for code in data.get(SUCCESS_CODES_FIELD) or []]
        if len(codes) != int(data["successCount"]):
            raise RetryableError(
                f"caih: batch {batch_id} lists {len(codes)} of {data['successCount']} repaired"
            )
        valid_until = end_of_day(date.fromisoformat(str(data["dueDate"])[:10]), self._zone) if codes else None
        return [
            RepairResult(
                batch_id=batch_id,
                reference=code,
                status=RepairStatus.REPAIRED,
                token=encode_token(batch_id, code, valid_until),
                valid_until=valid_until,
            )
            for code in codes
        ]

    def bind_virtual_number(self, request: VirtualBindRequest) -> VirtualBinding:
        """A privacy number for the caller (lost_repair_bind_virtual_number), checked before sending."""
        token = decode_token(request.token)
        call_number = _national(request.caller)
        check_binding_time(self._clock(), token.valid_until, self._zone)
        param = {"uploadDataMsgid": token.batch_id, "callNumber": call_number, "authCode": token.reference}
        answer = self._call("lost_repair_bind_virtual_number", param)
        data = answer.get("data") or {}
        number = data.get(VIRTUAL_NUMBER_FIELD)
        if not number:
            raise self.provider_error(str(data.get("state", "no-number")), str(data.get("desc", "")))
        return VirtualBinding(
            binding_id=str(answer["msgid"]),
            caller=request.caller,
            virtual_number=_e164(str(number)),
            valid_until=token.valid_until,
        )

    def error_code(self, response: HttpResponse) -> tuple[str, str] | None:
        """The platform's ``code``/``message`` when an HTTP error answer carries them."""
        try:
            body = response.json()
            return str(body["code"]), str(body.get("message", ""))
        except (RetryableError, KeyError, TypeError):
            return None

    def _call(self, operation: str, param: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps({"authinfo": self._authinfo(), "param": param}, ensure_ascii=False).encode("utf-8")
        request = HttpRequest("POST", operation, body, {"Content-Type": "application/json;charset=UTF-8"})
        return self.exchange(request, self._accepted)

    def _accepted(self, response: HttpResponse) -> dict[str, Any]:
        answer = response.json()
        if not isinstance(answer, dict):
            raise TypeError("answer is not an object")
        code = str(answer["code"])
        if code != SUCCESS_CODE:
            raise self.provider_error(code, str(answer.get("message", "")))
        return answer

    def _authinfo(self) -> dict[str, str]:
        timestamp = self._clock().astimezone(self._zone).strftime("%Y%m%d%H%M%S")
        return {
            "userkey": self._userkey,
            "appid": self._appid,
            "timestamp": timestamp,
            "sign": sign(self._secretkey, self._userkey, self._appid, timestamp),
        }

    def _check_upload_window(self) -> None:
        local = self._clock().astimezone(self._zone)
        if local.day < UPLOAD_CLOSED_FROM_DAY:
            return
        first_of_next = (local.replace(day=1) + timedelta(days=32)).replace(day=1)
        opens = datetime.combine(first_of_next.date(), datetime.min.time(), tzinfo=self._zone)
        raise OutsideProviderWindow(
            f"caih takes no uploads from the {UPLOAD_CLOSED_FROM_DAY}th of a month", opens
        )


def sign(secretkey: str, userkey: str, appid: str, timestamp: str) -> str:
    """The platform's request signature: MD5 hex of secretkey + userkey + appid + timestamp."""
    return hashlib.md5((secretkey + userkey + appid + timestamp).encode("utf-8")).hexdigest()


def _upload_item(request: RepairRequest) -> dict[str, str]:
    item = {"name": request.name.strip(), "idcode": request.id_sha256, "authCode": reference_of(request)}
    if request.old_phone and request.old_phone.startswith("+86"):
        item["usedPhone"] = request.old_phone[3:]  # the platform takes national numbers
    return item


def _national(number: str) -> str:
    if not number.startswith("+86"):
        raise InvalidMessage("caih binds only Chinese (+86) caller numbers")
    return number[3:]


def _e164(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    if digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    return "+86" + digits.lstrip("0")  # landlines drop their trunk 0 in E.164
