"""SMPP 3.4 delivery receipts (Appendix B of the specification) read into :class:`DeliveryReceipt`.

An SMSC reports on a message with a ``deliver_sm`` whose ``esm_class`` marks a delivery receipt and
whose text reads ``id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
stat:DDDDDDD err:E text:...``. Many SMSCs also send the ``receipted_message_id`` and
``message_state`` optional parameters; when present they win over the text.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from connectors.base import DeliveryReceipt, DeliveryStatus

ESM_CLASS_TYPE_MASK = 0x3C
ESM_CLASS_DELIVERY_RECEIPT = 0x04

# The "stat" word of the receipt text. ACCEPTD means read by customer care on the subscriber's
# behalf, not that the handset has it, so it stays short of DELIVERED.
STAT_TO_STATUS = {
    "ENROUTE": DeliveryStatus.SENT,
    "DELIVRD": DeliveryStatus.DELIVERED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "DELETED": DeliveryStatus.FAILED,
    "UNDELIV": DeliveryStatus.FAILED,
    "ACCEPTD": DeliveryStatus.SENT,
    "UNKNOWN": DeliveryStatus.UNKNOWN,
    "REJECTD": DeliveryStatus.REJECTED,
}

# The message_state optional parameter (SMPP 3.4, 5.2.28), same meanings as the words above.
MESSAGE_STATE_TO_STATUS = {
    1: DeliveryStatus.SENT,
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.EXPIRED,
    4: DeliveryStatus.FAILED,
    5: DeliveryStatus.FAILED,
    6: DeliveryStatus.SENT,
    7: DeliveryStatus.UNKNOWN,
    8: DeliveryStatus.REJECTED,
}

_FIELD = re.compile(r"\b(id|sub|dlvrd|submit date|done date|stat|err)\s*:\s*(\S+)", re.IGNORECASE)


def is_delivery_receipt(esm_class: int) -> bool:
    """True when a deliver_sm's ``esm_class`` marks an SMSC delivery receipt."""
    return (esm_class & ESM_CLASS_TYPE_MASK) == ESM_CLASS_DELIVERY_RECEIPT


def parse_receipt_text(text: str) -> dict[str, str]:
    """The receipt text's fields by lower-case name (``id``, ``stat``, ``done date``, ...)."""
    fields: dict[str, str] = {}
    for name, value in _FIELD.findall(text):
        fields.setdefault(name.lower(), value)  # the first occurrence: "text:" may quote anything
    return fields


def read_receipt(
    text: str,
    zone: tzinfo,
    *,
    receipted_message_id: str | None = None,
    message_state: int | None = None,
    received_at: datetime,
) -> DeliveryReceipt:
    """One :class:`DeliveryReceipt` from a receipt's text and optional parameters.

    ``done date`` is read in ``zone`` (SMSCs send local time without a zone); ``received_at`` stands
    in when it is missing or unreadable. Raises ``ValueError`` when no message id can be found.
    """
    fields = parse_receipt_text(text)
    message_id = receipted_message_id or fields.get("id")
    if not message_id:
        raise ValueError("delivery receipt without a message id")
    if message_state in MESSAGE_STATE_TO_STATUS:
        status = MESSAGE_STATE_TO_STATUS[message_state]
    else:
        status = STAT_TO_STATUS.get(fields.get("stat", "").upper(), DeliveryStatus.UNKNOWN)
    error = fields.get("err")
    return DeliveryReceipt(
        provider_message_id=message_id,
        status=status,
        at=_done_date(fields.get("done date"), zone) or received_at,
        error_code=None if error is None or error.strip("0") == "" else error,
    )


def _done_date(value: str | None, zone: tzinfo) -> datetime | None:
    # strptime accepts one-digit fields, so the layout must be chosen by length, not by trial.
    layout = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}.get(len(value or ""))
    if layout is None or not value or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, layout).replace(tzinfo=zone)
    except ValueError:
        return None
