"""aliyun-axb against a loopback gateway that checks signatures as the provider does; call-record parsing."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conn_aliyun_peer import BEIJING, KEY_ID, SECRET, AliyunPeer, AxbBackend, serve

from connectors import (
    Binding,
    BindRequest,
    CallConnector,
    ConfigurationError,
    InvalidMessage,
    PermanentError,
    RetryableError,
    load_call_connector,
)
from connectors.calls.axb import AliyunAxbConnector, CallRecord, parse_axb_call_records

MEDIATOR, DEBTOR, OTHER_DEBTOR = "+8613900000001", "+8613812345678", "+8613712345678"
POOL = "FC100000123456789"


def request(key: str = "bind-1", callee: str = DEBTOR, **extra: Any) -> BindRequest:
    return BindRequest(caller=MEDIATOR, callee=callee, idempotency_key=key, **extra)


@pytest.fixture
def peer() -> Iterator[AliyunPeer]:
    with serve(AliyunPeer(AxbBackend())) as running:
        yield running


def connector(peer: AliyunPeer, **options: Any) -> AliyunAxbConnector:
    settings = {"access_key_id": KEY_ID, "access_key_secret": SECRET, "pool_key": POOL, "endpoint": peer.url}
    return AliyunAxbConnector(**(settings | {"timeout": 2.0} | options))


def test_bind_is_signed_and_shaped_as_the_provider_expects(peer: AliyunPeer) -> None:
    axb = connector(peer, record_calls=True)
    assert isinstance(axb, CallConnector)
    expires = datetime(2031, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    binding = axb.bind(request(expires_at=expires))
    [sent] = peer.requests
    assert (sent["Action"], sent["Version"], sent["PoolKey"]) == ("BindAxb", "2017-05-25", POOL)
    assert (sent["PhoneNoA"], sent["PhoneNoB"]) == ("13900000001", "13812345678")
    assert sent["Expiration"] == "2031-01-02 11:04:05"  # Beijing time
    assert (sent["OutId"], sent["IsRecordingEnabled"]) == ("bind-1", "true")
    [subs_id] = peer.backend.bindings
    assert binding == Binding(
        binding_id=f"{subs_id}:17100001111",
        caller=MEDIATOR,
        number="+8617100001111",
        virtual=True,
        provider="aliyun-axb",
        expires_at=expires.replace(microsecond=0),
    )


def test_the_same_key_binds_once_and_a_missing_expiry_gets_the_default(peer: AliyunPeer) -> None:
    axb = connector(peer, validity_hours=2)
    first = axb.bind(request())
    assert axb.bind(request()) == first and len(peer.requests) == 1
    assert first.expires_at is not None
    assert timedelta(hours=1, minutes=59) < first.expires_at - datetime.now(UTC) <= timedelta(hours=2)


def test_a_full_pool_is_retryable_until_a_binding_is_withdrawn(peer: AliyunPeer) -> None:
    peer.backend.pools[POOL] = ["17100001111"]
    axb = connector(peer)
    first = axb.bind(request("b1"))
    with pytest.raises(RetryableError, match="NO_AVAILABLE_NUMBER"):
        axb.bind(request("b2", callee=OTHER_DEBTOR))  # the mediator is already on the only X
    axb.unbind(first.binding_id)
    assert peer.backend.bindings == {}
    assert axb.bind(request("b2", callee=OTHER_DEBTOR)).number == "+8617100001111"


def test_unbinding_twice_is_not_an_error_and_rebinding_the_key_binds_again(peer: AliyunPeer) -> None:
    axb = connector(peer)
    binding = axb.bind(request())
    axb.unbind(binding.binding_id)
    axb.unbind(binding.binding_id)
    assert peer.refused == ["isv.SUBS_NOT_EXIST"]
    assert axb.bind(request()).binding_id != binding.binding_id
    with pytest.raises(InvalidMessage):
        axb.unbind("not-a-binding")


def test_expiry_checks_locally_and_at_the_provider(peer: AliyunPeer) -> None:
    with pytest.raises(InvalidMessage, match="more than a minute"):
        connector(peer).bind(request(expires_at=datetime.now(UTC) + timedelta(seconds=30)))
    with pytest.raises(InvalidMessage, match="time zone"):
        connector(peer).bind(request(expires_at=datetime(2031, 1, 1)))
    assert peer.requests == []
    behind = connector(peer, clock=lambda: datetime.now(UTC) - timedelta(minutes=5))
    with pytest.raises(PermanentError, match="EXPIRE_DATE_ILLEGAL"):  # fine by our clock, not by theirs
        behind.bind(request(expires_at=datetime.now(UTC) + timedelta(seconds=30)))


def test_credentials_and_pool_key_are_configuration_errors(peer: AliyunPeer) -> None:
    with pytest.raises(ConfigurationError, match="access_key_secret"):
        connector(peer, access_key_secret="wrong").bind(request())
    with pytest.raises(ConfigurationError, match="pool_key"):
        connector(peer, pool_key="FC-nobody").bind(request())
    assert peer.refused == ["SignatureDoesNotMatch", "isv.POOLKEY_NOT_EXISTS"]
    with pytest.raises(ConfigurationError, match="pool_key"):
        load_call_connector(
            "aliyun-axb", {"access_key_id": KEY_ID, "access_key_secret": SECRET, "pool_key": " "}
        )
    assert isinstance(
        load_call_connector(
            "aliyun-axb", {"access_key_id": KEY_ID, "access_key_secret": SECRET, "pool_key": POOL}
        ),
        AliyunAxbConnector,
    )


def test_numbers_outside_china_and_outages(peer: AliyunPeer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidMessage) as error:
        connector(peer).bind(request(callee="+14155552671"))
    assert "4155552671" not in str(error.value)
    peer.fail_next(200, "isv.FLOW_LIMIT", "业务流控")
    with pytest.raises(RetryableError, match="FLOW_LIMIT"):
        connector(peer).bind(request())
    peer.fail_next(200, "isv.BIND_CONFLICT", f"绑定冲突 {DEBTOR[3:]}")
    with pytest.raises(PermanentError) as conflict:
        connector(peer).bind(request())
    assert DEBTOR[3:] not in str(conflict.value)
    connector(peer).bind(request())
    assert (
        DEBTOR[3:] not in caplog.text and MEDIATOR[3:] not in caplog.text and "17100001111" not in caplog.text
    )


SAMPLE = {  # the documented SecretReport shape (help.aliyun.com/document_detail/305596)
    "phone_no": "13900000001",
    "city": "北京",
    "call_out_time": "2025-07-01 20:11:30",
    "ring_time": "2025-07-01 20:11:35",
    "free_ring_time": "2025-07-01 20:11:35",
    "control_msg": "OK",
    "id": 1014568510001,
    "secret_no": "17100001111",
    "call_type": 0,
    "control_type": "CONTINUE",
    "release_time": "2025-07-01 20:13:41",
    "pool_key": POOL,
    "sub_id": 1000000768790001,
    "unconnected_cause": 0,
    "call_time": "2025-07-01 20:11:29",
    "peer_no": "13812345678",
    "called_display_no": "17100001111",
    "release_dir": 1,
    "call_id": "43612633712c0001",
    "start_time": "2025-07-01 20:11:38",
    "partner_key": POOL,
    "out_id": "bind-1",
    "release_cause": 31,
}


def push(entries: list[Any]) -> bytes:
    return json.dumps(entries, ensure_ascii=False).encode("utf-8")


def test_call_records_read_the_documented_shape() -> None:
    unanswered = SAMPLE | {"call_id": "c2", "call_type": 1, "start_time": "2025-07-01 21:00:09"}
    unanswered |= {
        "call_time": "2025-07-01 21:00:00",
        "release_time": "2025-07-01 21:00:09",
        "release_cause": 19,
    }
    answered, missed = parse_axb_call_records(push([SAMPLE, unanswered]))
    assert answered == CallRecord(
        subs_id="1000000768790001",
        call_id="43612633712c0001",
        caller=MEDIATOR,
        called=DEBTOR,
        virtual_number="+8617100001111",
        call_time=datetime(2025, 7, 1, 20, 11, 29, tzinfo=BEIJING),
        start_time=datetime(2025, 7, 1, 20, 11, 38, tzinfo=BEIJING),
        release_time=datetime(2025, 7, 1, 20, 13, 41, tzinfo=BEIJING),
        release_cause=31,
        duration=123,
        answered=True,
        idempotency_key="bind-1",
    )
    assert (missed.caller, missed.called, missed.answered, missed.duration) == (DEBTOR, MEDIATOR, False, 0)
    assert missed.release_cause == 19 and not missed.intercepted


def test_call_records_mask_numbers_in_repr() -> None:
    [record] = parse_axb_call_records(push([SAMPLE]))
    text = repr(record)
    assert "13812345678" not in text and "13900000001" not in text and "17100001111" not in text
    assert "138****5678" in text and "43612633712c0001" in text


def test_duplicates_order_and_malformed_entries(caplog: pytest.LogCaptureFixture) -> None:
    records = [SAMPLE | {"call_id": f"c{n}", "call_time": f"2025-07-01 20:1{n}:00"} for n in range(4)]
    entries = [*records, records[1], records[0]]
    random.Random(7).shuffle(entries)
    batch = parse_axb_call_records(push(entries))
    assert sorted(r.call_id for r in batch) == ["c0", "c1", "c2", "c3"] and batch.rejected == []
    broken = [
        SAMPLE | {"call_id": ""},
        SAMPLE | {"release_time": "yesterday"},
        SAMPLE | {"peer_no": "anonymous"},
        {k: v for k, v in SAMPLE.items() if k != "sub_id"},
        42,
        SAMPLE | {"call_id": "ok"},
    ]
    batch = parse_axb_call_records(push(broken))
    assert [r.call_id for r in batch] == ["ok"]
    assert [(e.index, e.reason) for e in batch.rejected] == [
        (0, "call_id is empty"),
        (1, "unreadable time"),
        (2, "peer_no is not a telephone number"),
        (3, "sub_id missing"),
        (4, "entry is not an object"),
    ]
    assert "5 of 6" in caplog.text and "13812345678" not in caplog.text
    with pytest.raises(ValueError):
        parse_axb_call_records(b"{}")
