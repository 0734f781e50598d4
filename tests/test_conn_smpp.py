"""The SMPP connector against a real SMPP 3.4 peer on loopback (tests/smpp_server.py)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import datetime

import pytest
import smpplib.consts as C
from conn_helpers import BEIJING
from smpp_server import SmppTestServer, Submitted

from connectors import (
    ConfigurationError,
    DeliveryReceipt,
    DeliveryStatus,
    PermanentError,
    RetryableError,
    SmsMessage,
    can_move,
)
from connectors.registry import load_sms_connector
from connectors.sms.smpp import SmppConnector

TO = "+8613812345678"
# A crash of the connector's session thread must fail the test, not merely warn.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

CHINESE = "【某某调解中心】您好，您在某银行的借款纠纷已由本中心受理，请于工作日九点至十八点致电调解员。" * 3


@pytest.fixture
def smsc() -> Iterator[SmppTestServer]:
    with SmppTestServer() as server:
        yield server


class Receipts(list[DeliveryReceipt]):
    def __call__(self, receipt: DeliveryReceipt) -> None:
        self.append(receipt)


@pytest.fixture
def receipts() -> Receipts:
    return Receipts()


@pytest.fixture
def smpp(smsc: SmppTestServer, receipts: Receipts) -> Iterator[SmppConnector]:
    connector = SmppConnector(
        "127.0.0.1",
        smsc.port,
        "esme",
        "secret",
        source_addr="10690001",
        on_receipt=receipts,
        response_timeout=2.0,
        connect_timeout=3.0,
        reconnect_delay=0.05,
    )
    yield connector
    connector.close()


def message(text: str, key: str = "k") -> SmsMessage:
    return SmsMessage(to=TO, text=text, idempotency_key=key)


def reassemble(parts: list[Submitted]) -> bytes:
    """Check the concatenation UDH of every part and return the joined payload."""
    references = set()
    for number, part in enumerate(parts, start=1):
        udh, payload = part.short_message[:6], part.short_message[6:]
        assert udh[:3] == b"\x05\x00\x03" and udh[4] == len(parts) and udh[5] == number
        assert part.esm_class & 0x40
        assert len(payload) <= (134 if part.data_coding == 0x08 else 153)  # 140 octets, or 160 septets
        references.add(udh[3])
        assert payload
    assert len(references) == 1
    return b"".join(part.short_message[6:] for part in parts)


def test_short_ascii_message_is_one_gsm_part_asking_for_a_receipt(
    smsc: SmppTestServer, smpp: SmppConnector
) -> None:
    result = smpp.send(message("Please call your mediator."))
    [part] = smsc.submitted
    assert (part.destination_addr, part.source_addr) == ("8613812345678", "10690001")
    assert (part.data_coding, part.esm_class, part.registered_delivery) == (0x00, 0x00, 1)
    assert part.short_message == b"Please call your mediator."
    assert result.provider_message_ids == (part.message_id,) and result.status is DeliveryStatus.SENT


def test_numbers_never_reach_the_log_even_at_debug(
    smsc: SmppTestServer, smpp: SmppConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    smpp.send(message("hello"))
    smsc.send_receipt(smsc.submitted[0])
    smsc.wait_for(lambda: len(smsc.receipt_answers) == 1)
    smsc.drop_all()
    smsc.wait_for(lambda: smsc.binds == 2)
    assert caplog.records
    assert "13812345678" not in caplog.text and b"8613812345678".hex() not in caplog.text


def test_long_ascii_message_is_split_with_udh(smsc: SmppTestServer, smpp: SmppConnector) -> None:
    text = "Case 2024-118: please call the mediation center between 9:00 and 18:00. " * 5
    result = smpp.send(message(text))
    assert len(smsc.submitted) == 3 and all(part.data_coding == 0x00 for part in smsc.submitted)
    assert reassemble(smsc.submitted) == text.encode("ascii")
    assert result.provider_message_ids == tuple(part.message_id for part in smsc.submitted)


def test_chinese_message_goes_in_ucs2_parts(smsc: SmppTestServer, smpp: SmppConnector) -> None:
    result = smpp.send(message(CHINESE))
    parts = smsc.submitted
    assert len(parts) == -(-len(CHINESE) // 67) and all(part.data_coding == 0x08 for part in parts)
    assert reassemble(parts).decode("utf-16-be") == CHINESE
    assert len(result.provider_message_ids) == len(parts)


@pytest.mark.parametrize(
    ("stat", "err", "tlvs", "status", "error_code"),
    [
        ("DELIVRD", "000", False, DeliveryStatus.DELIVERED, None),
        ("UNDELIV", "005", False, DeliveryStatus.FAILED, "005"),
        ("EXPIRED", "000", False, DeliveryStatus.EXPIRED, None),
        ("UNDELIV", "000", True, DeliveryStatus.DELIVERED, None),  # message_state TLV 2 wins over the text
    ],
)
def test_receipts_reach_the_callback_as_delivery_statuses(
    smsc: SmppTestServer,
    smpp: SmppConnector,
    receipts: Receipts,
    stat: str,
    err: str,
    tlvs: bool,
    status: DeliveryStatus,
    error_code: str | None,
) -> None:
    smpp.send(message("hello"))
    smsc.send_receipt(smsc.submitted[0], stat=stat, err=err, tlvs=tlvs)
    smsc.wait_for(lambda: len(smsc.receipt_answers) == 1)
    assert receipts == [
        DeliveryReceipt(
            smsc.submitted[0].message_id, status, datetime(2025, 7, 1, 10, 1, tzinfo=BEIJING), error_code
        )
    ]
    assert smsc.receipt_answers == [C.SMPP_ESME_ROK]


def test_a_receipt_arriving_twice_changes_nothing(
    smsc: SmppTestServer, smpp: SmppConnector, receipts: Receipts
) -> None:
    [message_id] = smpp.send(message("hello")).provider_message_ids
    for stat in ["DELIVRD", "DELIVRD", "UNDELIV"]:  # a repeat, then a straggler contradicting it
        smsc.send_receipt(smsc.submitted[0], stat=stat)
    smsc.wait_for(lambda: len(smsc.receipt_answers) == 3)
    state = DeliveryStatus.SENT
    changes = 0
    for receipt in receipts:
        assert receipt.provider_message_id == message_id
        if can_move(state, receipt.status):
            state, changes = receipt.status, changes + 1
    assert (state, changes) == (DeliveryStatus.DELIVERED, 1)


def test_a_failing_receipt_handler_gets_the_receipt_offered_again(
    smsc: SmppTestServer, smpp: SmppConnector, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(receipt: DeliveryReceipt) -> None:
        raise RuntimeError(f"database down while storing {TO}")

    smpp.on_receipt = broken
    smpp.send(message("hello"))
    smsc.send_receipt(smsc.submitted[0])
    smsc.wait_for(lambda: len(smsc.receipt_answers) == 1)
    assert smsc.receipt_answers == [C.SMPP_ESME_RX_T_APPN]
    assert "RuntimeError" in caplog.text and "13812345678" not in caplog.text
    smpp.send(message("the session survived"))
    assert len(smsc.submitted) == 2


def test_a_link_cut_while_acknowledging_a_receipt_is_reconnected(
    smsc: SmppTestServer, smpp: SmppConnector
) -> None:
    def cut_link(receipt: DeliveryReceipt) -> None:  # the link fails between reading and acknowledging
        smpp._client._socket.shutdown(socket.SHUT_RDWR)

    smpp.on_receipt = cut_link
    smpp.send(message("hello"))
    smsc.send_receipt(smsc.submitted[0])
    smsc.wait_for(lambda: smsc.binds == 2)  # the session thread survived and bound again
    assert smsc.receipt_answers == []  # never acknowledged, so the SMSC will offer it again
    smpp.on_receipt = None
    smpp.send(message("after"))
    assert len(smsc.submitted) == 2


def test_reconnects_after_the_smsc_drops_every_connection(smsc: SmppTestServer, smpp: SmppConnector) -> None:
    smpp.send(message("before"))
    smsc.drop_all()
    smsc.wait_for(lambda: smsc.binds == 2)
    result = smpp.send(message("after"))
    assert result.provider_message_ids == (smsc.submitted[-1].message_id,)


def test_an_unconfirmed_part_is_retryable_and_the_next_send_succeeds(
    smsc: SmppTestServer, smpp: SmppConnector
) -> None:
    smpp.connect()
    smsc.drop_on_next_submit = True
    with pytest.raises(RetryableError, match="outcome unknown"):
        smpp.send(message("lost in flight"))
    smpp.send(message("next one"))
    assert [part.short_message for part in smsc.submitted] == [b"next one"]


@pytest.mark.parametrize(
    ("status", "error"),
    [(C.SMPP_ESME_RINVDSTADR, PermanentError), (C.SMPP_ESME_RTHROTTLED, RetryableError)],
)
def test_submit_refusals_map_by_status(
    smsc: SmppTestServer, smpp: SmppConnector, status: int, error: type[Exception]
) -> None:
    smsc.refuse_next_submit = status
    with pytest.raises(error, match=f"0x{status:08X}"):
        smpp.send(message("hello"))


def test_a_bind_refused_for_its_password_is_a_configuration_error(smsc: SmppTestServer) -> None:
    connector = SmppConnector("127.0.0.1", smsc.port, "esme", "wrong", connect_timeout=3.0)
    try:
        with pytest.raises(ConfigurationError, match="password"):
            connector.connect()
        with pytest.raises(ConfigurationError):
            connector.send(message("hello"))
        assert smsc.submitted == []
    finally:
        connector.close()


def test_an_unreachable_smsc_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connector = SmppConnector("127.0.0.1", port, "esme", "secret", connect_timeout=0.5, reconnect_delay=0.05)
    try:
        with pytest.raises(RetryableError, match="cannot reach"):
            connector.send(message("hello"))
    finally:
        connector.close()


def test_enquire_link_keeps_a_quiet_link_alive_and_a_dead_one_is_replaced(smsc: SmppTestServer) -> None:
    connector = SmppConnector(
        "127.0.0.1", smsc.port, "esme", "secret", enquire_link_interval=0.1, reconnect_delay=0.05
    )
    try:
        connector.connect()
        smsc.wait_for(lambda: smsc.enquire_links >= 3)
        assert connector.is_bound and smsc.binds == 1
        smsc.answer_enquire_link = False  # the line goes silent: the connector must give it up
        smsc.wait_for(lambda: smsc.binds >= 2)
        smsc.answer_enquire_link = True
        connector.send(message("after the silent link"))
    finally:
        connector.close()


def test_loaded_through_the_registry(smsc: SmppTestServer) -> None:
    options = {"host": "127.0.0.1", "port": smsc.port, "system_id": "esme", "password": "secret"}
    connector = load_sms_connector("smpp", options)
    try:
        connector.send(message("via registry"))
        assert smsc.submitted[0].short_message == b"via registry"
    finally:
        connector.close()
