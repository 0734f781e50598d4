"""The same contract tests over every RepairConnector: sandbox-repair and caih-repair (loopback peer)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from conn_helpers import MEDIATOR, Clock, beijing
from conn_helpers import request as debtor
from conn_http_peers import CaihPeer, serve

from connectors import PermanentError
from connectors.registry import load_repair_connector
from connectors.repair import (
    OutsideProviderWindow,
    RepairConnector,
    RepairRequest,
    RepairStatus,
    VirtualBindRequest,
)


@dataclass
class Harness:
    repair: RepairConnector
    clock: Clock
    settle: Callable[[str], None]
    calls_sent: Callable[[], int]


@pytest.fixture(params=["sandbox-repair", "caih-repair"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    clock = Clock(beijing(1, 10))
    repairable = {debtor(1).id_sha256, debtor(3).id_sha256}
    if request.param == "sandbox-repair":
        records = {id_hash: ["+8613700000000"] for id_hash in repairable}
        options = {"records": records, "registered_callers": [MEDIATOR], "clock": clock}
        yield Harness(load_repair_connector("sandbox-repair", options), clock, lambda _: None, lambda: 0)
        return
    with serve(CaihPeer(repairable=repairable, registered_callers={MEDIATOR[3:]})) as peer:
        options = {"userkey": peer.userkey, "appid": peer.appid, "secretkey": peer.secretkey}
        repair = load_repair_connector("caih-repair", {**options, "endpoint": peer.url, "clock": clock})
        yield Harness(repair, clock, peer.settle, lambda: len(peer.received))


def repaired_tokens(harness: Harness) -> dict[str, str]:
    batch_id = harness.repair.submit([debtor(1), debtor(2), debtor(3)])
    harness.settle(batch_id)
    results = harness.repair.query(batch_id)
    return {r.reference: r.token for r in results if r.status is RepairStatus.REPAIRED and r.token}


def test_repaired_debtors_are_reported_by_reference(harness: Harness) -> None:
    assert set(repaired_tokens(harness)) == {"HT-2023-0001", "HT-2023-0003"}


def test_an_unauthorised_request_is_refused_before_anything_is_sent(harness: Harness) -> None:
    unauthorised = RepairRequest("张三", debtor(9).id_sha256, None, None)
    with pytest.raises(PermanentError, match="authorisation"):
        harness.repair.submit([debtor(1), unauthorised])
    assert harness.calls_sent() == 0


def test_binding_gives_a_calls_only_number_valid_until_the_due_date(harness: Harness) -> None:
    token = repaired_tokens(harness)["HT-2023-0001"]
    binding = harness.repair.bind_virtual_number(VirtualBindRequest(MEDIATOR, token))
    assert binding.calls_only and binding.caller == MEDIATOR and binding.virtual_number.startswith("+86")
    assert binding.valid_until == beijing(31, 0).replace(month=8, day=1)


def test_binding_outside_hours_is_deferred_without_a_call(harness: Harness) -> None:
    token = repaired_tokens(harness)["HT-2023-0003"]
    sent = harness.calls_sent()
    harness.clock.now = beijing(2, 6, 30)
    with pytest.raises(OutsideProviderWindow) as closed:
        harness.repair.bind_virtual_number(VirtualBindRequest(MEDIATOR, token))
    assert closed.value.retry_at == beijing(2, 8)
    assert harness.calls_sent() == sent


def test_an_unregistered_caller_is_refused(harness: Harness) -> None:
    token = repaired_tokens(harness)["HT-2023-0001"]
    with pytest.raises(PermanentError):
        harness.repair.bind_virtual_number(VirtualBindRequest("+8613900000042", token))
