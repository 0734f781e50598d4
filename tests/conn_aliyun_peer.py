"""A loopback Alibaba Cloud RPC gateway (127.0.0.1 only) with the SendSms and AXB products behind it.

The gateway checks a request the way the documentation says the provider does, written independently
of connectors.aliyun_rpc (its encoding is the documentation's Java recipe: form-encode, then ``+`` →
``%20``, ``*`` → ``%2A``, ``%7E`` → ``~``): the common parameters, a known AccessKeyId
(404 InvalidAccessKeyId.NotFound), a Timestamp within 15 minutes of its own clock (400
InvalidTimeStamp.Expired), a SignatureNonce never seen before (400 SignatureNonceUsed), and the
signature recomputed from the secret (400 SignatureDoesNotMatch, quoting its string to sign as the
real one does). Gateway errors answer ``{"RequestId", "HostId", "Code", "Message", "Recommend"}``;
business refusals HTTP 200 with their ``Code``. ``fail_next`` queues an answer for the next request
that passes the gateway (throttling, outages).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from zoneinfo import ZoneInfo

from loopback_http import serve_loopback

BEIJING = ZoneInfo("Asia/Shanghai")
KEY_ID, SECRET = "LTAI5tTestKeyId000001", "TestSecretForLoopbackOnly000001"
COMMON = ("AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce", "SignatureVersion")


def java_percent_encode(value: str) -> str:
    return (
        urllib.parse.quote_plus(value, encoding="utf-8")
        .replace("+", "%20")
        .replace("*", "%2A")
        .replace("%7E", "~")
    )


def expected_signature(secret: str, method: str, params: dict[str, str]) -> tuple[str, str]:
    query = "&".join(
        java_percent_encode(k) + "=" + java_percent_encode(params[k])
        for k in sorted(params)
        if k != "Signature"
    )
    to_sign = method + "&" + java_percent_encode("/") + "&" + java_percent_encode(query)
    mac = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode(), to_sign


class Refused(Exception):
    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(code)
        self.code, self.message, self.status = code, message, status


@dataclass
class SmsBackend:
    """SendSms: approved signs and templates (code → variables), credit, a per-number rate limit."""

    version: str = "2017-05-25"
    signs: set[str] = field(default_factory=lambda: {"某某调解中心"})
    templates: dict[str, set[str]] = field(default_factory=lambda: {"SMS_465970001": {"name", "content"}})
    credit: int = 1000
    per_number_per_minute: int = 100
    sent: list[dict[str, str]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(900619746936498440))

    def SendSms(self, p: dict[str, str], now: datetime) -> dict[str, Any]:
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not p.get(name):
                raise Refused("isv.INVALID_PARAMETERS", f"{name}不能为空")
        if not re.fullmatch(r"1[3-9]\d{9}", p["PhoneNumbers"]):
            raise Refused(
                "isv.MOBILE_NUMBER_ILLEGAL", f"非法手机号 {p['PhoneNumbers']}"
            )  # echoes it, as some do
        if p["SignName"] not in self.signs:
            raise Refused("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        variables = self.templates.get(p["TemplateCode"])
        if variables is None:
            raise Refused("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            given = json.loads(p.get("TemplateParam") or "{}")
        except ValueError:
            raise Refused("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值") from None
        if not isinstance(given, dict) or not variables <= set(given):
            raise Refused("isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
        recent = [
            m
            for m in self.sent
            if m["PhoneNumbers"] == p["PhoneNumbers"] and now - m["_at"] < timedelta(minutes=1)
        ]  # type: ignore[operator]
        if len(recent) >= self.per_number_per_minute:
            raise Refused("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控Permits:10")
        if self.credit <= 0:
            raise Refused("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
        self.credit -= 1
        biz_id = f"{next(self._ids)}^0"
        self.sent.append({**p, "BizId": biz_id, "_at": now})  # type: ignore[dict-item]
        return {"Code": "OK", "Message": "OK", "BizId": biz_id}

    def report(
        self, biz_id: str, success: bool = True, err_code: str = "DELIVERED", at: str = "2025-07-01 10:00:05"
    ) -> dict[str, Any]:
        """The SmsReport entry the platform pushes for a message it took (the documented shape)."""
        sent = next(m for m in self.sent if m["BizId"] == biz_id)
        return {
            "phone_number": sent["PhoneNumbers"],
            "send_time": "2025-07-01 10:00:00",
            "report_time": at,
            "success": success,
            "err_code": err_code,
            "err_msg": "用户接收成功" if success else "用户接收失败",
            "sms_size": "1",
            "biz_id": biz_id,
            "out_id": sent.get("OutId", ""),
        }


@dataclass
class AxbBackend:
    """BindAxb / UnbindSubscription over pools of X numbers; AXB pairs must not repeat A or B on one X."""

    version: str = "2017-05-25"
    pools: dict[str, list[str]] = field(
        default_factory=lambda: {"FC100000123456789": ["17100001111", "17100002222"]}
    )
    bindings: dict[str, dict[str, str]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000000768790001))

    def BindAxb(self, p: dict[str, str], now: datetime) -> dict[str, Any]:
        pool = self.pools.get(p.get("PoolKey", ""))
        if pool is None:
            raise Refused("isv.POOLKEY_NOT_EXISTS", "号池不存在")
        for name in ("PhoneNoA", "PhoneNoB"):
            if not re.fullmatch(r"1[3-9]\d{9}|0\d{9,11}", p.get(name, "")):
                raise Refused("isv.MOBILE_NUMBER_ILLEGAL", f"号码格式非法 {p.get(name)}")
        try:
            expiry = datetime.strptime(p["Expiration"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        except (KeyError, ValueError):
            raise Refused("isv.EXPIRE_DATE_ILLEGAL", "过期时间非法") from None
        if expiry <= now + timedelta(minutes=1):
            raise Refused("isv.EXPIRE_DATE_ILLEGAL", "过期时间非法")
        a, b = p["PhoneNoA"], p["PhoneNoB"]
        for x in pool:
            taken = {n for s in self.bindings.values() if s["X"] == x for n in (s["A"], s["B"])}
            if a not in taken and b not in taken:
                subs_id = str(next(self._ids))
                self.bindings[subs_id] = {
                    "A": a,
                    "B": b,
                    "X": x,
                    **{k: p.get(k, "") for k in ("Expiration", "OutId", "IsRecordingEnabled", "PoolKey")},
                }
                return {
                    "Code": "OK",
                    "Message": "OK",
                    "SecretBindDTO": {"SubsId": subs_id, "SecretNo": x, "Extension": ""},
                }
        raise Refused("isv.NO_AVAILABLE_NUMBER", "无可用号码")

    def UnbindSubscription(self, p: dict[str, str], now: datetime) -> dict[str, Any]:
        bound = self.bindings.get(p.get("SubsId", ""))
        if bound is None or bound["X"] != p.get("SecretNo") or bound["PoolKey"] != p.get("PoolKey"):
            raise Refused("isv.SUBS_NOT_EXIST", "绑定关系不存在")
        del self.bindings[p["SubsId"]]
        return {"Code": "OK", "Message": "OK", "ChargeId": "true"}


@dataclass
class AliyunPeer:
    backend: Any
    keys: dict[str, str] = field(default_factory=lambda: {KEY_ID: SECRET})
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    nonces: set[str] = field(default_factory=set)
    requests: list[dict[str, str]] = field(default_factory=list)  # every request that passed the gateway
    refused: list[str] = field(default_factory=list)  # codes answered, in order
    queued: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, code: str, message: str = "") -> None:
        self.queued.append((status, {"Code": code, "Message": message}))

    def handle(self, method: str, p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            try:
                return 200, self._handle(method, p)
            except Refused as refusal:
                self.refused.append(refusal.code)
                body = {
                    "RequestId": str(uuid.uuid4()).upper(),
                    "Code": refusal.code,
                    "Message": refusal.message,
                }
                if refusal.status != 200:
                    body |= {
                        "HostId": "dysmsapi.aliyuncs.com",
                        "Recommend": f"https://api.aliyun.com/troubleshoot?q={refusal.code}",
                    }
                return refusal.status, body

    def _handle(self, method: str, p: dict[str, str]) -> dict[str, Any]:
        for name in (*COMMON, "Timestamp", "Version", "Signature"):
            if not p.get(name):
                raise Refused(f"Missing{name}", f"{name} is mandatory for this action.", 400)
        if p["SignatureMethod"] != "HMAC-SHA1" or p["SignatureVersion"] != "1.0":
            raise Refused("InvalidSignatureMethod", "Specified signature method is not valid.", 400)
        if p["Version"] != self.backend.version or not hasattr(self.backend, p["Action"]):
            raise Refused(
                "InvalidApi.NotFound", "Specified api is not found, please check your url and method.", 404
            )
        secret = self.keys.get(p["AccessKeyId"])
        if secret is None:
            raise Refused("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        try:
            stamp = datetime.strptime(p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise Refused(
                "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.", 400
            ) from None
        now = self.clock()
        if abs(now - stamp) > timedelta(minutes=15):
            raise Refused("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)
        signature, to_sign = expected_signature(secret, method, p)
        if not hmac.compare_digest(signature, p["Signature"]):
            message = (
                "Specified signature is not matched with our calculation. server string to sign is:" + to_sign
            )
            raise Refused("SignatureDoesNotMatch", message, 400)
        if p["SignatureNonce"] in self.nonces:
            raise Refused("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
        self.nonces.add(p["SignatureNonce"])
        self.requests.append(dict(p))
        if self.queued:
            status, body = self.queued.pop(0)
            raise Refused(body["Code"], body["Message"], status)
        answer: dict[str, Any] = getattr(self.backend, p["Action"])(p, now)
        return {"RequestId": str(uuid.uuid4()).upper(), **answer}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("ascii")
        self._answer("POST", raw)

    def do_GET(self) -> None:
        self._answer("GET", urllib.parse.urlsplit(self.path).query)

    def _answer(self, method: str, query: str) -> None:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True, encoding="utf-8")
        status, body = self.server.peer.handle(method, dict(pairs))  # type: ignore[attr-defined]
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(peer: AliyunPeer) -> Iterator[AliyunPeer]:
    """Run ``peer`` on an ephemeral loopback port for the duration of the block."""
    with serve_loopback(_Handler, peer) as url:
        peer.url = url
        yield peer
