"""Carrier lost-contact repair (失联修复): the contract, its values, and the rules every adapter shares.

The flow, as the operators run it: the core submits a batch of lost debtors (name, SHA-256 of the ID
number, the phone that no longer works, and the authorisation that allows the request); the carrier
matches them against its subscribers; the core queries the batch; for each repaired debtor it may then
bind a privacy number so that a registered mediator's phone can call the debtor, calls only, until the
provider's due date, and only between 08:00 and 21:30 local time.

Rules enforced here, before anything is sent:

* every request carries an authorisation reference (a loan contract number, or a court delegation with
  its case number), else :class:`~connectors.errors.PermanentError`;
* a batch holds at most :data:`MAX_BATCH` distinct debtors; requests for the same ID hash are merged,
  the later one winning, and the merge is reported;
* binding happens only inside the window and before the due date.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from connectors.base import InvalidMessage, require_e164
from connectors.errors import PermanentError, RetryableError

log = logging.getLogger(__name__)

MAX_BATCH = 1000
BINDING_OPENS = time(8, 0)
BINDING_CLOSES = time(21, 30)
AUTHORISATION_KINDS = ("loan_contract", "court_delegation")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

Clock = Callable[[], datetime]
AuthorisationKind = Literal["loan_contract", "court_delegation"]


def system_clock() -> datetime:
    """The current time, time-zone aware (UTC)."""
    return datetime.now(UTC)


def hash_id_number(id_number: str) -> str:
    """SHA-256 hex of a resident ID number as the carriers expect it: trimmed, letters upper-cased."""
    return hashlib.sha256(id_number.strip().upper().encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Authorisation:
    """Why we may ask: a loan contract (``reference`` = its number) or a court delegation."""

    kind: AuthorisationKind
    reference: str
    case_number: str | None = None


@dataclass(frozen=True)
class RepairRequest:
    """One lost debtor to repair. ``id_sha256`` comes from :func:`hash_id_number`, never a raw ID."""

    name: str
    id_sha256: str
    old_phone: str | None
    authorisation: Authorisation | None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidMessage("RepairRequest.name is empty")
        if not _SHA256_HEX.match(self.id_sha256):
            raise InvalidMessage("RepairRequest.id_sha256 must be 64 lower-case hex digits (hash_id_number)")
        if self.old_phone is not None:
            require_e164(self.old_phone, "RepairRequest.old_phone")


class RepairStatus(enum.Enum):
    """The carrier's answer for one debtor of a settled batch."""

    REPAIRED = "repaired"
    NOT_REPAIRED = "not_repaired"


@dataclass(frozen=True)
class RepairResult:
    """One debtor's outcome. ``reference`` is the authorisation reference the request carried.

    ``token`` (repaired only) is what :meth:`RepairConnector.bind_virtual_number` takes; ``phones`` is
    empty when the provider reveals no number (the usual case: the debtor is reached through a privacy
    number). ``sandbox`` results come from local records, never from a carrier.
    """

    batch_id: str
    reference: str
    status: RepairStatus
    id_sha256: str | None = None
    token: str | None = None
    valid_until: datetime | None = None
    phones: tuple[str, ...] = ()
    sandbox: bool = False
    note: str = ""


@dataclass(frozen=True)
class VirtualBindRequest:
    """Let the registered ``caller`` (a mediator's phone, E.164) reach a repaired debtor."""

    caller: str
    token: str

    def __post_init__(self) -> None:
        require_e164(self.caller, "VirtualBindRequest.caller")
        if not self.token:
            raise InvalidMessage("VirtualBindRequest.token is empty")


@dataclass(frozen=True)
class VirtualBinding:
    """The number ``caller`` dials to reach the debtor: calls only, until ``valid_until``."""

    binding_id: str
    caller: str
    virtual_number: str
    valid_until: datetime | None
    calls_only: bool = True
    sandbox: bool = False
    note: str = ""


class RepairPending(RetryableError):
    """The carrier has not settled the batch yet; query again later."""


class OutsideProviderWindow(RetryableError):
    """The provider takes this request only at certain times; ``retry_at`` is the next opening."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at

    def __reduce__(self) -> tuple[type[OutsideProviderWindow], tuple[str, datetime]]:
        # Exceptions cross process boundaries (task results): keep retry_at when pickled.
        return type(self), (str(self), self.retry_at)


@runtime_checkable
class RepairConnector(Protocol):
    """A carrier repair service."""

    def submit(self, requests: Sequence[RepairRequest]) -> str:
        """Submit one batch (see :func:`prepare_batch` for the rules); return the provider's batch id."""
        ...

    def query(self, batch_id: str) -> list[RepairResult]:
        """Results of a settled batch; :class:`RepairPending` while the carrier is still working.

        A request of the batch missing from the list was not repaired.
        """
        ...

    def bind_virtual_number(self, request: VirtualBindRequest) -> VirtualBinding:
        """A privacy number for a repaired debtor (see :func:`check_binding_time`)."""
        ...


