"""``smpp``: text messages over SMPP 3.4 to an operator's SMSC, with smpplib (extra ``contactfix[smpp]``).

One transceiver bind carries both ways. A session thread owns the socket's reading side: it binds,
answers ``enquire_link``, sends its own ``enquire_link`` when the line has been quiet for
``enquire_link_interval`` seconds (and gives the connection up when that goes unanswered), hands
delivery receipts to ``on_receipt``, and reconnects with growing pauses after the SMSC drops it.
Senders write ``submit_sm`` PDUs and wait for their ``submit_sm_resp``.

* Text GSM-7 can carry goes as data_coding 0x00; anything else (Chinese) as UCS-2, 0x08. A long text
  is split into concatenated parts with a UDH (smpplib.gsm.make_parts); each part has its own
  SMSC message id, and its own receipt.
* ``submit_sm`` asks for a receipt (``registered_delivery`` 1). ``send`` returns once every part is
  accepted, with status SENT; receipts come later through ``on_receipt`` (called on the session
  thread; the receipt is acknowledged only after it returns, so one that raises is offered again).
* A part whose response never came (timeout, the connection dropped) raises RetryableError: the
  SMSC may or may not have it. A bind refused for its credentials raises ConfigurationError; any
  other bind failure is retryable, since it says nothing about the message.

smpplib's own logger would write whole PDUs (numbers included) at DEBUG; it is held at INFO.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp

from connectors.base import DeliveryReceipt, DeliveryStatus, InvalidMessage, SendResult, SmsMessage
from connectors.errors import ConfigurationError, ConnectorError, PermanentError, RetryableError
from connectors.masking import mask_text
from connectors.sms.receipts import is_delivery_receipt, read_receipt

log = logging.getLogger(__name__)
WIRE_LOGGER = "connectors.sms.smpp.wire"
logging.getLogger(WIRE_LOGGER).setLevel(logging.INFO)  # PDUs hex-dumped at DEBUG hold phone numbers

ReceiptHandler = Callable[[DeliveryReceipt], None]
C = smpplib.consts
CREDENTIAL_REFUSALS = {C.SMPP_ESME_RINVPASWD: "password", C.SMPP_ESME_RINVSYSID: "system_id"}
RETRYABLE_STATUSES = frozenset(
    {
        C.SMPP_ESME_RSYSERR,
        C.SMPP_ESME_RMSGQFUL,
        C.SMPP_ESME_RTHROTTLED,
        C.SMPP_ESME_RX_T_APPN,
        C.SMPP_ESME_RSUBMITFAIL,
        C.SMPP_ESME_RINVBNDSTS,
        C.SMPP_ESME_RUNKNOWNERR,
    }
)
_LINK_LOST = (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError, ValueError)


class _Sequence:
    """smpplib's sequence generator, made safe for the sender and session threads at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    @property
    def sequence(self) -> int:
        """The last sequence number handed out."""
        return self._value

    def next_sequence(self) -> int:
        """A fresh sequence number, 1..0x7FFFFFFF, wrapping."""
        with self._lock:
            self._value = self._value % 0x7FFFFFFF + 1
            return self._value


