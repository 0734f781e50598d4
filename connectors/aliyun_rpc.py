"""Alibaba Cloud RPC-style API calls (signature version 1.0), shared by ``aliyun-sms`` and ``aliyun-axb``.

Signing follows the 签名机制 pages of 短信服务 (help.aliyun.com/document_detail/101343,
alibabacloud.com/help/zh/sms/signature-method) and of the RPC APIs in general
(help.aliyun.com/document_detail/28839):

* every parameter except ``Signature`` — the common ones (``AccessKeyId``, ``Action``, ``Format``,
  ``SignatureMethod`` = ``HMAC-SHA1``, ``SignatureNonce`` (a UUID, never reused), ``SignatureVersion`` =
  ``1.0``, ``Timestamp`` (ISO 8601, UTC, ``yyyy-MM-ddTHH:mm:ssZ``), ``Version``) and the operation's own —
  is sorted by name and percent-encoded as UTF-8 under RFC 3986 (``A–Z a–z 0–9 - _ . ~`` kept, space
  ``%20``, never ``+``), joined ``name=value`` with ``&``;
* StringToSign = HTTPMethod + ``&`` + percentEncode(``/``) + ``&`` + percentEncode(that query);
* Signature = Base64(HMAC-SHA1(AccessKeySecret + ``&``, StringToSign)).

:func:`rpc_signature` reproduces both worked examples of those pages exactly (the SendSms example
with ``testSecret`` → ``zJDF+Lrzhj/ThnlvIToysFRq6t4=``; DescribeRegions → ``CT9X0VtwR86fNWSnsc6v8YGOjuE=``).

Requests are sent as ``POST`` with the signed parameters in a form body rather than in the URL, so a
debtor's number never lands in a proxy's access log. Gateway errors come back with HTTP 4xx and
``{"Code", "Message"}`` (管控OpenAPI客户端公用错误码, developer.aliyun.com/ask/278265); business refusals
with HTTP 200 and a ``Code`` other than ``OK``. Both go through one mapping (:meth:`provider_error`):

* credentials and account set-up (a wrong secret, an unknown or disabled key, missing RAM permission,
  product not activated) → :class:`ConfigurationError` naming the option to fix — as the ``smpp``
  connector does for a refused bind: every message would fail the same way until a setting changes.
  ``SignatureDoesNotMatch`` echoes the server's string to sign (our parameters, the number included),
  so its message is never passed on;
* throttling, system errors, a stale timestamp or reused nonce (a retry signs afresh), and an account
  out of credit (业务停机/余额不足: the message is fine and is taken once operations top the account up)
  → :class:`RetryableError`;
* anything else → :class:`PermanentError`, as in :class:`~connectors.http.HttpConnectorBase`.

Also here, because both adapters need them: Chinese number conversions and the reading of the
providers' HTTP pushes (a JSON array of entries, Beijing local times), whose unreadable entries are
set aside in :attr:`PushBatch.rejected` rather than failing the whole batch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo

from connectors.base import InvalidMessage
from connectors.errors import ConfigurationError, ConnectorError, PermanentError, RetryableError
from connectors.http import HttpConnectorBase, HttpRequest, HttpResponse
from connectors.masking import mask_phone, mask_text

log = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[], datetime]

BEIJING = ZoneInfo("Asia/Shanghai")
SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"
MAX_MESSAGE = 200  # provider messages are quoted, shortened, after masking

COMMON_CONFIGURATION_HINTS: Mapping[str, str] = {
    "SignatureDoesNotMatch": "the request signature was refused: check access_key_secret",
    "IncompleteSignature": "the request signature was refused: check access_key_secret",
    "InvalidAccessKeyId.NotFound": "the key is unknown: check access_key_id",
    "InvalidAccessKeyId.Inactive": "the key is disabled: enable access_key_id or set another",
    "isv.ACCOUNT_NOT_EXISTS": "no account for the key: check access_key_id",
    "isp.RAM_PERMISSION_DENY": "the RAM user of access_key_id lacks permission for this API",
    "isv.PRODUCT_UN_SUBSCRIPT": "the product is not activated for the account of access_key_id",
    "isv.PRODUCT_UNSUBSCRIBE": "the product is not activated for the account of access_key_id",
    "InvalidApi.NotFound": "the API is unknown at this address: check endpoint",
    "InvalidVersion": "the API version is unknown at this address: check endpoint",
}
COMMON_RETRYABLE_CODES = frozenset(
    {
        "ServiceUnavailable",
        "InternalError",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "SignatureNonceUsed",
        "InvalidTimeStamp.Expired",
        "isv.OUT_OF_SERVICE",
        "isv.ACCOUNT_ABNORMAL",
    }
)


class ProviderRefusal(PermanentError):
    """A final refusal; ``code`` is the provider's, for callers that treat some codes specially."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def system_clock() -> datetime:
    """The current time, time-zone aware (UTC)."""
    return datetime.now(UTC)


