"""connectors: channel adapters (SMS, calls, carrier lost-contact repair).

Each adapter turns a provider's API into one small protocol, and the provider's statuses and errors
into ours. Knows nothing of the database and never imports :mod:`contactfix` or :mod:`matchers`.
Adapters are loaded by name through :mod:`connectors.registry`; the repair contract and its values
are in :mod:`connectors.repair`.
"""

from __future__ import annotations

from connectors.base import (
    FINAL_STATUSES,
    Binding,
    BindRequest,
    CallConnector,
    DeliveryReceipt,
    DeliveryStatus,
    InvalidMessage,
    SendResult,
    SmsConnector,
    SmsMessage,
    can_move,
)
from connectors.calls.axb import AliyunAxbConnector, CallRecord, parse_axb_call_records
from connectors.errors import ConfigurationError, ConnectorError, PermanentError, RetryableError
from connectors.masking import mask_id_number, mask_phone, mask_text
from connectors.registry import (
    REGISTRY,
    load_call_connector,
    load_connector,
    load_repair_connector,
    load_sms_connector,
)
from connectors.sms.aliyun import AliyunSmsConnector, AliyunSmsReport, parse_aliyun_reports

__all__ = [
    "FINAL_STATUSES",
    "REGISTRY",
    "AliyunAxbConnector",
    "AliyunSmsConnector",
    "AliyunSmsReport",
    "BindRequest",
    "Binding",
    "CallConnector",
    "CallRecord",
    "ConfigurationError",
    "ConnectorError",
    "DeliveryReceipt",
    "DeliveryStatus",
    "InvalidMessage",
    "PermanentError",
    "RetryableError",
    "SendResult",
    "SmsConnector",
    "SmsMessage",
    "can_move",
    "load_call_connector",
    "load_connector",
    "load_repair_connector",
    "load_sms_connector",
    "mask_id_number",
    "mask_phone",
    "mask_text",
    "parse_aliyun_reports",
    "parse_axb_call_records",
]