@dataclass(frozen=True)
class PreparedBatch:
    """A batch ready to send: one request per ID hash, and the earlier requests the later ones replaced."""

    requests: tuple[RepairRequest, ...]
    superseded: tuple[RepairRequest, ...]


def prepare_batch(requests: Sequence[RepairRequest]) -> PreparedBatch:
    """Check and de-duplicate a batch before anything is sent.

    Raises :class:`PermanentError` when any request lacks its authorisation (all positions named),
    when the batch is empty or holds more than :data:`MAX_BATCH` distinct debtors, or when two
    debtors share one authorisation reference (providers answer per reference). Requests for the same
    ID hash are merged, the later winning; the merge is logged and returned in ``superseded``.
    """
    unauthorised = [str(position) for position, request in enumerate(requests) if not _authorised(request)]
    if unauthorised:
        raise PermanentError(
            "repair requests without a valid authorisation (a reference; a case number for a court "
            f"delegation) at positions {', '.join(unauthorised)}; nothing was sent"
        )
    latest: dict[str, RepairRequest] = {}
    superseded: list[RepairRequest] = []
    for request in requests:
        if request.id_sha256 in latest:
            superseded.append(latest[request.id_sha256])
        latest[request.id_sha256] = request
    if not latest:
        raise PermanentError("an empty repair batch; nothing was sent")
    if len(latest) > MAX_BATCH:
        raise PermanentError(f"{len(latest)} distinct debtors in one batch; at most {MAX_BATCH}, split it")
    references = [reference_of(request) for request in latest.values()]
    if len(set(references)) != len(references):
        raise PermanentError("two debtors of one batch share an authorisation reference; submit them apart")
    if superseded:
        log.warning("repair batch: %d duplicate ID hashes merged, the later request kept", len(superseded))
    return PreparedBatch(tuple(latest.values()), tuple(superseded))


def _authorised(request: RepairRequest) -> bool:
    auth = request.authorisation
    if auth is None or auth.kind not in AUTHORISATION_KINDS or not auth.reference.strip():
        return False
    return auth.kind != "court_delegation" or bool(auth.case_number and auth.case_number.strip())


def reference_of(request: RepairRequest) -> str:
    """The authorisation reference a request carries, trimmed; PermanentError when it has none."""
    if request.authorisation is None:
        raise PermanentError("a repair request without an authorisation")
    return request.authorisation.reference.strip()


@dataclass(frozen=True)
class RepairToken:
    """What a result token carries: enough to bind without the connector remembering anything."""

    batch_id: str
    reference: str
    valid_until: datetime | None


def encode_token(batch_id: str, reference: str, valid_until: datetime | None) -> str:
    """An opaque, URL-safe token for a repaired debtor (no personal data in it)."""
    payload = {"b": batch_id, "r": reference, "u": valid_until.isoformat() if valid_until else None}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return "rt1." + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str) -> RepairToken:
    """The contents of a token from :func:`encode_token`; :class:`InvalidMessage` when malformed."""
    try:
        prefix, _, body = token.partition(".")
        if prefix != "rt1":
            raise ValueError("unknown token version")
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        until = datetime.fromisoformat(payload["u"]) if payload["u"] else None
        return RepairToken(str(payload["b"]), str(payload["r"]), until)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidMessage("not a repair result token") from exc


def end_of_day(day: date, zone: tzinfo) -> datetime:
    """The first instant after ``day`` in ``zone``: a due date is valid through its whole day."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)


def check_binding_time(now: datetime, valid_until: datetime | None, zone: str | tzinfo) -> None:
    """Raise unless a virtual number may be bound at ``now`` (aware).

    :class:`PermanentError` once ``valid_until`` has passed; :class:`OutsideProviderWindow` (retryable,
    with ``retry_at`` the next 08:00) outside 08:00–21:30 local time in ``zone``.
    """
    local_zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    if now.tzinfo is None:
        raise ValueError("the clock must return time-zone aware datetimes")
    if valid_until is not None and now >= valid_until:
        raise PermanentError("the repair result is past the provider's due date; it can no longer be bound")
    local = now.astimezone(local_zone)
    if BINDING_OPENS <= local.time() <= BINDING_CLOSES:
        return
    opening_day = local.date() if local.time() < BINDING_OPENS else local.date() + timedelta(days=1)
    retry_at = datetime.combine(opening_day, BINDING_OPENS, tzinfo=local_zone)
    raise OutsideProviderWindow(
        f"virtual numbers are bound only {BINDING_OPENS:%H:%M}-{BINDING_CLOSES:%H:%M} local time", retry_at
    )