def new_nonce() -> str:
    """A fresh ``SignatureNonce`` (a UUID, as the documentation recommends)."""
    return str(uuid.uuid4())


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8: ``A–Z a–z 0–9 - _ . ~`` kept, space ``%20``, ``*`` ``%2A``."""
    return urllib.parse.quote(value, safe="")  # quote() keeps exactly the unreserved set when safe=""


def canonicalized_query(params: Mapping[str, str]) -> str:
    """The sorted, encoded ``name=value&...`` string of every parameter except ``Signature``."""
    pairs = sorted((name, value) for name, value in params.items() if name != "Signature")
    return "&".join(f"{percent_encode(name)}={percent_encode(value)}" for name, value in pairs)


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """HTTPMethod & percentEncode("/") & percentEncode(canonicalized query)."""
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonicalized_query(params))}"


def rpc_signature(access_key_secret: str, method: str, params: Mapping[str, str]) -> str:
    """Base64(HMAC-SHA1(secret + "&", StringToSign)) — the value of the ``Signature`` parameter."""
    key = (access_key_secret + "&").encode("utf-8")
    digest = hmac.new(key, string_to_sign(method, params).encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def iso_timestamp(at: datetime) -> str:
    """``at`` as the ``Timestamp`` parameter: UTC, ``yyyy-MM-ddTHH:mm:ssZ``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AliyunRpcConnector(HttpConnectorBase):
    """Signs, posts and checks RPC calls; subclasses set the API version and their own error codes."""

    provider: ClassVar[str] = "aliyun"
    api_version: ClassVar[str] = ""
    configuration_hints: ClassVar[Mapping[str, str]] = {}
    product_retryable_codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        endpoint: str,
        region_id: str = "cn-hangzhou",
        timeout: float = 10.0,
        retryable_codes: Iterable[str] = (),
        proxy: str | None = None,
        clock: Clock = system_clock,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        require_settings(self.provider, access_key_id=access_key_id, access_key_secret=access_key_secret)
        retryable = (*COMMON_RETRYABLE_CODES, *self.product_retryable_codes, *retryable_codes)
        super().__init__(endpoint, timeout=timeout, retryable_codes=retryable, proxy=proxy)
        self._access_key_id = access_key_id.strip()
        self._access_key_secret = access_key_secret.strip()
        self._region_id = region_id
        self._clock = clock
        self._nonce = nonce

    def rpc_request(self, action: str, params: Mapping[str, str]) -> HttpRequest:
        """The signed ``POST`` for ``action`` with the operation's ``params``."""
        signed = {
            **params,
            "AccessKeyId": self._access_key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self._region_id,
            "SignatureMethod": SIGNATURE_METHOD,
            "SignatureNonce": self._nonce(),
            "SignatureVersion": SIGNATURE_VERSION,
            "Timestamp": iso_timestamp(self._clock()),
            "Version": self.api_version,
        }
        signed["Signature"] = rpc_signature(self._access_key_secret, "POST", signed)
        body = "&".join(f"{percent_encode(name)}={percent_encode(value)}" for name, value in signed.items())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            "Accept": "application/json",
        }
        return HttpRequest("POST", "/", body.encode("ascii"), headers)

    def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """Run ``action``; the answer when its ``Code`` is ``OK``, else the mapped error."""
        return self.exchange(self.rpc_request(action, params), self.accepted)

    def accepted(self, response: HttpResponse) -> dict[str, Any]:
        """The answer of a 2xx response whose ``Code`` is ``OK``; :meth:`provider_error` otherwise."""
        answer = response.json()
        if not isinstance(answer, dict):
            raise TypeError("answer is not an object")
        code = str(answer["Code"])
        if code != "OK":
            raise self.provider_error(code, str(answer.get("Message", "")))
        return answer

    def error_code(self, response: HttpResponse) -> tuple[str, str] | None:
        """The gateway's ``Code``/``Message`` in an HTTP error answer."""
        answer = response.json()
        if isinstance(answer, dict) and answer.get("Code"):
            return str(answer["Code"]), str(answer.get("Message", ""))
        return None

    def provider_error(self, code: str, message: str = "") -> ConnectorError:
        """Our error for a provider code: a setting to fix, worth retrying, or final (module docstring)."""
        hint = self.configuration_hints.get(code) or COMMON_CONFIGURATION_HINTS.get(code)
        if hint is not None:
            log.error("%s: refused with %s; %s", self.provider, code, hint)
            return ConfigurationError(f"{self.provider}: refused with {code}; {hint}")
        detail = f": {mask_text(message)[:MAX_MESSAGE]}" if message else ""
        text = f"{self.provider} refused with code {code}{detail}"
        if code in self.retryable_codes or code.startswith("Throttling"):
            return RetryableError(text)
        return ProviderRefusal(text, code)


