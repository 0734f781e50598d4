"""The contracts connectors implement, and the values they exchange with the core.

The core speaks only these types: an :class:`SmsMessage` goes in, a :class:`SendResult` comes out,
delivery receipts arrive later as :class:`DeliveryReceipt`; calls go through a :class:`Binding`. Every
provider's own vocabulary is mapped onto :class:`DeliveryStatus` inside its adapter.

The repair contract (:class:`connectors.repair.RepairConnector`) lives beside its types in
:mod:`connectors.repair.base`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from connectors.errors import PermanentError
from connectors.masking import mask_phone

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class InvalidMessage(PermanentError, ValueError):
    """A message or request the core built is malformed; no provider will ever accept it."""


def require_e164(number: str, what: str) -> None:
    """Raise :class:`InvalidMessage` (number masked) unless ``number`` is E.164 (``+8613812345678``)."""
    if not E164.match(number):
        raise InvalidMessage(f"{what} must be E.164 (+, country code, number), got {mask_phone(number)}")


def _frozen_mapping(values: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(values))


class DeliveryStatus(enum.Enum):
    """Where a message stands. States only move forward (see :func:`can_move`).

    QUEUED: taken by the provider, not yet handed to the network. SENT: handed to the carrier
    network (an SMSC accepted it). DELIVERED, FAILED, EXPIRED, REJECTED: final. UNKNOWN: no word
    yet, e.g. the connection dropped before the provider answered.
    """

    UNKNOWN = "unknown"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        """True for the states no later receipt can change: delivered, failed, expired, rejected."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.EXPIRED, DeliveryStatus.REJECTED}
)

# UNKNOWN is the least we can know (e.g. the connection dropped before the provider answered), so any
# real answer moves a message out of it; nothing moves a message into it.
_RANK = {DeliveryStatus.UNKNOWN: 0, DeliveryStatus.QUEUED: 1, DeliveryStatus.SENT: 2}


def can_move(current: DeliveryStatus, new: DeliveryStatus) -> bool:
    """True when a message in ``current`` may take ``new``.

    Forward only: unknown → queued → sent → one final state. A receipt that arrives twice, or a
    "sent" that arrives after "delivered", changes nothing; a final state never changes.
    """
    return _RANK.get(new, 3) > _RANK.get(current, 3)


@dataclass(frozen=True)
class SmsMessage:
    """One text message to send. ``idempotency_key`` is the core's key: sending twice is one send."""

    to: str
    text: str
    idempotency_key: str
    sender: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_e164(self.to, "SmsMessage.to")
        if not self.text:
            raise InvalidMessage("SmsMessage.text is empty")
        if not self.idempotency_key:
            raise InvalidMessage("SmsMessage.idempotency_key is empty")
        object.__setattr__(self, "metadata", _frozen_mapping(self.metadata))


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it took the message: its ids (one per SMS part) and a status."""

    provider_message_ids: tuple[str, ...]
    status: DeliveryStatus
    provider: str


@dataclass(frozen=True)
class DeliveryReceipt:
    """A provider's later word on one message id (one part of a long message)."""

    provider_message_id: str
    status: DeliveryStatus
    at: datetime
    error_code: str | None = None


@dataclass(frozen=True)
class BindRequest:
    """Ask for a way for ``caller`` (the mediator) to phone ``callee`` (the debtor)."""

    caller: str
    callee: str
    idempotency_key: str
    expires_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_e164(self.caller, "BindRequest.caller")
        require_e164(self.callee, "BindRequest.callee")
        if not self.idempotency_key:
            raise InvalidMessage("BindRequest.idempotency_key is empty")
        object.__setattr__(self, "metadata", _frozen_mapping(self.metadata))


@dataclass(frozen=True)
class Binding:
    """A granted call path: ``caller`` dials ``number``; a privacy number when ``virtual`` is true."""

    binding_id: str
    caller: str
    number: str
    virtual: bool
    provider: str
    expires_at: datetime | None = None


@runtime_checkable
class SmsConnector(Protocol):
    """Sends text messages through one provider."""

    def send(self, message: SmsMessage) -> SendResult:
        """Hand ``message`` to the provider; RetryableError or PermanentError when it is not taken."""
        ...

    def close(self) -> None:
        """Release connections; the connector is not used afterwards."""
        ...


@runtime_checkable
class CallConnector(Protocol):
    """Grants and withdraws call paths between a mediator and a debtor."""

    def bind(self, request: BindRequest) -> Binding:
        """Grant a call path; binding the same ``idempotency_key`` twice returns the same binding."""
        ...

    def unbind(self, binding_id: str) -> None:
        """Withdraw a call path; unbinding one that is already gone is not an error."""
        ...
