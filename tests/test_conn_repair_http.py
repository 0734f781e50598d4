"""The CAIH 失联修复 adapter against a loopback server answering in the documented shape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from conn_helpers import BEIJING, MEDIATOR, Clock, beijing, request
from conn_http_peers import CaihPeer, serve

from connectors import InvalidMessage, PermanentError, RetryableError
from connectors.repair import (
    OutsideProviderWindow,
    RepairConnector,
    RepairPending,
    RepairRequest,
    RepairStatus,
    VirtualBindRequest,
)
from connectors.repair.http import CaihRepairConnector, sign


@pytest.fixture
def peer() -> Iterator[CaihPeer]:
    running = CaihPeer(
        repairable={request(1).id_sha256, request(3).id_sha256}, registered_callers={"13900000001"}
    )
    with serve(running) as started:
        yield started


def caih(peer: CaihPeer, clock: Clock | None = None, **options: object) -> CaihRepairConnector:
    return CaihRepairConnector(
        peer.userkey,
        peer.appid,
        peer.secretkey,
        endpoint=peer.url,
        timeout=float(options.pop("timeout", 2.0)),  # type: ignore[arg-type]
        clock=clock or Clock(beijing(1, 10)),
        **options,  # type: ignore[arg-type]
    )


def test_sign_matches_the_documented_example() -> None:
    peer = CaihPeer()  # its keys are the documentation's example keys
    assert (
        sign(peer.secretkey, peer.userkey, peer.appid, "20190310121232") == "0fd62781d984abc1a840480d707d5cd2"
    )


def test_upload_sends_the_documented_shape(peer: CaihPeer) -> None:
    repair = caih(peer)
    assert isinstance(repair, RepairConnector)
    batch_id = repair.submit([request(1), request(2)])
    [(operation, body)] = peer.received
    assert operation == "lost_repair_upload_data" and batch_id in peer.batches
    assert body["authinfo"]["timestamp"] == "20250701100000"  # Beijing time from the injected clock
    assert body["param"]["toRepairDataArray"][0] == {
        "name": "债务人1",
        "idcode": request(1).id_sha256,
        "authCode": "HT-2023-0001",
        "usedPhone": "13812340000",
    }


def test_query_is_pending_until_the_carrier_settles(peer: CaihPeer) -> None:
    repair = caih(peer)
    batch_id = repair.submit([request(1), request(2), request(3)])
    with pytest.raises(RepairPending):
        repair.query(batch_id)
    peer.settle(batch_id)
    results = repair.query(batch_id)
    assert [(r.reference, r.status) for r in results] == [
        ("HT-2023-0001", RepairStatus.REPAIRED),
        ("HT-2023-0003", RepairStatus.REPAIRED),
    ]
    assert all(r.valid_until == datetime(2025, 8, 1, tzinfo=BEIJING) and not r.sandbox for r in results)


def test_binding_posts_caller_and_auth_code_and_returns_an_e164_privacy_number(peer: CaihPeer) -> None:
    repair = caih(peer)
    batch_id = repair.submit([request(1)])
    peer.settle(batch_id)
    [result] = repair.query(batch_id)
    assert result.token is not None
    binding = repair.bind_virtual_number(VirtualBindRequest(MEDIATOR, result.token))
    assert binding.virtual_number == "+8617100001111" and binding.calls_only
    assert binding.valid_until == result.valid_until and binding.binding_id.isdigit()
    operation, body = peer.received[-1]
    assert operation == "lost_repair_bind_virtual_number"
    assert body["param"] == {
        "uploadDataMsgid": batch_id,
        "callNumber": "13900000001",
        "authCode": "HT-2023-0001",
    }


def test_unregistered_caller_is_permanent_and_masked(peer: CaihPeer) -> None:
    repair = caih(peer)
    batch_id = repair.submit([request(1)])
    peer.settle(batch_id)
    [result] = repair.query(batch_id)
    assert result.token is not None
    with pytest.raises(PermanentError, match="主叫号码未报备") as refused:
        repair.bind_virtual_number(VirtualBindRequest("+8613900000009", result.token))
    assert "13900000009" not in str(refused.value)


def test_nothing_is_sent_outside_the_windows(peer: CaihPeer) -> None:
    clock = Clock(beijing(1, 10))
    repair = caih(peer, clock)
    batch_id = repair.submit([request(1)])
    peer.settle(batch_id)
    [result] = repair.query(batch_id)
    assert result.token is not None
    sent = len(peer.received)
    clock.now = beijing(1, 21, 45)
    with pytest.raises(OutsideProviderWindow):
        repair.bind_virtual_number(VirtualBindRequest(MEDIATOR, result.token))
    clock.now = beijing(27, 9)
    with pytest.raises(OutsideProviderWindow) as closed:
        repair.submit([request(2)])
    assert closed.value.retry_at == datetime(2025, 8, 1, tzinfo=BEIJING)
    with pytest.raises(PermanentError, match="authorisation"):
        repair.submit([RepairRequest("张三", request(4).id_sha256, None, None)])
    with pytest.raises(InvalidMessage, match="longer than 30"):
        repair.submit([RepairRequest("张" * 31, request(5).id_sha256, None, request(5).authorisation)])
    assert len(peer.received) == sent


def test_platform_refusals_map_to_our_errors(peer: CaihPeer) -> None:
    with pytest.raises(PermanentError, match="205"):
        CaihRepairConnector(peer.userkey, peer.appid, "wrong-secret", endpoint=peer.url).submit([request(1)])
    with pytest.raises(PermanentError, match="201"):
        caih(peer).query("no-such-batch")
    peer.script(200, b'{"code": "999", "message": "system busy"}')
    with pytest.raises(RetryableError, match="999"):
        caih(peer, retryable_codes=["999"]).submit([request(1)])
    peer.script(400, b'{"code": "201", "message": "bad request"}')
    with pytest.raises(PermanentError, match="201"):
        caih(peer).submit([request(1)])


@pytest.mark.parametrize(("status", "body", "delay"), [(503, b"", 0.0), (429, b"", 0.0), (200, b"{}", 0.0)])
def test_transport_trouble_is_retryable(peer: CaihPeer, status: int, body: bytes, delay: float) -> None:
    peer.script(status, body, delay)
    with pytest.raises(RetryableError):
        caih(peer).submit([request(1)])


def test_timeout_is_retryable(peer: CaihPeer) -> None:
    peer.script(200, b'{"code": "000", "msgid": "1"}', delay=1.5)
    with pytest.raises(RetryableError):
        caih(peer, timeout=0.3).submit([request(1)])
