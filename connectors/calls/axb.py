"""``aliyun-axb``: privacy-number call paths through Alibaba Cloud 号码隐私保护 (Dyplsapi 2017-05-25).

An AXB binding lets the mediator (A) and the debtor (B) reach each other through a virtual number (X):
A dials X and is put through to B, B dials X and reaches A, each seeing only X. Modelled on:

* BindAxb (help.aliyun.com/document_detail/400482): ``PoolKey``, ``PhoneNoA``, ``PhoneNoB`` (mobiles, or
  landlines with their area code), ``PhoneNoX`` (optional: the pool picks one, near ``ExpectCity`` when
  given), ``Expiration`` (``yyyy-MM-dd HH:mm:ss``, more than a minute ahead), ``IsRecordingEnabled``,
  ``OutId`` (echoed in the call records). Answer ``SecretBindDTO {SubsId, SecretNo, Extension}``.
* UnbindSubscription (help.aliyun.com/document_detail/400490): ``PoolKey``, ``SubsId``, ``SecretNo``.
* API错误码 (help.aliyun.com/document_detail/109196): a full pool (isv.NO_AVAILABLE_NUMBER), flow control
  and system errors are retryable; an unknown pool key is a setting to fix (isv.POOLKEY_NOT_EXISTS;
  QuerySubsId documents it as POOLKEY_NOT_EXIST); an illegal number or expiry, a binding conflict are
  final; unbinding a binding that is gone (isv.SUBS_NOT_EXIST) is not an error.
* SecretReport (help.aliyun.com/document_detail/305596): the call-record push, a JSON array of
  ``{sub_id, call_id, phone_no (A), peer_no (B), secret_no (X), call_type (0: A called B, 1: B called A,
  4: intercepted), call_time, start_time (answered; equals release_time when not), release_time,
  release_cause, out_id, ...}`` — read by :func:`parse_axb_call_records`.

Assumed where the pages are silent: ``Expiration`` and the pushed times are Beijing time (the
``timezone`` option changes it); a binding's id is ``SubsId:SecretNo``, since unbinding needs both.
BindAxb is not idempotent: a key already bound by this connector returns the first binding without a
second request; across processes the core's record of the binding is the guard.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from connectors.aliyun_rpc import (
    AliyunRpcConnector,
    Clock,
    ProviderRefusal,
    PushBatch,
    RejectedEntry,
    e164_from_china,
    flat_entry,
    local_time,
    log_rejected,
    national_number,
    new_nonce,
    read_push,
    require_settings,
    system_clock,
)
from connectors.base import Binding, BindRequest, InvalidMessage
from connectors.masking import mask_phone

log = logging.getLogger(__name__)

PROVIDER = "aliyun-axb"
DEFAULT_ENDPOINT = "https://dyplsapi.aliyuncs.com"
API_VERSION = "2017-05-25"
MIN_AHEAD = timedelta(minutes=1)  # BindAxb: Expiration must be more than a minute ahead
GONE_CODES = frozenset({"isv.SUBS_NOT_EXIST"})
INTERCEPTED = 4
MAX_ID_CHARS = 128  # a provider's id longer than this is no id of theirs


@dataclass(frozen=True, repr=False)
class CallRecord:
    """One call through a binding, from the SecretReport push. Numbers in E.164; ``repr`` masks them.

    ``caller`` dialled ``called`` through ``virtual_number``; ``answered`` is true when the call was
    picked up, and ``duration`` counts seconds from pick-up to release (0 when not answered).
    ``idempotency_key`` is the ``OutId`` of the binding (our key). Calls are identified by ``call_id``.
    """

    subs_id: str
    call_id: str
    caller: str
    called: str
    virtual_number: str
    call_time: datetime
    start_time: datetime
    release_time: datetime
    release_cause: int | None
    duration: int
    answered: bool
    intercepted: bool = False
    idempotency_key: str | None = None

    def __repr__(self) -> str:
        return (
            f"CallRecord(subs_id={self.subs_id!r}, call_id={self.call_id!r}, "
            f"caller={mask_phone(self.caller)!r}, called={mask_phone(self.called)!r}, "
            f"virtual_number={mask_phone(self.virtual_number)!r}, call_time={self.call_time.isoformat()!r}, "
            f"answered={self.answered}, duration={self.duration}, release_cause={self.release_cause}, "
            f"intercepted={self.intercepted}, idempotency_key={self.idempotency_key!r})"
        )


class AliyunAxbConnector(AliyunRpcConnector):
    """The :class:`~connectors.base.CallConnector` for Alibaba Cloud AXB privacy numbers."""

    provider: ClassVar[str] = PROVIDER
    api_version: ClassVar[str] = API_VERSION
    required_options: ClassVar[tuple[str, ...]] = ("access_key_id", "access_key_secret", "pool_key")
    configuration_hints: ClassVar[Mapping[str, str]] = {
        "isv.POOLKEY_NOT_EXISTS": "the number pool is unknown: check pool_key",
        "POOLKEY_NOT_EXIST": "the number pool is unknown: check pool_key",
        "isv.PARTNER_IS_CLOSED": "the number-protection account is closed",
    }
    product_retryable_codes: ClassVar[frozenset[str]] = frozenset(
        {
            "isv.NO_AVAILABLE_NUMBER",
            "isv.FLOW_LIMIT",
            "isp.UNKNOWN_ERR_CODE",
            "isp.DAO_EXCEPTION",
            "isp.VENDOR_UNAVAILABLE",
            "isv.VENDOR_BIND_FAILED",
            "isv.PARTNER_NOT_EXIST",
        }
    )

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        pool_key: str,
        *,
        record_calls: bool = False,
        expect_city: str | None = None,
        validity_hours: float = 24.0,
        timezone: str = "Asia/Shanghai",
        endpoint: str = DEFAULT_ENDPOINT,
        region_id: str = "cn-hangzhou",
        timeout: float = 10.0,
        retryable_codes: Iterable[str] = (),
        proxy: str | None = None,
        clock: Clock = system_clock,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        require_settings(
            PROVIDER, access_key_id=access_key_id, access_key_secret=access_key_secret, pool_key=pool_key
        )
        if float(validity_hours) <= 0:
            raise ValueError("validity_hours must be positive")
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
        self.pool_key = pool_key.strip()
        self.record_calls = bool(record_calls)
        self.expect_city = expect_city
        self.validity = timedelta(hours=float(validity_hours))
        self.zone = ZoneInfo(timezone)
        self._bound: dict[str, Binding] = {}
        self._lock = threading.Lock()

    def bind(self, request: BindRequest) -> Binding:
        """Bind mediator (A) and debtor (B) to a virtual number; the same key twice is one binding."""
        with self._lock:
            earlier = self._bound.get(request.idempotency_key)
        if earlier is not None:
            log.info("%s: %s already bound, not repeated", PROVIDER, request.idempotency_key)
            return earlier
        expires_at = self._expiry(request.expires_at)
        params = {
            "PoolKey": self.pool_key,
            "PhoneNoA": national_number(request.caller, "BindRequest.caller"),
            "PhoneNoB": national_number(request.callee, "BindRequest.callee"),
            "Expiration": expires_at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S"),
            "IsRecordingEnabled": "true" if self.record_calls else "false",
            "OutId": request.idempotency_key,
        }
        if self.expect_city:
            params["ExpectCity"] = self.expect_city
        answer = self.call("BindAxb", params)
        bound = answer["SecretBindDTO"]
        subs_id, secret_no = str(bound["SubsId"]), str(bound["SecretNo"])
        if not subs_id or not secret_no:
            raise ValueError("SecretBindDTO without SubsId or SecretNo")
        binding = Binding(
            binding_id=f"{subs_id}:{secret_no}",
            caller=request.caller,
            number=e164_from_china(secret_no),
            virtual=True,
            provider=PROVIDER,
            expires_at=expires_at,
        )
        with self._lock:
            self._bound[request.idempotency_key] = binding
        log.info("%s: %s bound as subscription %s", PROVIDER, request.idempotency_key, subs_id)
        return binding

    def unbind(self, binding_id: str) -> None:
        """Withdraw the binding (UnbindSubscription); one that is already gone is not an error."""
        subs_id, _, secret_no = binding_id.partition(":")
        if not subs_id or not secret_no.isdigit():
            raise InvalidMessage(f"{PROVIDER}: binding id must read SubsId:SecretNo")
        params = {"PoolKey": self.pool_key, "SubsId": subs_id, "SecretNo": secret_no}
        try:
            self.call("UnbindSubscription", params)
        except ProviderRefusal as exc:
            if exc.code not in GONE_CODES:
                raise
            log.info("%s: subscription %s was already gone", PROVIDER, subs_id)
        with self._lock:  # a later bind with the same key must not return the withdrawn binding
            for key in [key for key, bound in self._bound.items() if bound.binding_id == binding_id]:
                del self._bound[key]

    def _expiry(self, wanted: datetime | None) -> datetime:
        now = self._clock()
        expires_at = wanted or now + self.validity
        if expires_at.tzinfo is None:
            raise InvalidMessage("BindRequest.expires_at must carry a time zone")
        if expires_at <= now + MIN_AHEAD:
            raise InvalidMessage(f"{PROVIDER}: expires_at must be more than a minute ahead")
        return expires_at.replace(microsecond=0)  # what the provider keeps


def parse_axb_call_records(
    body: bytes, *, timezone: str = "Asia/Shanghai", max_entries: int | None = None
) -> PushBatch[CallRecord]:
    """The call records of one SecretReport push, in arrival order, one per ``call_id``.

    An entry that cannot be read (no ``call_id`` or ``sub_id``, either over 128 characters, an
    unreadable number, type or time, not a flat object) is listed in ``rejected`` with its position
    and logged; the others are kept. Records repeated in later pushes are the consumer's to drop (key
    on ``call_id``). Raises ``ValueError`` when the body is not a JSON array of at most
    ``max_entries`` entries (:class:`~connectors.aliyun_rpc.PushTooLarge` for too many).
    """
    zone = ZoneInfo(timezone)
    entries = read_push(body, PROVIDER, max_entries)
    records: PushBatch[CallRecord] = PushBatch()
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        try:
            record = _call_record(entry, zone)
        except (KeyError, TypeError, ValueError) as exc:
            reason = f"{exc.args[0]} missing" if isinstance(exc, KeyError) else str(exc)
            records.rejected.append(RejectedEntry(index, reason))
            continue
        if record.call_id not in seen:
            seen.add(record.call_id)
            records.append(record)
    log_rejected(PROVIDER, records.rejected, len(entries))
    return records


def _call_record(entry: Any, zone: ZoneInfo) -> CallRecord:
    entry = flat_entry(entry)
    call_id, subs_id = _text(entry, "call_id"), _text(entry, "sub_id")  # sub_id is pushed as a number
    a_number, b_number = _number(entry, "phone_no"), _number(entry, "peer_no")
    call_type = _small_int(entry.get("call_type"), "call_type") or 0
    caller, called = (b_number, a_number) if call_type == 1 else (a_number, b_number)
    release_time = local_time(entry["release_time"], zone)
    start_time = local_time(entry.get("start_time") or entry["release_time"], zone)
    duration = max(0, int((release_time - start_time).total_seconds()))
    cause = entry.get("release_cause")
    return CallRecord(
        subs_id=subs_id,
        call_id=call_id,
        caller=caller,
        called=called,
        virtual_number=_number(entry, "secret_no"),
        call_time=local_time(entry["call_time"], zone),
        start_time=start_time,
        release_time=release_time,
        release_cause=_small_int(cause, "release_cause"),
        duration=duration,
        answered=duration > 0,
        intercepted=call_type == INTERCEPTED,
        idempotency_key=str(entry.get("out_id") or "")[:MAX_ID_CHARS] or None,
    )


def _text(entry: dict[str, Any], name: str) -> str:
    value = str(entry[name] if entry[name] is not None else "").strip()
    if not value:
        raise ValueError(f"{name} is empty")
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"{name} is longer than {MAX_ID_CHARS} characters")
    return value


def _small_int(value: object, name: str) -> int | None:
    """A code pushed as a number or digits (None when absent); ValueError when it is anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{name} is not a whole number")
    text = str(value).strip()
    if not (text.isdigit() and len(text) <= 9):
        raise ValueError(f"{name} is not a small whole number")
    return int(text)


def _number(entry: dict[str, Any], name: str) -> str:
    try:
        return e164_from_china(_text(entry, name))
    except ValueError:
        raise ValueError(f"{name} is not a telephone number") from None