def require_settings(provider: str, **settings: object) -> None:
    """:class:`ConfigurationError` naming every setting that is missing or blank (never its value)."""
    missing = [name for name, value in settings.items() if not isinstance(value, str) or not value.strip()]
    if missing:
        raise ConfigurationError(f"{provider}: set the option(s) {', '.join(missing)}")


def national_number(e164: str, what: str) -> str:
    """A Chinese E.164 number as the providers take it: ``13912345678``, landlines with their ``0``."""
    if not e164.startswith("+86") or not e164[3:].isdigit():
        raise InvalidMessage(f"{what} must be a Chinese (+86) number, got {mask_phone(e164)}")
    significant = e164[3:]
    return significant if significant.startswith("1") else "0" + significant


def e164_from_china(number: str) -> str:
    """A number as the providers write it (``17100001111``, ``05911234567``, ``8613...``) in E.164."""
    digits = re.sub(r"\D", "", number)
    if len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]
    if len(digits) < 7:
        raise ValueError("not a telephone number")
    return "+86" + digits.lstrip("0")  # landlines drop their trunk 0 in E.164


def local_time(value: object, zone: ZoneInfo = BEIJING) -> datetime:
    """A push's ``yyyy-MM-dd HH:mm:ss`` (local time, no zone written) as an aware datetime."""
    try:
        return datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        raise ValueError("unreadable time") from None  # strptime's message would quote the value


@dataclass(frozen=True)
class RejectedEntry:
    """An entry of a push that could not be read: its position and why (never its values: PII)."""

    index: int
    reason: str


class PushBatch(list[T], Generic[T]):
    """The readable entries of one push, duplicates dropped, in arrival order; the rest in ``rejected``."""

    def __init__(self, items: Iterable[T] = (), rejected: Iterable[RejectedEntry] = ()) -> None:
        super().__init__(items)
        self.rejected: list[RejectedEntry] = list(rejected)


class PushTooLarge(ValueError):
    """A push with more entries than the receiver takes at once (answer 422: not worth resending)."""


_SCALARS = (str, int, float, bool, type(None))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def read_push(body: bytes, provider: str, max_entries: int | None = None) -> list[Any]:
    """The JSON array a provider pushed; ``ValueError`` (no content quoted) when it is not one.

    Only what a push holds is taken: an array of flat objects. NaN and infinities, numbers out of
    range, integers of thousands of digits and nesting deep enough to exhaust the parser are refused
    as unreadable (``ValueError``); an object entry holding an array or object is left to the entry
    reader, which sets it aside. More than ``max_entries`` entries: :class:`PushTooLarge`.
    """
    try:
        entries = json.loads(body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError(f"{provider}: push body is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{provider}: push body is not JSON") from exc
    if not isinstance(entries, list):
        raise ValueError(f"{provider}: push body is not a JSON array")
    if max_entries is not None and len(entries) > max_entries:
        raise PushTooLarge(f"{provider}: {len(entries)} entries in one push, at most {max_entries} taken")
    return entries


def flat_entry(entry: Any) -> dict[str, Any]:
    """``entry`` if it is an object of plain values (text, numbers, booleans, null); TypeError otherwise.

    Text must be storable: JSON's ``\\ud800`` (a lone surrogate) is not UTF-8 and PostgreSQL refuses
    NUL characters, so an entry holding either is refused here rather than failing its database write.
    """
    if not isinstance(entry, dict):
        raise TypeError("entry is not an object")
    for value in entry.values():
        if not isinstance(value, _SCALARS):
            raise TypeError("entry holds a nested value")
        if isinstance(value, str) and ("\x00" in value or not _encodable(value)):
            raise ValueError("entry holds text that is not valid UTF-8")
    return entry


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def log_rejected(provider: str, rejected: list[RejectedEntry], total: int) -> None:
    """One warning for the unreadable entries of a push (positions and reasons only)."""
    if rejected:
        where = "; ".join(f"#{entry.index}: {entry.reason}" for entry in rejected)
        log.warning("%s: %d of %d pushed entries unreadable (%s)", provider, len(rejected), total, where)