class _Pending:
    """One submit_sm waiting for its response."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.response: Any = None
        self.error: ConnectorError | None = None


class SmppConnector:
    """An :class:`~connectors.base.SmsConnector` bound as a transceiver to one SMSC."""

    required_options: ClassVar[tuple[str, ...]] = ("host", "port", "system_id", "password")

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        *,
        system_type: str = "",
        source_addr: str = "",
        on_receipt: ReceiptHandler | None = None,
        enquire_link_interval: float = 30.0,
        response_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        if len(system_id) > 15 or len(password) > 8:
            raise ConfigurationError("smpp: system_id is at most 15 characters and password at most 8")
        self.host, self.port = host, int(port)
        self._credentials = {"system_id": system_id, "password": password, "system_type": system_type}
        self.source_addr = source_addr
        self.on_receipt = on_receipt
        self.enquire_link_interval = float(enquire_link_interval)
        self.response_timeout = float(response_timeout)
        self.connect_timeout = float(connect_timeout)
        self.reconnect_delay, self.max_reconnect_delay = float(reconnect_delay), float(max_reconnect_delay)
        self.zone = ZoneInfo(timezone)
        self._sequence = _Sequence()
        self._state = threading.Condition()  # guards _client, _bind_error, _pending
        self._write = threading.Lock()  # one PDU at a time on the socket
        self._client: Any = None
        self._bind_error: ConnectorError | None = None
        self._pending: dict[int, _Pending] = {}
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_bound(self) -> bool:
        """True while a transceiver bind is up."""
        with self._state:
            return self._client is not None

    def connect(self) -> None:
        """Bind now (and keep the bind up); raise ConfigurationError/RetryableError when it cannot."""
        self._session()

    def send(self, message: SmsMessage) -> SendResult:
        """Submit every part of ``message``; return their SMSC ids once all are accepted (status SENT)."""
        try:
            parts, data_coding, esm_class = smpplib.gsm.make_parts(message.text)
        except smpplib.exceptions.MessageTooLong as exc:
            raise InvalidMessage("smpp: text longer than 255 concatenated parts") from exc
        ids: list[str] = []
        for number, part in enumerate(parts, start=1):
            where = f"part {number}/{len(parts)} (confirmed {len(ids)})"
            ids.append(self._submit(message, part, data_coding, esm_class, where))
        return SendResult(tuple(ids), DeliveryStatus.SENT, "smpp")

    def close(self) -> None:
        """Unbind, disconnect and stop the session thread."""
        self._closing.set()
        with self._state:
            client = self._client
        if client is not None:
            with contextlib.suppress(*_LINK_LOST, ConnectorError):
                self._send_pdu(client, smpplib.smpp.make_pdu("unbind", client=client))
            # Wake the session thread, which owns the socket and closes it on its way out.
            with contextlib.suppress(OSError, AttributeError):
                client._socket.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=self.response_timeout)

    # -- sending -------------------------------------------------------------------------------

    def _submit(self, message: SmsMessage, part: bytes, data_coding: int, esm_class: int, where: str) -> str:
        client = self._session()
        source = message.sender if message.sender is not None else self.source_addr
        source_ton, source_npi = _address_type(source)
        pending = _Pending()
        with self._state:
            pdu = smpplib.smpp.make_pdu(
                "submit_sm",
                client=client,
                source_addr_ton=source_ton,
                source_addr_npi=source_npi,
                source_addr=source.lstrip("+"),
                dest_addr_ton=C.SMPP_TON_INTL,
                dest_addr_npi=C.SMPP_NPI_ISDN,
                destination_addr=message.to.lstrip("+"),
                esm_class=esm_class | C.SMPP_MSGMODE_DEFAULT,
                data_coding=data_coding,
                registered_delivery=1,
                short_message=part,
            )
            self._pending[pdu.sequence] = pending
        try:
            self._send_pdu(client, pdu)
        except RetryableError:
            self._forget(pdu.sequence)
            raise
        if not pending.done.wait(self.response_timeout):
            self._forget(pdu.sequence)
            raise RetryableError(
                f"smpp: no answer to {where} within {self.response_timeout:g}s; outcome unknown"
            )
        if pending.error is not None:
            raise type(pending.error)(f"{pending.error} ({where})")
        response = pending.response
        if response.status != C.SMPP_ESME_ROK:
            raise _status_error("the SMSC refused " + where, int(response.status))
        return _text(response.message_id)

    def _send_pdu(self, client: Any, pdu: Any) -> None:
        try:
            with self._write:
                client.send_pdu(pdu)
        except _LINK_LOST as exc:
            raise RetryableError(f"smpp: could not write to the SMSC ({type(exc).__name__})") from exc

    def _forget(self, sequence: int) -> None:
        with self._state:
            self._pending.pop(sequence, None)

    def _session(self) -> Any:
        """The bound client, starting the session thread and waiting up to connect_timeout for it."""
        with self._state:
            if self._thread is None or not self._thread.is_alive():
                self._closing.clear()
                self._bind_error = None
                self._thread = threading.Thread(target=self._run, name=f"smpp-{self.host}", daemon=True)
                self._thread.start()
            deadline = time.monotonic() + self.connect_timeout
            while self._client is None:
                remaining = deadline - time.monotonic()
                if isinstance(self._bind_error, ConfigurationError) or remaining <= 0:
                    raise self._bind_error or RetryableError("smpp: the SMSC did not bind in time")
                self._state.wait(remaining)
            return self._client

    # -- the session thread --------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.reconnect_delay
        while not self._closing.is_set():
            try:
                client = self._bind()
            except ConnectorError as exc:
                with self._state:
                    self._bind_error = exc
                    self._state.notify_all()
                if isinstance(exc, ConfigurationError):
                    return  # wrong credentials stay wrong; the next send tries again
                self._closing.wait(delay)
                delay = min(delay * 2, self.max_reconnect_delay)
                continue
            delay = self.reconnect_delay
            with self._state:
                self._client, self._bind_error = client, None
                self._state.notify_all()
            reason = self._listen(client)
            self._lose(client, reason)

    def _bind(self) -> Any:
        client = smpplib.client.Client(
            self.host,
            self.port,
            timeout=self.connect_timeout,
            sequence_generator=self._sequence,
            logger_name=WIRE_LOGGER,
            allow_unknown_opt_params=True,
        )
        try:
            client.connect()
            client.bind_transceiver(**self._credentials)
        except smpplib.exceptions.PDUError as exc:
            _shut(client)
            status = int(exc.args[1]) if len(exc.args) > 1 else C.SMPP_ESME_RBINDFAIL
            if status in CREDENTIAL_REFUSALS:
                setting = CREDENTIAL_REFUSALS[status]
                raise ConfigurationError(
                    f"smpp: the SMSC refused the bind: check the {setting} option"
                ) from exc
            raise _status_error("smpp: the SMSC refused the bind", status) from exc
        except _LINK_LOST as exc:
            _shut(client)
            raise RetryableError(
                f"smpp: cannot reach {self.host}:{self.port} ({type(exc).__name__})"
            ) from exc
        log.info("smpp: bound to %s:%s as a transceiver", self.host, self.port)
        return client

    def _listen(self, client: Any) -> str:
        """Read and answer PDUs until the link is lost; return why."""
        unanswered_link = False
        while not self._closing.is_set():
            try:
                readable, _, _ = select.select([client._socket], [], [], self.enquire_link_interval)
                if not readable:
                    if unanswered_link:
                        return "enquire_link went unanswered"
                    self._send_pdu(client, smpplib.smpp.make_pdu("enquire_link", client=client))
                    unanswered_link = True
                    continue
                pdu = client.read_pdu()
                unanswered_link = False
                if not self._answer(client, pdu):  # answering writes too: inside the same guard
                    return "the SMSC unbound"
            except (*_LINK_LOST, RetryableError, TypeError, AttributeError) as exc:
                return f"the connection failed ({type(exc).__name__})"
        return "closing"

    def _answer(self, client: Any, pdu: Any) -> bool:
        """Act on one incoming PDU; False when the SMSC ends the session."""
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack"):
            with self._state:
                pending = self._pending.pop(pdu.sequence, None)
            if pending is not None:
                pending.response = pdu
                pending.done.set()
        elif command == "deliver_sm":
            self._reply(client, "deliver_sm_resp", pdu.sequence, self._receipt(pdu))
        elif command == "enquire_link":
            self._reply(client, "enquire_link_resp", pdu.sequence)
        elif command == "unbind":
            self._reply(client, "unbind_resp", pdu.sequence)
            return False
        elif command != "enquire_link_resp":
            log.warning("smpp: ignoring an unexpected %s", command)
        return True

    def _reply(self, client: Any, command: str, sequence: int, status: int = C.SMPP_ESME_ROK) -> None:
        response = smpplib.smpp.make_pdu(command, client=client, status=status)
        response.sequence = sequence
        self._send_pdu(client, response)

    def _receipt(self, pdu: Any) -> int:
        """Hand a receipt to on_receipt; the status for deliver_sm_resp (a temporary error when it failed)."""
        if not is_delivery_receipt(int(pdu.esm_class or 0)):
            log.info("smpp: ignoring a mobile-originated message")
            return int(C.SMPP_ESME_ROK)
        try:
            receipt = read_receipt(
                _text(pdu.short_message),
                self.zone,
                receipted_message_id=_text(pdu.receipted_message_id) or None,
                message_state=pdu.message_state,
                received_at=datetime.now(UTC),
            )
            if self.on_receipt is not None:
                self.on_receipt(receipt)
        except Exception as exc:  # the handler is the core's code: never let it kill the session
            log.error("smpp: delivery receipt not taken (%s: %s)", type(exc).__name__, mask_text(str(exc)))
            return int(C.SMPP_ESME_RX_T_APPN)
        return int(C.SMPP_ESME_ROK)

    def _lose(self, client: Any, reason: str) -> None:
        with self._state:
            if self._client is client:
                self._client = None
            pending, self._pending = self._pending, {}
        for waiter in pending.values():
            waiter.error = RetryableError(f"smpp: {reason} before the SMSC answered; outcome unknown")
            waiter.done.set()
        _shut(client)
        if not self._closing.is_set():
            log.warning("smpp: link to %s:%s lost (%s); reconnecting", self.host, self.port, reason)


def _status_error(what: str, status: int) -> ConnectorError:
    kind = RetryableError if status in RETRYABLE_STATUSES else PermanentError
    description = C.DESCRIPTIONS.get(status, "unknown status")
    return kind(f"{what}: 0x{status:08X} {description}")


def _address_type(address: str) -> tuple[int, int]:
    if address.startswith("+"):
        return C.SMPP_TON_INTL, C.SMPP_NPI_ISDN
    if address.isdigit() or not address:
        return C.SMPP_TON_UNK, C.SMPP_NPI_ISDN
    return C.SMPP_TON_ALNUM, C.SMPP_NPI_UNK


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").rstrip("\x00")
    return "" if value is None else str(value)


def _shut(client: Any) -> None:
    client.state = C.SMPP_CLIENT_STATE_OPEN  # we are past unbinding; spare the log smpplib's warning
    with contextlib.suppress(*_LINK_LOST):
        client.disconnect()
